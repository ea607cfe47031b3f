"""The local spool against radosgw (issue 12), with `ivcs push`:

1. a run with spool_dir against the real server caches plan.json there;
2. a run whose server cannot be reached (a closed port) records under the
   cached plan: every slice goes to the spool, none is lost, the frames are
   reported held and spooled (exit 1: not uploaded yet);
3. `ivcs spool verify` finds every entry intact;
4. a run against the server again, with the same spool, backfills them:
   every spooled slice lands under its original key with exactly the bytes
   that were spooled (the bucket's ETag is the MD5 of the body), and the
   spool is empty afterwards.
"""

import hashlib
import os
import socket
import struct
import subprocess
from pathlib import Path

import ivcs_testlib as tl
from ivcs_testlib import cfg, put_plan, s3  # noqa: F401

MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", ""))


def push(cfgfile, *args, timeout=300):
    cmd = [os.environ["IVCS_BIN"], "push", "--config", str(cfgfile), *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    res = [l for l in p.stdout.splitlines() if l.startswith("result ")]
    assert res, f"no result line: rc={p.returncode}\n{p.stdout}\n{p.stderr}"
    import json
    return p, json.loads(res[-1][len("result "):])


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def spool_entries(d):
    """{key: (md5 of body, frames)} of the spool's entry files (format of
    engine/spool/spool.h, read independently)."""
    out = {}
    for f in sorted(Path(d).glob("e*.ivs")):
        b = f.read_bytes()
        klen, mlen, blen = struct.unpack_from("<IIQ", b, 32)
        frames = struct.unpack_from("<I", b, 68)[0]
        key = b[80:80 + klen].decode()
        body = b[80 + klen + mlen:]
        assert len(body) == blen
        assert hashlib.md5(body).digest() == b[48:64]
        out[key] = (hashlib.md5(body).hexdigest(), frames)
    return out


def test_outage_at_start_spooled_then_backfilled(cfg, s3, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    dev = tl.device_id("spool-")
    c, good = tl.write_config(tmp_path / "ivcs.json", cfg, device_id=dev,
                              spool_dir=str(spool), spool_max_mb=64)
    put_plan(s3, c, "full_time")
    video = MEDIA / "clip_h264.h264"
    # 1. the server answers: the plan is cached (a short push)
    p, r = push(good, "--video", video, "--fps", 25, "--speed", "max")
    assert p.returncode == 0, p.stdout + p.stderr
    assert r["spool"]["on"] == 1 and r["spool"]["plan_cached"] == 0
    n = r["video_frames_pushed"]
    assert (spool / "plan.cache").exists()
    # 2. unreachable: recorded under the cached plan, everything spooled
    _, down = tl.write_config(tmp_path / "down.json", c,
                              endpoint=f"https://127.0.0.1:{closed_port()}")
    p, r = push(down, "--video", video, "--fps", 25, "--speed", "max", "--wait-plan", 5)
    assert p.returncode == 1, p.stdout + p.stderr  # held frames: not uploaded yet
    assert r["video_frames_pushed"] == n and r["refused"] == 0
    assert r["spool"]["plan_cached"] == 1
    assert r["frames_uploaded"] == 0 and r["frames_dropped"] == 0
    assert r["frames_held"] == r["frames_spooled"] == n
    assert r["slices_spooled"] >= 2
    entries = spool_entries(spool)
    print(f"{n} frames, {len(entries)} slices spooled, {r['spool']['bytes']} bytes")
    assert len(entries) == r["slices_spooled"] == r["spool"]["entries"]
    assert sum(f for _, f in entries.values()) == n
    # 3. support staff's check
    v = subprocess.run([os.environ["IVCS_BIN"], "spool", "verify", str(spool)],
                       capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stdout
    assert f"verify: {len(entries)} entries ok" in v.stdout
    # 4. the server again, same spool: backfilled under the original keys
    p, r = push(good, "--video", video, "--fps", 25, "--speed", "max")
    assert p.returncode == 0, p.stdout + p.stderr
    assert r["spool"]["recovered"] == len(entries)
    assert r["spool"]["backfill_slices"] == len(entries)
    assert r["spool"]["backfill_frames"] == n
    assert r["spool"]["entries"] == 0
    assert not list(spool.glob("e*.ivs"))
    for key, (md5, _) in entries.items():
        h = s3.head_object(Bucket=c["bucket"], Key=key)
        assert h["ETag"].strip('"') == md5, key


def test_sigkill_during_outage_every_spooled_frame_lands(cfg, s3, tmp_path):
    """The pushing process killed (SIGKILL) during an outage, then started
    again with the same spool against the server: every slice that was in
    a complete spool entry at the kill lands, with its bytes, and an
    unfinished write left by the kill is discarded, not uploaded. What a
    kill can lose is what was only in RAM (at most the ring budget per
    channel): test_cloud_spool_outage.py checks that bound."""
    import signal
    import time
    spool = tmp_path / "spool"
    spool.mkdir()
    dev = tl.device_id("spoolkill-")
    c, good = tl.write_config(tmp_path / "ivcs.json", cfg, device_id=dev, spool_dir=str(spool))
    put_plan(s3, c, "full_time")
    video = MEDIA / "clip_h264.h264"
    p, r = push(good, "--video", video, "--fps", 25, "--speed", "max")  # caches the plan
    assert p.returncode == 0, p.stdout + p.stderr
    n = r["video_frames_pushed"]
    _, down = tl.write_config(tmp_path / "down.json", c,
                              endpoint=f"https://127.0.0.1:{closed_port()}")
    cmd = [os.environ["IVCS_BIN"], "push", "--config", str(down), "--video", str(video),
           "--fps", "25", "--speed", "4", "--loop", "10", "--wait-plan", "5"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(spool.glob("e*.ivs"))) < 3:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    entries = spool_entries(spool)  # what was complete at the kill
    assert len(entries) >= 3
    spooled_frames = sum(f for _, f in entries.values())
    assert spooled_frames > 0
    p, r = push(good, "--video", video, "--fps", 25, "--speed", "max")
    assert p.returncode == 0, p.stdout + p.stderr
    assert r["spool"]["recovered"] >= len(entries)
    assert r["spool"]["backfill_slices"] == r["spool"]["recovered"]
    assert r["spool"]["backfill_frames"] >= spooled_frames
    assert r["spool"]["entries"] == 0
    for key, (md5, _) in entries.items():
        h = s3.head_object(Bucket=c["bucket"], Key=key)
        assert h["ETag"].strip('"') == md5, key
    assert n > 0
