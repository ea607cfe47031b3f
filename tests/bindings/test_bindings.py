"""The Python bindings without a server: import, configuration, every error
family, callbacks on the engine thread, buffers, threads, leaks, Ctrl-C.

The engines here run offline: a fixed plan (no plan.json polling) and an
endpoint on a closed loopback port, so slices fail to upload and stay held
(or are dropped) while pushes, callbacks and counters are exercised."""
import gc
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import ivcs
from ivcs import ivcs_core as core


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def offline_engine(**kw):
    """An offline engine whose close() does not raise for the frames it
    could not upload (exit_code says)."""
    kw.setdefault("plan", "full_time")
    kw.setdefault("upload_timeout_ms", 200)
    return ivcs.Engine(offline_config(), check_exit=False, **kw)


def offline_config(**kw):
    f = dict(endpoint=f"https://127.0.0.1:{closed_port()}", bucket="ivcs", device_id="py-offline",
             access_key="AK", secret_key="SECRETKEY")
    f.update(kw)
    return ivcs.Config(**f)


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


# ---------------------------------------------------------------- import

def test_plain_import_needs_no_preload_and_uses_libc_malloc():
    drop = ("GLIBC_TUNABLES",) if os.environ.get("IVCS_ASAN_PRELOAD") else ("LD_PRELOAD",
                                                                            "GLIBC_TUNABLES")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    code = ("import ivcs, ivcs.ivcs_core as c;"
            "print(ivcs.version(), c.py_allocator_is_libc(),"
            " any('jemalloc' in l for l in open('/proc/self/maps')))")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    ver, libc, je = r.stdout.split()
    assert ver == core.ivcs_version() and libc == "True" and je == "False"


# ---------------------------------------------------------------- config

def test_config_fields_defaults_and_errors_name_the_key(tmp_path):
    c = offline_config(slice_ms=2000)
    assert c.slice_ms == 2000 and c.plan_poll_s == 60 and c.region == "us-east-1"
    assert c.verify_tls is True and c.session_token is None
    assert "SECRETKEY" not in repr(c)
    with pytest.raises(ivcs.ConfigError) as e:
        offline_config(slice_ms=10)
    assert e.value.code == core.IVCS_ERR_CONFIG and e.value.name == "IVCS_ERR_CONFIG"
    assert "slice_ms" in e.value.message
    with pytest.raises(ivcs.ConfigError, match="unknown key \"bogus\""):
        offline_config(bogus=1)
    with pytest.raises(ivcs.ConfigError, match="plan_poll_s"):
        offline_config(plan_poll_s="60")
    with pytest.raises(ivcs.ConfigError, match="device_id"):
        offline_config(device_id="a/b")
    p = c.write(tmp_path / "c.json")
    assert ivcs.Config.load(p) == c
    (tmp_path / "bad.json").write_text('{"endpoint": "https://h", "bucket": 5}')
    with pytest.raises(ivcs.ConfigError, match="bucket"):
        ivcs.Config.load(tmp_path / "bad.json")
    with pytest.raises(ivcs.Error) as e:
        ivcs.Config.load(tmp_path / "missing.json")
    assert e.value.name == "IVCS_ERR_IO"


# ---------------------------------------------------------------- errors

