"""Events end to end: an event plan, pre-record from the ring, JPEG and the
event record JSON in the bucket, callbacks in the documented order, two
parallel events and a refused duplicate start (iv_cs_* through the Python
bindings' ivcs.seed, in real time because pre-record is measured in
wall-clock time).

With the bindings the callbacks are Python callables recorded as they run
and the counters come from seed.stats(), instead of parsing the "cb ..."
lines and the result JSON that `ivcs push` prints."""

import json
import threading
import time

import pytest

from test_cloud_record import MEDIA, SLICE_RE, cfg, device_config, list_keys, put_plan, s3  # noqa: F401

ivcs = pytest.importorskip("ivcs", reason="the Python bindings (IVCS_PYTHON) are not built")
from ivcs import seed  # noqa: E402
from ivcs.testing import FakeCamera  # noqa: E402


def test_event_plan_prerecord_picture_record_and_callbacks(cfg, s3, tmp_path):  # noqa: F811
    c, cfgfile = device_config(tmp_path, cfg)
    put_plan(s3, c, "event")
    snap = (MEDIA / "snapshot.jpg").read_bytes()
    cbs, lock = [], threading.Lock()

    def rec(*what):
        with lock:
            cbs.append(" ".join(map(str, what)))

    seed.init(cfgfile, budget=8 << 20, on_start=lambda: rec("stream_start"),
              on_stop=lambda: rec("stream_stop"),
              on_picture=lambda eid: rec("capture_picture", eid) or snap,
              on_picture_result=lambda err: rec("picture_result", err))
    try:
        deadline = time.monotonic() + 20
        while seed.get_balance_info().cs_type != "event":
            assert time.monotonic() < deadline, "plan.json not read"
            time.sleep(0.05)
        # 24 s of media in real time; event 1 at 17 s with 10 s of pre-record,
        # event 2 in parallel at 19 s, a second start of event 1 at 18 s.
        cam = FakeCamera(MEDIA / "clip_h264.h264", MEDIA / "clip_aac.aac", fps=25, speed=1.0,
                         loops=2, prerecord=10,
                         events=[(1, 17, 21), (1, 18, 30), (2, 19, 22)]).run(seed)
    finally:
        seed.exit()
    st, eng = seed.stats()
    assert [r for r in cam.event_results if r[0] == "start"] == [
        ("start", 1, 0), ("start", 1, ivcs.ivcs_core.IVCS_ERR_EVENT_ACTIVE), ("start", 2, 0)]
    # an event plan gives no start callback until the first event; the
    # stream stops when the last event stops
    assert cbs[0] == "capture_picture 1"
    assert cbs[1] == "stream_start"
    assert cbs.count("stream_start") == 1 and cbs.count("stream_stop") == 1
    assert cbs.index("capture_picture 2") < cbs.index("stream_stop")
    assert cbs.count("picture_result 0") == 2
    assert not cam.refused and seed.callback_errors == []
    assert st["pictures_uploaded"] == 2 and st["event_records_written"] >= 4
    assert st["prerecord_discarded"] > 0  # the rolling buffer dropped what no event needed

    evt = sorted(list_keys(s3, c["bucket"], f"{c['device_id']}/ch0/evt/"))
    jsons = [k for k in evt if k.endswith(".json")]
    jpgs = [k for k in evt if k.endswith(".jpg")]
    assert len(jsons) == 2 and len(jpgs) == 2, evt
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
    mine = sorted((int(m["start"]), int(m["dur"])) for m in slices
                  if int(m["boot"], 16) == eng["boot"])
    assert mine
    first = mine[0][0]
    assert first <= r1["stream_start_ms"], (first, r1)
    assert first >= r1["stream_start_ms"] - 8000  # not the whole ring
    end = max(s + d for s, d in mine)
    assert end >= recs[2]["event_stop_ms"] - 1500
