"""A long outage against radosgw with a spool (issue 12), through the Python
bindings so the test paces the pushes and sees every notification.

The server is out of reach for IVCS_SPOOL_OUTAGE_S seconds of recording time
(default 600: ten minutes) while a camera records ~4 Mbit/s with a 512 KiB
ring budget (u32MaxGopSize) and a spool: the outage is a TCP relay in front
of the real radosgw that resets every connection (ivcs_testlib.Gate), pushed
faster than real time (waiting while the ring is over half full, as
`ivcs push --speed max`). Then the relay lets requests through to radosgw
and the camera goes on in real time while the spool is backfilled.

The content is the 25 fps test clip re-timed at 100 fps (a frame every
10 ms), ~4.2 Mbit/s, repeated.

Checked:
- every frame lands exactly once: the per-frame hashes demuxed by ffmpeg
  from the bucket's slices (listed and fetched with boto3, in key order)
  equal the input's, in order, nothing missing, nothing twice; the slices'
  sequence numbers have no gap; nothing dropped; the spool ends empty;
- live slices closed during the backfill land within their usual latency:
  each one's time from close (its last frame pushed) to its 2xx
  (SLICE_UPLOADED) is below slice_ms, i.e. before the next slice of a
  normal recording would close; the measured numbers are printed
  (docs/PERF.md section 9).

The ASan phase of scripts/test sets a shorter IVCS_SPOOL_OUTAGE_S.

A second test kills the pushing process (SIGKILL) during such an outage and
starts an engine on the same spool against radosgw: every frame of every
complete spool entry lands, and what is lost is only what was still in RAM
at the kill - a suffix of the pushed frames whose bytes fit in the ring
budget, and no more frames than the last stats said were held but not
spooled plus those pushed since (docs/ARCHITECTURE.md section 11).
"""

import mmap
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg, put_plan, s3  # noqa: F401
from test_cloud_record import SLICE_RE, framemd5, list_keys

ivcs = pytest.importorskip("ivcs", reason="the Python bindings (IVCS_PYTHON) are not built")
from ivcs.testing import split_annexb  # noqa: E402

MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", ""))
OUTAGE_S = float(os.environ.get("IVCS_SPOOL_OUTAGE_S", "600"))
FRAME_MS = 10  # the 25 fps clip at 100 fps: ~4.2 Mbit/s
BUDGET = 512 << 10
AUD = "filter_units=remove_types=9"  # the muxer adds an AUD to H.264 frames without


class Camera:
    """Pushes the clip, loop after loop, into one channel; records the wall
    time of every push (by PTS)."""

    def __init__(self, ch, clip, base):
        self.ch, self.clip, self.base = ch, clip, base
        self.loops = 0
        self.pushed = 0
        self.wall = {}  # pts -> time.monotonic() of its push

    def pts(self, loop, i):
        return self.base + (loop * len(self.clip) + i) * FRAME_MS

    def wait_room(self):
        """As fast as the engine takes frames: wait while the ring is half
        full and closed slices are still queued (being uploaded or
        spooled). An open slice alone may fill half the ring (a 'p' slice
        that continues a GOP cut mid-way grows until a key frame past a
        quarter of the ring): the engine cannot cut it without the next
        frames, so then push on (up to 75 %)."""
        w0 = time.monotonic()
        while True:
            st = self.ch.stats()
            fill = st["video_ring_fill_pct"]
            if fill < 50 or (fill < 75 and st["slices_queued"] == 0):
                return
            assert time.monotonic() - w0 < 30, f"the ring did not drain in 30 s: {st}"
            time.sleep(0.002)

    def push_loop(self, pace_t0=None, pace_pts0=None):
        """One loop of the clip: as fast as the ring takes it (pace_t0 None),
        or in real time from (pace_t0, pace_pts0). Either way a frame waits
        while the ring is busy (wait_room), as a firmware with an encoder
        queue would: on a loaded 2-core machine the engine thread can stall
        for longer than the 512 KiB ring lasts at 4 Mbit/s (~1 s)."""
        for i, (data, key) in enumerate(self.clip):
            pts = self.pts(self.loops, i)
            if pace_t0 is not None:
                d = pace_t0 + (pts - pace_pts0) / 1000.0 - time.monotonic()
                if d > 0:
                    time.sleep(d)
            self.wait_room()
            self.ch.push_video(data, pts, key=key)  # raises if refused
            self.wall[pts] = time.monotonic()
            self.pushed += 1
        self.loops += 1


