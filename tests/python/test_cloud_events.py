"""Events end to end: an event plan, pre-record from the ring, JPEG and the
event record JSON in the bucket, callbacks in the documented order, two
parallel events and a refused duplicate start (iv_cs_* through `ivcs push`,
in real time because pre-record is measured in wall-clock time)."""

import json

from test_cloud_record import (MEDIA, SLICE_RE, cfg, device_config, list_keys, push,  # noqa: F401
                               put_plan, s3)


def test_event_plan_prerecord_picture_record_and_callbacks(cfg, s3, tmp_path):  # noqa: F811
    c, cfgfile = device_config(tmp_path, cfg)
    put_plan(s3, c, "event")
    # 24 s of media in real time; event 1 at 17 s with 10 s of pre-record,
    # event 2 in parallel at 19 s, a second start of event 1 at 18 s.
    p, res, lines = push(cfgfile, "--video", MEDIA / "clip_h264.h264", "--audio",
                         MEDIA / "clip_aac.aac", "--fps", 25, "--realtime", "--loop", 2,
                         "--gop-size", 8 << 20, "--prerecord", 10, "--picture",
                         MEDIA / "snapshot.jpg", "--event", "1:17:21", "--event", "1:18:30",
                         "--event", "2:19:22", timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    starts = [l for l in lines if l.startswith("event_start")]
    assert starts == ["event_start 1 ch0 -> 0", "event_start 1 ch0 -> -658",
                      "event_start 2 ch0 -> 0"], lines
    # an event plan gives no start callback until the first event; the
    # stream stops when the last event stops
    cbs = [l for l in lines if l.startswith("cb ")]
    assert cbs[0] == "cb capture_picture 1"
    assert cbs[1] == "cb stream_start"
    assert cbs.count("cb stream_start") == 1 and cbs.count("cb stream_stop") == 1
    assert cbs.index("cb capture_picture 2") < cbs.index("cb stream_stop")
    assert cbs.count("cb picture_result 0 same") == 2
    assert cbs[-1] == "cb stream_stop" or cbs.index("cb stream_stop") > cbs.index(
        "cb capture_picture 2")
    assert res["refused"] == 0
    assert res["pictures"] == 2 and res["event_records"] >= 4
    assert res["prerecord_discarded"] > 0  # the rolling buffer dropped what no event needed

    evt = sorted(list_keys(s3, c["bucket"], f"{c['device_id']}/ch0/evt/"))
    jsons = [k for k in evt if k.endswith(".json")]
    jpgs = [k for k in evt if k.endswith(".jpg")]
    assert len(jsons) == 2 and len(jpgs) == 2, evt
    snap = (MEDIA / "snapshot.jpg").read_bytes()
    recs = {}
    for k in jsons:
        r = json.loads(s3.get_object(Bucket=c["bucket"], Key=k)["Body"].read())
        assert r["status"] == "closed" and r["event_stop_ms"] >= r["event_start_ms"]
        assert r["channel"] == 0
        assert r["picture"] == k[:-5] + ".jpg"
        assert s3.get_object(Bucket=c["bucket"], Key=r["picture"])["Body"].read() == snap
        assert k.split("/")[-1] == f"{r['event_start_ms']:013d}_{r['event_id']}.json"
        recs[r["event_id"]] = r
    assert set(recs) == {1, 2}
    r1 = recs[1]
    assert r1["event_start_ms"] - r1["stream_start_ms"] == 10000

    # the recording starts at or before the requested pre-record time and
    # covers the events; nothing from long before the window was uploaded
    slices = [SLICE_RE.match(k) for k in list_keys(s3, c["bucket"], f"{c['device_id']}/ch0/rec/")]
    assert slices and all(slices)
    mine = sorted((int(m["start"]), int(m["dur"])) for m in slices if m["boot"] == res["boot"])
    first = mine[0][0]
    assert first <= r1["stream_start_ms"], (first, r1)
    assert first >= r1["stream_start_ms"] - 8000  # not the whole ring
    end = max(s + d for s, d in mine)
    assert end >= recs[2]["event_stop_ms"] - 1500
