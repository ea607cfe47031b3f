"""The epoll fallback end to end against radosgw: every `ivcs` command runs
under tests/seccomp/no_io_uring, which refuses the io_uring_setup system call
with EPERM as Docker's and containerd's default seccomp profiles do.

With io_backend "auto" (the default) `ivcs push` records through iv_cs_* on
epoll with every frame landing (counted by boto3 and ffprobe), and the viewer
commands (plan, s3, ls, events, playlist, export) work; `-v` names the backend
and the reason once. A forced "io_uring" fails with IVCS_ERR_IO_BACKEND's
message naming the cause, never "unsupported codec".

IVCS_IO_BACKEND is removed from the commands' environment here (it would
override the config), so the epoll twin of this test runs the same checks.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg, s3  # noqa: F401

MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", ""))
BIN = os.environ.get("IVCS_BIN", "ivcs")
NO_IO_URING = os.environ.get("IVCS_NO_IO_URING", "")
REFUSED = "io_uring_setup refused (EPERM): blocked by a seccomp profile"


def run(*args, errno=None, env=None, timeout=300):
    """ivcs ARGS under no_io_uring (io_uring_setup -> EPERM, or errno)."""
    assert os.access(NO_IO_URING, os.X_OK), f"IVCS_NO_IO_URING not runnable: {NO_IO_URING!r}"
    e = dict(os.environ)
    e.pop("IVCS_IO_BACKEND", None)
    e.update(env or {})
    pre = [NO_IO_URING] + (["-e", str(errno)] if errno else [])
    return subprocess.run([*pre, BIN, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=e)


def result_line(p):
    res = [l for l in p.stdout.splitlines() if l.startswith("result ")]
    assert res, f"no result line: rc={p.returncode}\n{p.stdout}\n{p.stderr}"
    return json.loads(res[-1][len("result "):])


def test_the_wrapper_really_refuses_io_uring(tmp_path):
    """Without this the other tests could pass on io_uring: a forced
    io_uring under the wrapper must fail, and outside it must work."""
    c, f = tl.write_config(tmp_path / "f.json", tl.load_config(), io_backend="io_uring")
    p = run("s3", "ls", "--prefix", "none/", "--config", f)
    assert p.returncode == 1 and REFUSED in p.stderr, p.stderr
    e = dict(os.environ)
    e.pop("IVCS_IO_BACKEND", None)
    q = subprocess.run([BIN, "s3", "ls", "--prefix", "none/", "--config", str(f)],
                       capture_output=True, text=True, timeout=120, env=e)
    assert q.returncode == 0, q.stderr


@pytest.fixture(scope="module")
def rec(cfg, s3, tmp_path_factory):
    """One recording made under the seccomp filter: plan set by `ivcs plan`,
    pushed by `ivcs -v push` (iv_cs_* on the auto backend)."""
    tmp = tmp_path_factory.mktemp("noiou")
    # no io_backend key: "auto" is the default a firmware gets
    c, f = tl.write_config(tmp / "ivcs.json", cfg, device_id=tl.device_id("noiou-"))
    p = run("plan", "set", "--config", f, "--type", "full_time", "--days", 7)
    assert p.returncode == 0, p.stderr
    p = run("-v", "push", "--config", f, "--video", MEDIA / "clip_h264.h264", "--audio",
            MEDIA / "clip_aac.aac", "--fps", 25, "--speed", "max", "--loop", 2,
            "--event", "1:1:3")
    res = result_line(p)
    yield {"c": c, "f": f, "p": p, "res": res, "tmp": tmp,
           "root": f"{c['prefix']}{c['device_id']}/"}
    run("plan", "set", "--config", f, "--type", "none")


def test_auto_push_records_every_frame_on_epoll(rec, s3):
    p, res, c = rec["p"], rec["res"], rec["c"]
    assert p.returncode == 0, p.stdout + p.stderr
    assert res["io_backend"] == "epoll"
    # -v: the backend and the reason, once
    lines = [l for l in p.stderr.splitlines() if "I/O backend" in l]
    assert len(lines) == 1 and "I/O backend epoll" in lines[0] and REFUSED in lines[0], p.stderr
    assert "unsupported" not in p.stderr
    assert res["refused"] == 0 and res["slices_dropped"] == 0 and res["frames_dropped"] == 0
    assert res["frames_uploaded"] == res["frames_pushed"] > 0
    keys = sorted(o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=c["bucket"], Prefix=rec["root"] + "ch0/rec/") for o in page.get("Contents", []))
    assert len(keys) == res["slices"] > 0
    cat = rec["tmp"] / "all.ts"
    with open(cat, "wb") as out:
        for k in keys:
            out.write(s3.get_object(Bucket=c["bucket"], Key=k)["Body"].read())
    counts = {}
    for sel in ("v:0", "a:0"):
        q = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", sel,
                            "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
                            str(cat)], capture_output=True, text=True, check=True)
        counts[sel] = int(q.stdout.split()[0])
    assert counts["v:0"] == res["video_frames_pushed"]
    assert counts["a:0"] == res["audio_frames_pushed"]


def test_every_viewer_command_works(rec, tmp_path):
    f, root = rec["f"], rec["root"]
    p = run("-v", "s3", "ls", "--prefix", root, "--config", f)
    assert p.returncode == 0, p.stderr
    assert "I/O backend epoll" in p.stderr and REFUSED in p.stderr
    keys = [l.split()[-1] for l in p.stdout.splitlines() if "/rec/" in l]
    assert len(keys) == rec["res"]["slices"]
    p = run("s3", "get", keys[0], "-o", tmp_path / "one.ts", "--config", f)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "one.ts").stat().st_size > 0
    p = run("s3", "head", keys[0], "--config", f)
    assert p.returncode == 0 and "status: 200" in p.stdout, p.stderr
    p = run("plan", "get", "--config", f, "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["plan"]["cs_type"] == "full_time", p.stderr
    p = run("ls", "--config", f, "--json", "--slices")
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)["slice_list"]) == rec["res"]["slices"]
    assert rec["res"]["event_records"] >= 1
    p = run("events", "--config", f, "--json")
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)) == 1
    p = run("playlist", "--config", f, "--from", "2000-01-01", "--to", "2100-01-01", "-o",
            tmp_path / "p.m3u8")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "p.m3u8").read_text().count("#EXTINF") == rec["res"]["slices"]
    p = run("export", "--config", f, "--from", "2000-01-01", "--to", "2100-01-01", "--out",
            tmp_path / "x.ts")
    assert p.returncode == 0, p.stderr
    q = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0",
                        "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
                        str(tmp_path / "x.ts")], capture_output=True, text=True, check=True)
    assert int(q.stdout.split()[0]) == rec["res"]["video_frames_pushed"]


def test_enosys_kernel_falls_back_too(rec):
    """A kernel without io_uring (or qemu-user) answers ENOSYS."""
    p = run("-v", "s3", "ls", "--prefix", rec["root"], "--config", rec["f"], errno=38)
    assert p.returncode == 0, p.stderr
    assert "I/O backend epoll" in p.stderr and "(ENOSYS)" in p.stderr


@pytest.mark.parametrize("how", ["config", "env"])
def test_forced_io_uring_fails_with_the_cause(rec, tmp_path, how):
    c = dict(rec["c"])
    env = None
    if how == "config":
        c, f = tl.write_config(tmp_path / "u.json", c, io_backend="io_uring")
    else:
        f = rec["f"]  # io_backend auto, overridden by the environment
        env = {"IVCS_IO_BACKEND": "io_uring"}
    for args in (["push", "--config", f, "--video", MEDIA / "clip_h264.h264", "--fps", 25],
                 ["push", "--channels", 2, "--config", f, "--video",
                  MEDIA / "clip_h264.h264", "--fps", 25],
                 ["s3", "ls", "--config", f], ["ls", "--config", f],
                 ["plan", "get", "--config", f]):
        p = run(*args, env=env, timeout=120)
        assert p.returncode == 1, (args, p.stdout, p.stderr)
        assert REFUSED in p.stderr and "set io_backend to epoll or auto" in p.stderr, p.stderr
        assert "unsupported" not in p.stderr, p.stderr
        assert "result " not in p.stdout
