"""An outage where the server does not answer at all (a relay in front of
radosgw that accepts connections and never replies: ivcs_testlib.Gate
blackhole), with a spool (issue 12): once a PUT has failed, the following
slices go straight to the spool instead of each waiting its own reply
timeout; one probe (a slice's PUT, or a backfill PUT) at most every
0.5 s, 1 s, 2 s ... slice_ms tests the server. When it answers again,
everything is backfilled and every frame lands.

Before: every slice waited reply_timeout_ms (2 s here) before it could be
spooled, so in 8 s the camera (pushing ~4 Mbit/s as fast as the 512 KiB ring
allows) got ~4 slices out, one per attempt."""

import time

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg, put_plan, s3  # noqa: F401

ivcs = pytest.importorskip("ivcs", reason="the Python bindings (IVCS_PYTHON) are not built")
from ivcs.testing import split_annexb  # noqa: E402
from test_cloud_spool_outage import BUDGET, FRAME_MS, MEDIA, Camera  # noqa: E402


def test_silent_server_slices_spooled_without_a_timeout_each(cfg, s3, tmp_path):  # noqa: F811
    clip = split_annexb((MEDIA / "clip_h264.h264").read_bytes())
    spool = tmp_path / "spool"
    spool.mkdir()
    with tl.Gate(*tl.endpoint_host_port(cfg)) as gate:
        gate.blackhole = True
        c, f = tl.write_config(tmp_path / "ivcs.json", cfg, device_id=tl.device_id("probe-"),
                               endpoint=gate.endpoint, spool_dir=str(spool))
        put_plan(s3, c, "full_time")
        eng = ivcs.Engine(f, plan="full_time", reply_timeout_ms=2000, upload_timeout_ms=5000,
                          check_exit=False)
        try:
            ch = eng.channel(video="h264", audio="pcm", sample_rate=0, budget=BUDGET,
                             fps=1000 // FRAME_MS)
            cam = Camera(ch, clip, int(time.time() * 1000))
            t0 = time.monotonic()
            while time.monotonic() - t0 < 8:
                cam.push_loop()
            st = ch.stats()
            attempts = gate.accepted
            print(f"8 s silent: {st['slices_spooled']} slices spooled, {attempts} connections "
                  f"(PUT attempts), {cam.pushed} frames pushed")
            assert st["slices_spooled"] >= 30, st
            assert attempts <= st["slices_spooled"] // 4, (attempts, st)
            # the server answers again: a probe finds it, the backlog lands
            gate.blackhole = False
            gate.up = True
            deadline = time.monotonic() + 60
            while eng.stats()["spool_entries"]:
                assert time.monotonic() < deadline, eng.stats()
                cam.push_loop(time.monotonic(), cam.pts(cam.loops, 0))
        finally:
            eng.close()
    st = eng.final_stats
    chs = st["channels"][0]
    assert chs["frames_uploaded"] == chs["video_frames_pushed"] == cam.pushed, chs
    assert chs["frames_dropped"] == 0 and chs["frames_held"] == 0, chs
    assert st["backfill_slices"] == chs["slices_spooled"], st