def test_ten_minute_outage_every_frame_lands_once_live_first(cfg, s3, tmp_path):  # noqa: F811
    clip = split_annexb((MEDIA / "clip_h264.h264").read_bytes())
    clip_ms = len(clip) * FRAME_MS
    outage_loops = max(1, round(OUTAGE_S * 1000 / clip_ms))
    spool = tmp_path / "spool"
    spool.mkdir()
    notes, lock = [], threading.Lock()

    def on_notify(n):
        with lock:
            notes.append((time.monotonic(), n))

    t_start = time.monotonic()
    with tl.Gate(*tl.endpoint_host_port(cfg)) as gate:
        c, cfgfile = tl.write_config(tmp_path / "ivcs.json", cfg, device_id=tl.device_id("outage-"),
                                     endpoint=gate.endpoint, spool_dir=str(spool),
                                     spool_max_mb=1024)
        put_plan(s3, c, "full_time")  # straight to radosgw; the engine reads it later
        eng = ivcs.Engine(cfgfile, plan="full_time", check_exit=False)
        try:
            ch = eng.channel(video="h264", audio="pcm", sample_rate=0, budget=BUDGET,
                             fps=1000 // FRAME_MS,
                             on_notify=on_notify)
            cam = Camera(ch, clip, int(time.time() * 1000))
            # 1. the outage: OUTAGE_S of recording, faster than real time
            for _ in range(outage_loops):
                cam.push_loop()
            deadline = time.monotonic() + 60
            while eng.stats()["channels"][0]["frames_spooled"] < cam.pushed - 200:
                assert time.monotonic() < deadline, eng.stats()
                time.sleep(0.05)
            t_outage = time.monotonic() - t_start
            st = eng.stats()
            assert gate.refused > 0 and st["channels"][0]["frames_uploaded"] == 0, st
            spooled_entries = st["spool_entries"]
            spooled_bytes = st["spool_bytes"]
            # 2. the server is back: real time while the spool drains, then 2 s more
            gate.up = True
            t_up = time.monotonic()
            t_backfilled = None
            pts0 = cam.pts(cam.loops, 0)
            while True:
                cam.push_loop(t_up, pts0)
                st = eng.stats()
                if t_backfilled is None and st["spool_entries"] == 0:
                    t_backfilled = time.monotonic()
                if t_backfilled is not None and time.monotonic() - t_backfilled >= 2:
                    break
                assert time.monotonic() - t_up < 240, st
        finally:
            eng.close()
    t_end = time.monotonic()
    st = eng.final_stats
    chs = st["channels"][0]
    print(f"outage: {outage_loops * clip_ms / 1000:.0f} s recorded in {t_outage:.1f} s wall, "
          f"{spooled_entries} entries, {spooled_bytes / 1e6:.1f} MB spooled; "
          f"backfill: {t_backfilled - t_up:.1f} s; total {t_end - t_start:.1f} s")

    # accounting: everything uploaded, nothing dropped or still held
    assert exit_code_ok(eng), eng.exit_code
    assert chs["video_frames_pushed"] == cam.pushed
    assert chs["frames_uploaded"] == cam.pushed, chs
    assert chs["frames_dropped"] == 0 and chs["frames_held"] == 0, chs
    assert st["spool_entries"] == 0 and st["spool_evicted"] == 0, st
    assert st["spool_discarded_corrupt"] == 0, st
    assert st["backfill_slices"] == chs["slices_spooled"] >= spooled_entries, (st, chs)
    assert st["backfill_frames"] >= outage_loops * len(clip) - 200, st
    assert not list(spool.glob("e*"))

    # live slices during the backfill: close -> 2xx below slice_ms
    by_kind = {}
    for t, n in notes:
        by_kind.setdefault(n.kind, []).append((t, n))
    spooled_keys = {n.key for _, n in by_kind.get("slice_spooled", [])}
    assert len(spooled_keys) == chs["slices_spooled"]
    utc0 = min(n.start_ms for _, n in by_kind["slice_uploaded"])
    live, after = [], []
    for t, n in by_kind["slice_uploaded"]:
        if n.key in spooled_keys:
            continue
        last_pts = cam.base + (n.start_ms - utc0) + n.dur_ms - FRAME_MS
        closed = cam.wall[last_pts]
        if closed < t_up:
            continue
        (live if closed < t_backfilled else after).append(t - closed)
    assert live, "no live slice was closed during the backfill"
    live.sort()
    after.sort()
    print(f"live slices during backfill: {len(live)}, close->2xx median "
          f"{live[len(live) // 2] * 1000:.0f} ms, max {live[-1] * 1000:.0f} ms; after: "
          f"{len(after)}, median {after[len(after) // 2] * 1000 if after else 0:.0f} ms")
    assert live[-1] < c["slice_ms"] / 1000.0, live[-1]

    # every frame exactly once: what the bucket holds, in key order, is the input
    ms = slice_keys(s3, c)
    assert [int(m["seq"]) for m in ms] == list(range(len(ms)))
    assert len(ms) == chs["slices_uploaded"], (len(ms), chs)

    def get(m):
        return s3.get_object(Bucket=c["bucket"], Key=c["prefix"] + m.group(0))["Body"].read()

    cat = tmp_path / "all.ts"
    with open(cat, "wb") as f, ThreadPoolExecutor(4) as ex:
        for body in ex.map(get, ms):
            f.write(body)
    want = framemd5(MEDIA / "clip_h264.h264", "v", AUD)
    assert len(want) == len(clip)
    got = framemd5(cat, "v", AUD)
    assert len(got) == cam.pushed == len(want) * cam.loops
    assert got == want * cam.loops


