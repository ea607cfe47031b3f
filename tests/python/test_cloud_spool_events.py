"""Event records and event pictures go through the spool like slices
(issue 12), against radosgw through the Python bindings.

While a relay in front of radosgw resets every connection, or holds it
unanswered (ivcs_testlib.Gate), a camera records with an event and its JPEG: the
picture's PUT fails, so it is written to the spool (the firmware gets its
buffer back with 0: stored), and the record's final version (closed, naming
the picture) is spooled too. That engine is closed during the outage. A new
engine on the same spool, with the server reachable, backfills everything
under the original keys: the JPEG's bytes and the closed record are in the
bucket, and the slices too. Before event spooling, the record and the
picture were lost with the first engine (8 attempts from RAM only). The
engine thread does not spin while such a PUT is under way."""

import json
import struct
import time
from pathlib import Path

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg, put_plan, s3  # noqa: F401

ivcs = pytest.importorskip("ivcs", reason="the Python bindings (IVCS_PYTHON) are not built")
from ivcs.testing import split_annexb  # noqa: E402
from test_cloud_spool import MEDIA  # noqa: E402

KIND_SLICE, KIND_EVENT, KIND_PICTURE = 1, 2, 3


def spool_files(d):
    """[(kind, key, body)] of the spool's complete entries (format of
    engine/spool/spool.h: kind at byte 14, lengths at 32, key at 80)."""
    out = []
    for f in sorted(Path(d).glob("e*.ivs")):
        b = f.read_bytes()
        klen, mlen, blen = struct.unpack_from("<IIQ", b, 32)
        key = b[80:80 + klen].decode()
        out.append((b[14], key, b[80 + klen + mlen:]))
    return out


@pytest.mark.parametrize("outage", ["reset", "blackhole"])
def test_event_record_and_picture_spooled_then_backfilled(cfg, s3, tmp_path, outage):  # noqa: F811
    snap = (MEDIA / "snapshot.jpg").read_bytes()
    clip = split_annexb((MEDIA / "clip_h264.h264").read_bytes())
    spool = tmp_path / "spool"
    spool.mkdir()
    results = []
    with tl.Gate(*tl.endpoint_host_port(cfg)) as gate:
        gate.blackhole = outage == "blackhole"
        c, down = tl.write_config(tmp_path / "down.json", cfg, device_id=tl.device_id("spoolev-"),
                                  endpoint=gate.endpoint, spool_dir=str(spool))
        eng = ivcs.Engine(down, plan="full_time", check_exit=False, reply_timeout_ms=1000,
                          upload_timeout_ms=1000)
        t0 = time.monotonic()
        try:
            ch = eng.channel(video="h264", audio="pcm", sample_rate=0, budget=4 << 20,
                             on_picture=lambda eid: snap,
                             on_picture_result=lambda err: results.append(err))
            base = int(time.time() * 1000)
            for i, (data, key) in enumerate(clip[:100]):
                if i == 10:
                    ch.event_start(1)
                if i == 80:
                    ch.event_stop(1)
                ch.push_video(data, base + i * 40, key=key)
                time.sleep(0.004)
            deadline = time.monotonic() + 30
            while True:
                kinds = [k for k, _, _ in spool_files(spool)]
                if KIND_EVENT in kinds and KIND_PICTURE in kinds:
                    break
                assert time.monotonic() < deadline, f"not spooled in 30 s: kinds {kinds}"
                time.sleep(0.05)
            assert results == [0]  # the JPEG is stored: the firmware has it back
            # the engine thread waited for those PUTs and writes, it did not
            # spin: at most a wake-up per 10 ms tick-equivalent (it spun
            # through every event PUT while a retry time was past)
            it, dt = eng.stats()["loop_iterations"], time.monotonic() - t0
            assert it < 200 + 100 * dt, (it, dt)
        finally:
            eng.close()
        assert gate.accepted > 0
    first = eng.final_stats
    assert first["channels"][0]["frames_uploaded"] == 0
    entries = spool_files(spool)
    events = [(k, b) for kind, k, b in entries if kind == KIND_EVENT]
    pics = [(k, b) for kind, k, b in entries if kind == KIND_PICTURE]
    slices = [k for kind, k, _ in entries if kind == KIND_SLICE]
    assert len(events) == 1 and len(pics) == 1 and slices
    ev_key, ev_body = events[0]
    pic_key, pic_body = pics[0]
    rec = json.loads(ev_body)
    # the final version: closed, naming the picture
    assert rec["status"] == "closed" and rec["picture"] == pic_key, rec
    assert pic_body == snap

    # the server again, same spool: everything lands under its key
    _, up = tl.write_config(tmp_path / "up.json", c, endpoint=cfg["endpoint"])
    eng = ivcs.Engine(up, plan="full_time")
    try:
        eng.channel(video="h264", audio="pcm", sample_rate=0, budget=4 << 20)
        deadline = time.monotonic() + 60
        while eng.stats()["spool_entries"]:
            assert time.monotonic() < deadline, eng.stats()
            time.sleep(0.05)
    finally:
        eng.close()
    st = eng.final_stats
    assert st["backfill_events"] == 1 and st["backfill_pictures"] == 1, st
    assert st["backfill_slices"] == len(slices), st
    got = json.loads(s3.get_object(Bucket=c["bucket"], Key=ev_key)["Body"].read())
    assert got == rec
    assert s3.get_object(Bucket=c["bucket"], Key=pic_key)["Body"].read() == snap
    assert s3.head_object(Bucket=c["bucket"], Key=pic_key)["ContentType"] == "image/jpeg"
    assert s3.head_object(Bucket=c["bucket"], Key=ev_key)["ContentType"] == "application/json"
    for k in slices:
        s3.head_object(Bucket=c["bucket"], Key=k)
    assert not list(spool.glob("e*"))