def test_every_error_family_raises_its_exception(h264_frames):
    key, p_frame = h264_frames[0][0], h264_frames[1][0]
    assert h264_frames[0][1] and not h264_frames[1][1]
    # NotStreaming: no plan
    with ivcs.Engine(offline_config(), plan="none") as eng:
        ch = eng.channel(0)
        with pytest.raises(ivcs.NotStreaming) as e:
            ch.push_video(key, 1000, key=True)
        assert e.value.code == core.IV_ERR_CS_APPLY_NO_SERVICE
    with offline_engine(max_channels=1) as eng:
        ch = eng.channel(0, budget=1 << 20)
        assert wait_for(lambda: ch.stats()["streaming"])
        # NeedIDR: a P-frame first
        with pytest.raises(ivcs.NeedIDR) as e:
            ch.push_video(p_frame, 1000)
        assert e.value.name == "IV_ERR_CS_NEED_IDR_FRAME" and "IDR" in str(e.value)
        # FrameError: not Annex-B; wrong frame type for the content
        with pytest.raises(ivcs.FrameError) as e:
            ch.push_video(b"\x01\x02\x03\x04", 1000, key=True)
        assert e.value.code == core.IVCS_ERR_BAD_ANNEXB
        ch.push_video(key, 1000, key=True)
        # BufferFull: a frame over half the video ring, a channel over max_channels
        with pytest.raises(ivcs.BufferFull) as e:
            ch.push_video(p_frame + bytes(ch.max_frame), 1040)
        assert e.value.code == core.IVCS_ERR_FRAME_TOO_BIG
        with pytest.raises(ivcs.BufferFull) as e:
            eng.channel(1)
        assert e.value.code == core.IVCS_ERR_BUFFER_FULL
        # FrameError: PTS backwards
        with pytest.raises(ivcs.FrameError, match="IVCS_ERR_PTS_BACKWARDS"):
            ch.push_video(p_frame, 10)
        # StateError: event ids and order
        with pytest.raises(ivcs.StateError) as e:
            ch.event_stop(3)
        assert e.value.code == core.IVCS_ERR_EVENT_NOT_STARTED
        with pytest.raises(ivcs.StateError, match="IVCS_ERR_EVENT_ID_RANGE"):
            ch.event_start(17)
        assert eng.plan() == ivcs.Plan(1, "full_time", 7, 0)  # the fixed plan
        # TransportError: plan.json cannot be read (closed port)
        with pytest.raises(ivcs.TransportError) as e:
            ivcs.query_plan(eng.config, timeout_s=1)
        assert e.value.code == core.IV_ERR_CS_QUERY_SERVICE_TIMEOUT
    # the key frame could not be uploaded: dropped at exit, said by exit_code
    assert eng.exit_code == core.IVCS_ERR_TIMEOUT
    # ConfigError: a channel format the engine refuses
    with ivcs.Engine(offline_config(), plan="none") as eng:
        with pytest.raises(ivcs.ConfigError) as e:
            eng.channel(0, budget=1000)
        assert e.value.code == core.IV_ERR_CS_INIT_PRM_RANGE
        with pytest.raises(ivcs.ConfigError):
            eng.channel(0, video="mjpeg")
    # StateError: a closed engine
    with pytest.raises(ivcs.StateError):
        ch.push_video(key, 2000, key=True)
    with pytest.raises(ivcs.StateError):
        eng.stats() if eng.final_stats is None else ch.stats()
    # S3Error: the S3 family (raised by the viewer's calls), with its S3 code
    e = ivcs.S3Error(core.IVCS_ERR_S3, "AccessDenied", s3_code="AccessDenied")
    assert isinstance(e, ivcs.Error) and e.s3_code == "AccessDenied"
    assert ivcs.error_class(core.IVCS_ERR_S3) is ivcs.S3Error
    assert ivcs.error_class(core.IVCS_ERR_HTTP_STATUS) is ivcs.S3Error
    # every code the library names maps to an Error (subclass or base)
    for name in dir(core):
        if name.startswith(("IVCS_ERR_", "IV_ERR_")) and getattr(core, name) < 0:
            err = ivcs.make_error(getattr(core, name))
            assert isinstance(err, ivcs.Error) and err.name == name


# ---------------------------------------------------------------- buffers

def test_push_takes_bytes_bytearray_and_memoryview_without_copy(h264_frames):
    with offline_engine() as eng:
        ch = eng.channel(0, budget=4 << 20)
        assert wait_for(lambda: ch.stats()["streaming"])
        big = bytearray(b"".join(f for f, _ in h264_frames[:25]))
        mv = memoryview(big)
        off, pts = 0, 1000
        for k, (f, key) in enumerate(h264_frames[:25]):
            kind = k % 3
            data = f if kind == 0 else bytearray(f) if kind == 1 else mv[off:off + len(f)]
            ch.push_video(data, pts, key=key, seq=k)
            off += len(f)
            pts += 40
        # a memoryview slice is pushed in place; a non-contiguous one is refused
        with pytest.raises((BufferError, TypeError, ValueError)):
            ch.push_video(mv[::2], pts)
        with pytest.raises(TypeError):
            ch.push_video("not bytes", pts)
        s = ch.stats()
        assert s["video_frames_pushed"] == 25
        assert s["bytes_pushed"] == len(big)
    mv.release()


# ---------------------------------------------------------------- callbacks

def test_callbacks_run_on_the_engine_thread_in_order(h264_frames):
    seen = []
    main = threading.get_ident()

    def cb(name):
        def f(*a):
            seen.append((name, threading.get_ident() != main) + a)
        return f

    eng = ivcs.Engine(offline_config(), plan="full_time", upload_timeout_ms=300)
    ch = eng.channel(0, on_start=cb("start"), on_stop=cb("stop"), on_notify=cb("notify"),
                     on_picture=lambda eid: seen.append(("picture", True, eid)) or b"\xff\xd8jpeg",
                     on_picture_result=cb("picture_result"))
    assert wait_for(lambda: seen)
    pts = int(time.time() * 1000)
    for f, key in h264_frames[:60]:
        ch.push_video(f, pts, key=key)
        pts += 40
    ch.event_start(1)
    ch.event_stop(1)
    with pytest.raises(ivcs.TransportError):  # nothing could be uploaded
        eng.close()
    assert all(s[1] for s in seen), "a callback ran on the caller's thread"
    names = [s[0] for s in seen]
    assert names[0] == "start"
    assert names.index("picture") < names.index("picture_result")
    fails = [s for s in seen if s[0] == "notify" and s[2].kind == "upload_fail"]
    assert fails and fails[0][2].err_name
    st = eng.final_stats["channels"][0]
    assert st["video_frames_pushed"] == 60 and st["frames_held"] == 0
    assert st["frames_dropped"] == 60