def exit_code_ok(eng):
    return eng.exit_code == 0


def slice_keys(s3, c):
    """The slices of c's device (key matches), in time order; one boot."""
    prefix = f"{c['prefix']}{c['device_id']}/ch0/rec/"
    keys = list_keys(s3, c["bucket"], prefix)
    ms = [SLICE_RE.match(k[len(c["prefix"]):]) for k in keys]
    assert ms and all(ms), keys
    ms.sort(key=lambda m: (int(m["start"]), int(m["seq"])))
    assert len({m["boot"] for m in ms}) == 1
    return ms


# ---------------------------------------------------------------- SIGKILL

# The child's progress, in a shared file mapping that survives its kill:
# frames it has started to push (an upper bound on those pushed), and its
# last stats snapshot: frames started then, and frames held but not spooled.
PROGRESS = struct.Struct("<QQQ")


def child(cfgfile, progress_path):
    """The camera process of the SIGKILL test: records with the spool while
    the server is unreachable, until it is killed."""
    clip = split_annexb((MEDIA / "clip_h264.h264").read_bytes())
    with open(progress_path, "r+b") as f:
        mm = mmap.mmap(f.fileno(), PROGRESS.size)
    eng = ivcs.Engine(cfgfile, plan="full_time", check_exit=False)
    ch = eng.channel(video="h264", audio="pcm", sample_rate=0, budget=BUDGET,
                     fps=1000 // FRAME_MS)
    cam = Camera(ch, clip, int(time.time() * 1000))
    started = snap_started = snap_ram = 0
    for loop in range(1000):
        for i, (data, key) in enumerate(clip):
            if started % 8 == 0:
                st = ch.stats()
                snap_started, snap_ram = started, st["frames_held"] - st["frames_spooled"]
            cam.wait_room()
            started += 1
            PROGRESS.pack_into(mm, 0, started, snap_started, snap_ram)
            ch.push_video(data, cam.pts(loop, i), key=key)
    eng.close()


def test_sigkill_during_outage_loses_at_most_the_ring(cfg, s3, tmp_path):  # noqa: F811
    from test_cloud_spool import spool_entries

    clip = split_annexb((MEDIA / "clip_h264.h264").read_bytes())
    spool = tmp_path / "spool"
    spool.mkdir()
    progress = tmp_path / "progress"
    progress.write_bytes(bytes(PROGRESS.size))
    with tl.Gate(*tl.endpoint_host_port(cfg)) as gate:
        c, down = tl.write_config(tmp_path / "down.json", cfg, device_id=tl.device_id("kill-"),
                                  endpoint=gate.endpoint, spool_dir=str(spool))
        proc = subprocess.Popen([sys.executable, __file__, "child", str(down), str(progress)],
                                stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            want = random.randint(20, 60)
            while len(list(spool.glob("e*.ivs"))) < want:
                assert proc.poll() is None, proc.returncode
                assert time.monotonic() < deadline, "the child spooled nothing in 60 s"
                time.sleep(0.01)
            time.sleep(random.random() * 0.2)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert gate.refused > 0
    started, snap_started, snap_ram = PROGRESS.unpack(progress.read_bytes())
    entries = spool_entries(spool)  # complete at the kill
    unfinished = len(list(spool.glob("e*.tmp")))  # a write the kill cut short
    assert unfinished <= 1  # one write at a time per channel
    on_disk = sum(f for _, f in entries.values())
    assert entries and 0 < on_disk <= started
    print(f"killed after {started} frames, {len(entries)} complete entries ({on_disk} frames), "
          f"last stats: {snap_ram} frames in RAM after {snap_started}")

    # the same spool, the server reachable: backfill, no new frame pushed
    _, up = tl.write_config(tmp_path / "up.json", c, endpoint=cfg["endpoint"])
    eng = ivcs.Engine(up, plan="full_time")
    try:
        eng.channel(video="h264", audio="pcm", sample_rate=0, budget=BUDGET, fps=1000 // FRAME_MS)
        deadline = time.monotonic() + 120
        while eng.stats()["spool_entries"]:
            assert time.monotonic() < deadline, eng.stats()
            time.sleep(0.05)
    finally:
        eng.close()
    st = eng.final_stats
    assert st["spool_recovered"] == len(entries) == st["backfill_slices"], st
    assert st["backfill_frames"] == on_disk, st
    assert st["spool_discarded_corrupt"] == unfinished and st["spool_evicted"] == 0, st

    # every complete entry landed with its bytes
    for key, (md5, _) in entries.items():
        assert s3.head_object(Bucket=c["bucket"], Key=key)["ETag"].strip('"') == md5, key
    # and nothing else: the bucket holds the first `on_disk` frames pushed, in order, once
    ms = slice_keys(s3, c)
    assert {c["prefix"] + m.group(0) for m in ms} == set(entries)
    assert [int(m["seq"]) for m in ms] == list(range(len(ms)))
    cat = tmp_path / "all.ts"
    with open(cat, "wb") as f:
        for m in ms:
            f.write(s3.get_object(Bucket=c["bucket"], Key=c["prefix"] + m.group(0))["Body"].read())
    want = framemd5(MEDIA / "clip_h264.h264", "v", AUD)
    got = framemd5(cat, "v", AUD)
    loops = started // len(want) + 1
    assert got == (want * loops)[:on_disk]
    # the bound: what was lost was in RAM - the frames after the last one
    # spooled, whose bytes fit in the ring budget, and no more than the last
    # stats said were held but not spooled plus the frames pushed since
    lost = started - on_disk
    pushed = clip * loops
    lost_bytes = sum(len(pushed[k][0]) for k in range(on_disk, started))
    print(f"lost at the kill: {lost} frames, {lost_bytes} bytes (budget {BUDGET})")
    assert lost_bytes <= BUDGET
    assert lost <= snap_ram + (started - snap_started)


if __name__ == "__main__" and sys.argv[1:2] == ["child"]:
    child(sys.argv[2], sys.argv[3])
