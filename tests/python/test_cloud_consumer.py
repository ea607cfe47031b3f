"""A program outside the tree lists a recording through the installed
ivcs_viewer.h (issue 10): the build is installed into a temporary prefix,
tests/consumer/viewer_consumer.c is compiled against it with pkg-config
(public headers only, libivcs.so from the prefix), and its listing of a
recording put in the real radosgw is compared with what boto3 put there.

The recording: `ivcs mux` cuts the test clip into slices for two boots
(the second starting where the first ends), uploaded under a fresh device,
plus one event record."""

import json
import os
import re
import shlex
import subprocess
import uuid
from pathlib import Path

import ivcs_testlib as tl
from ivcs_testlib import cfg, s3  # noqa: F401

BIN = os.environ.get("IVCS_BIN", "ivcs")
BUILD = Path(os.environ.get("IVCS_BUILD_DIR", "build"))
SRC = Path(os.environ.get("IVCS_SOURCE_DIR", "."))
MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", ""))
T0 = 1764115190000  # 2025-11-26T00:00:00Z - 10 s: the recording crosses a UTC day
SLICE_RE = re.compile(r"^(?P<start>\d{13})_(?P<dur>\d+)_(?P<boot>[0-9a-f]{8})_(?P<seq>\d+)"
                      r"(?P<kp>[kp])\.ts$")


def day(ms):
    import time
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


def sanitizer_flags():
    cache = (BUILD / "CMakeCache.txt").read_text()
    return ["-fsanitize=address,undefined"] if re.search(r"^IVCS_ASAN:BOOL=ON$", cache, re.M) else []


def test_installed_viewer_lists_a_recording(cfg, s3, tmp_path):  # noqa: F811
    prefix = tmp_path / "prefix"
    p = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert (prefix / "include/ivcs/ivcs_viewer.h").is_file()
    pcdir = next(prefix.rglob("pkgconfig/ivcs.pc")).parent
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcdir))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "ivcs"], capture_output=True,
                           text=True, env=env, timeout=60, check=True).stdout.split()
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "ivcs"], capture_output=True,
                            text=True, env=env, timeout=60, check=True).stdout.strip()
    exe = tmp_path / "viewer_consumer"
    cc = os.environ.get("CC", "cc")
    p = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", *sanitizer_flags(), "-o",
                        str(exe), str(SRC / "tests/consumer/viewer_consumer.c"), *flags,
                        f"-Wl,-rpath,{libdir}"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    # only the installed library: not the build tree's
    ldd = subprocess.run(["ldd", str(exe)], capture_output=True, text=True, timeout=60).stdout
    assert f"{libdir}/libivcs.so" in ldd, ldd

    dev = "consumer-" + uuid.uuid4().hex[:12]
    c, cfgfile = tl.write_config(tmp_path / "cfg.json", cfg, device_id=dev)
    root = f"{c['prefix']}{dev}/"
    want = []
    start = T0
    for boot in ("c0000001", "c0000002"):
        out = tmp_path / boot
        out.mkdir()
        p = subprocess.run([BIN, "mux", "--video", str(MEDIA / "clip_h264.h264"), "--fps", "25",
                            "--out", str(out), "--start-ms", str(start), "--boot", boot,
                            "--quiet"], capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        for f in sorted(out.iterdir()):
            m = SLICE_RE.match(f.name)
            assert m, f.name
            key = f"{root}ch0/rec/{day(int(m['start']))}/{f.name}"
            body = f.read_bytes()
            s3.put_object(Bucket=c["bucket"], Key=key, Body=body)
            want.append((key, len(body), int(m["start"]), int(m["dur"]), boot, int(m["seq"]),
                         m["kp"]))
            start = max(start, int(m["start"]) + int(m["dur"]))
    want.sort(key=lambda w: w[2])
    est = T0 + 2000
    ekey = f"{root}ch0/evt/{day(est)}/{est:013d}_3.json"
    rec = {"event_id": 3, "info": "door", "channel": 0, "event_start_ms": est,
           "event_stop_ms": est + 1000, "stream_start_ms": T0, "stream_stop_ms": est + 1000,
           "picture": None, "status": "closed"}
    s3.put_object(Bucket=c["bucket"], Key=ekey, Body=json.dumps(rec).encode())

    p = subprocess.run([str(exe), str(cfgfile), str(T0), str(start)], capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, LD_LIBRARY_PATH=""))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    got = [ln.split()[1:] for ln in lines if ln.startswith("slice ")]
    assert [(g[0], int(g[1]), int(g[2]), int(g[3]), g[4], int(g[5]), g[6]) for g in got] == want
    assert len(want) >= 4
    ranges = [ln.split()[1:] for ln in lines if ln.startswith("range ")]
    # two boots back to back: one range of every slice, two boots in it
    assert ranges == [[str(want[0][2]), str(start), str(len(want)), "2"]], ranges
    events = [ln.split()[1:] for ln in lines if ln.startswith("event ")]
    assert events == [[ekey, "3", str(est), str(est + 1000)]], events
    assert lines[-1] == f"done {len(want)}", shlex.join(lines[-3:])