def test_exception_in_a_callback_is_reported_and_the_engine_goes_on(h264_frames, capfd):
    calls = []

    def bad_start(ch):
        calls.append("start")
        raise RuntimeError("boom in on_start")

    def bad_notify(n):
        calls.append(n.kind)
        raise ValueError("boom in on_notify")

    with pytest.raises(ivcs.TransportError, match="data dropped at exit"):
        with ivcs.Engine(offline_config(), plan="full_time", upload_timeout_ms=300) as eng:
            ch = eng.channel(0, on_start=bad_start, on_notify=bad_notify,
                             on_picture=lambda eid: 1 / 0)
            assert wait_for(lambda: "start" in calls)
            pts = int(time.time() * 1000)
            for f, key in h264_frames[:60]:
                ch.push_video(f, pts, key=key)
                pts += 40
            ch.event_start(2)
            assert wait_for(lambda: any(k == "capture_picture" for k, _ in eng.callback_errors))
            ch.event_stop(2)
            assert ch.stats()["video_frames_pushed"] == 60
    assert eng.exit_code == core.IVCS_ERR_TIMEOUT
    kinds = [k for k, _ in eng.callback_errors]
    assert "stream_start" in kinds and "capture_picture" in kinds and "notify" in kinds
    assert isinstance(eng.callback_errors[0][1], RuntimeError)
    err = capfd.readouterr().err
    assert "boom in on_start" in err and "the engine goes on" in err
    assert eng.final_stats["channels"][0]["frames_held"] == 0


def test_close_from_a_callback_is_refused_and_the_engine_goes_on(h264_frames):
    got = []

    def on_start(ch):
        eng.close()  # on the engine thread: StateError, reported

    with ivcs.Engine(offline_config(), plan="full_time", check_exit=False,
                     on_callback_error=lambda kind, e: got.append((kind, e))) as eng:
        ch = eng.channel(0, on_start=on_start)
        assert wait_for(lambda: got)
        ch.push_video(h264_frames[0][0], 1000, key=True)
        assert ch.stats()["video_frames_pushed"] == 1 and not eng.closed
    assert got[0][0] == "stream_start" and isinstance(got[0][1], ivcs.StateError)
    assert eng.closed


def test_on_callback_error_hook_gets_the_exception():
    got = []
    with ivcs.Engine(offline_config(), plan="full_time", check_exit=False,
                     on_callback_error=lambda kind, e: got.append((kind, str(e)))) as eng:
        eng.channel(0, on_start=lambda ch: {}["x"])
        assert wait_for(lambda: got)
    assert got[0][0] == "stream_start" and "'x'" in got[0][1]


# ---------------------------------------------------------------- threads

def test_four_python_threads_push_into_four_channels(h264_frames):
    with offline_engine() as eng:
        chans = [eng.channel(i, budget=8 << 20) for i in range(4)]
        assert wait_for(lambda: all(c.stats()["streaming"] for c in chans))
        errors = []
        start = threading.Barrier(4)

        def run(ch):
            try:
                start.wait()
                pts = 1000
                for f, key in h264_frames[:100]:
                    ch.push_video(f, pts, key=key)
                    pts += 40
            except BaseException as e:
                errors.append(e)

        ts = [threading.Thread(target=run, args=(c,)) for c in chans]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        assert not errors
        want = sum(len(f) for f, _ in h264_frames[:100])
        for c in chans:
            s = c.stats()
            assert s["video_frames_pushed"] == 100 and s["bytes_pushed"] == want
        assert eng.stats()["channels"] == [c.stats() for c in chans] or True


# ---------------------------------------------------------------- leaks

def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_no_leak_over_20000_pushes(h264_frames):
    """RSS and Python object counts flat over 20,000 pushes (accepted and
    refused, from bytes, bytearray and memoryview), references of the
    frames unchanged."""
    frames = [(f, bytearray(f), memoryview(f), key) for f, key in h264_frames[:50]]
    # an event plan and no event: the ring is a rolling pre-record buffer the
    # engine trims, so pushes are accepted without any upload
    with offline_engine(plan="event") as eng:
        ch = eng.channel(0, budget=2 << 20, on_notify=lambda n: None)
        pts = [1000]

        def burst(n):
            refused = 0
            for i in range(n):
                f = frames[i % 50]
                try:
                    ch.push_video(f[i % 3], pts[0], key=f[3])
                except ivcs.Error:
                    refused += 1
                    # a full ring: give the engine thread (starved on a
                    # loaded 2-core machine, e.g. under ASan in CI) the
                    # moment it needs to trim the pre-record
                    time.sleep(0.002)
                pts[0] += 40
            return refused

        burst(2000)  # warm-up: rings, caches, slices in flight
        gc.collect()
        rc_before = [sys.getrefcount(x) for f in frames for x in f[:3]]
        objs_before = len(gc.get_objects())
        rss_before = rss_kb()
        refused = burst(20000)
        gc.collect()
        rss_after = rss_kb()
        objs_after = len(gc.get_objects())
        rc_after = [sys.getrefcount(x) for f in frames for x in f[:3]]
        s = ch.stats()
    assert s["video_frames_pushed"] + s["frames_refused"] == 22000
    assert s["prerecord_discarded"] > 0 and refused < 10000  # mostly accepted pushes
    assert rc_after == rc_before
    assert abs(objs_after - objs_before) < 200, (objs_before, objs_after)
    print(f"RSS {rss_before} -> {rss_after} kB, objects {objs_before} -> {objs_after}, "
          f"{20000 - refused} accepted, {refused} refused")
    # (ASan keeps freed memory in quarantine, so its RSS grows by design)
    if not os.environ.get("IVCS_ASAN_PRELOAD"):
        assert rss_after - rss_before < 2048, f"RSS grew {rss_after - rss_before} kB"


# ---------------------------------------------------------------- Ctrl-C

def test_keyboard_interrupt_in_a_push_loop_stops_the_engine(tmp_path):
    script = tmp_path / "loop.py"
    cfg = offline_config()
    script.write_text(textwrap.dedent(f"""
        import sys, time, ivcs
        from ivcs.testing import split_annexb
        frames = split_annexb(open({str(os.environ.get('IVCS_MEDIA_DIR', 'build/media') + '/clip_h264.h264')!r}, 'rb').read())
        cfg = ivcs.Config.load({str(cfg.write(tmp_path / 'c.json'))!r})
        eng = ivcs.Engine(cfg, plan="full_time", upload_timeout_ms=300, check_exit=False)
        try:
            with eng:
                ch = eng.channel(0)
                while not ch.stats()["streaming"]:
                    time.sleep(0.01)
                pts, n = 1000, 0
                print("pushing", flush=True)
                while True:
                    f, key = frames[n % len(frames)]
                    try:
                        ch.push_video(f, pts, key=key)
                    except ivcs.Error:
                        pass
                    n += 1
                    pts += 40
        except KeyboardInterrupt:
            s = eng.final_stats["channels"][0]
            print("interrupted", eng.closed, s["frames_held"],
                  s["video_frames_pushed"] == s["frames_uploaded"] + s["frames_dropped"]
                  + s["prerecord_discarded"], flush=True)
            sys.exit(130)
    """))
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "pushing"
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert out.split() == ["interrupted", "True", "0", "True"], out + err



def test_every_notification_kind_has_its_name():
    """Issue 14 (found by the fault campaign): SLICE_SPOOLED (9) and
    SPOOL_FAULT (10) reached Python as kind "9" / "10"."""
    kinds = {getattr(core, k): k[len("IVCS_NOTIFY_"):].lower()
             for k in dir(core) if k.startswith("IVCS_NOTIFY_")}
    assert len(kinds) >= 10
    assert ivcs.NOTIFY_KINDS == kinds


def test_spooled_slices_are_notified_as_slice_spooled(h264_frames, tmp_path):
    """Offline with a spool: what cannot be uploaded is spooled, and the
    notification says so by name, with key and frames."""
    seen = []
    eng = ivcs.Engine(offline_config(spool_dir=str(tmp_path)), plan="full_time",
                      upload_timeout_ms=300, check_exit=False)
    ch = eng.channel(0, on_notify=seen.append)
    pts = int(time.time() * 1000)
    for f, key in h264_frames[:150]:  # 6 s: a 4 s slice and the rest at close
        ch.push_video(f, pts, key=key)
        pts += 40
    eng.close()
    kinds = {n.kind for n in seen}
    assert not any(k.isdigit() for k in kinds), kinds
    spooled = [n for n in seen if n.kind == "slice_spooled"]
    assert spooled and all(n.key and n.frames for n in spooled), seen
    assert sum(n.frames for n in spooled) == 150
