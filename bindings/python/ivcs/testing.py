"""ivcs.testing: helpers for pytest suites that drive ivcs (load it with
``pytest -p ivcs.testing`` or ``pytest_plugins = ["ivcs.testing"]``).

Fixtures
  ivcs_cloud   (session) a local S3 server: a private radosgw started with
               the project's scripts/cloud in a temporary folder and stopped
               at the end of the session, even when tests fail. If
               $IVCS_CONFIG names the config of a cloud that is already up
               (the ctest fixture "cloud"), that one is used and left alone.
               Yields a Cloud: .config (ivcs.Config), .s3 (boto3 client,
               TLS verified against the cloud's CA), .device() (a Config
               for a fresh device id), .put_plan(cfg, "full_time").
  ivcs_device  (function) ivcs_cloud.device() with a full-time plan.

FakeCamera(video_file, audio_file, fps, speed=1.0 | "max", loops=N,
           events=[(id, start_s, stop_s)]) splits raw Annex-B H.264/H.265 and
ADTS AAC and pushes them into a Channel (or the seed API) on a thread.

assert_recorded(config, camera, s3=...) joins the device's slices, demuxes
them with ffmpeg and compares per-frame MD5s with the frames pushed.
"""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

import ivcs

__all__ = ["Cloud", "FakeCamera", "assert_recorded", "split_annexb", "split_adts",
           "slice_keys", "start_cloud", "stop_cloud", "s3_client"]


# ---------------------------------------------------------------- cloud

def _cloud_script():
    env = os.environ.get("IVCS_CLOUD_SCRIPT")
    if env:
        return Path(env)
    src = os.environ.get("IVCS_SOURCE_DIR")
    if src:
        return Path(src) / "scripts" / "cloud"
    try:
        from . import _build_info
        return Path(_build_info.SOURCE_DIR) / "scripts" / "cloud"
    except ImportError:
        raise RuntimeError("ivcs.testing: scripts/cloud not found: set IVCS_CLOUD_SCRIPT "
                           "or IVCS_SOURCE_DIR") from None


class Cloud:
    """A running local cloud: .config, .s3, .dir, .owned (we started it)."""

    def __init__(self, config_path, owned, directory):
        self.config_path = Path(config_path)
        self.dir = Path(directory)
        self.owned = owned
        self.config = ivcs.Config.load(self.config_path)
        self.s3 = s3_client(self.config)

    def device(self, prefix="py-", **changes):
        """A Config for a fresh device id (nothing under it yet)."""
        return self.config.replace(device_id=prefix + uuid.uuid4().hex[:12], **changes)

    def put_plan(self, cfg, cs_type="full_time", days=7, switch=1):
        body = {"cs_switch": switch, "cs_type": cs_type, "cs_days": days}
        self.s3.put_object(Bucket=cfg.bucket, Key=f"{cfg.prefix}{cfg.device_id}/plan.json",
                           Body=json.dumps(body).encode())

    def keys(self, cfg, sub=""):
        """Every key under the device (or under device/sub), sorted."""
        out = []
        pre = f"{cfg.prefix}{cfg.device_id}/{sub}"
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=cfg.bucket,
                                                                     Prefix=pre):
            out += [o["Key"] for o in page.get("Contents", [])]
        return sorted(out)


def s3_client(cfg):
    """A boto3 S3 client for a Config: path-style, SigV4, TLS verified
    against cfg.ca_file (verification is never turned off)."""
    import boto3
    from botocore.config import Config as BotoConfig

    if not cfg.verify_tls:
        raise ValueError("ivcs.testing never turns TLS verification off")
    session = boto3.session.Session(aws_access_key_id=cfg.access_key,
                                    aws_secret_access_key=cfg.secret_key,
                                    aws_session_token=cfg.session_token,
                                    region_name=cfg.region)
    return session.client("s3", endpoint_url=cfg.endpoint, verify=cfg.ca_file or True,
                          config=BotoConfig(signature_version="s3v4",
                                            s3={"addressing_style": "path"},
                                            retries={"max_attempts": 2, "mode": "standard"},
                                            connect_timeout=5, read_timeout=60))


def _cloud_env():
    """scripts/cloud's environment: the caller's without LD_PRELOAD (a
    sanitizer runtime preloaded for the extension is not for Ceph, bash or
    curl)."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}


def _running(config_path):
    d = Path(config_path).parent
    r = subprocess.run([str(_cloud_script()), "status", "--dir", str(d)], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL, env=_cloud_env())
    return r.returncode == 0


def start_cloud(directory=None):
    """Start a private cloud (scripts/cloud start --auto-ports) in directory
    (default: a new temporary one). Returns a Cloud; call stop_cloud()."""
    d = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="ivcs-cloud-"))
    r = subprocess.run([str(_cloud_script()), "start", "--dir", str(d), "--auto-ports"],
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                       env=_cloud_env())
    if r.returncode != 0:
        stop_cloud(d, remove=directory is None)
        raise RuntimeError(f"scripts/cloud start failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return Cloud(d / "ivcs.json", True, d)


def stop_cloud(directory, remove=False):
    subprocess.run([str(_cloud_script()), "stop", "--dir", str(directory)], capture_output=True,
                   text=True, timeout=120, stdin=subprocess.DEVNULL, env=_cloud_env())
    if remove:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def ivcs_cloud():
    env = os.environ.get("IVCS_CONFIG")
    if env and Path(env).is_file() and _running(env):
        yield Cloud(env, False, Path(env).parent)
        return
    cloud = start_cloud()
    try:
        yield cloud
    finally:
        stop_cloud(cloud.dir, remove=True)


@pytest.fixture
def ivcs_device(ivcs_cloud):
    cfg = ivcs_cloud.device()
    ivcs_cloud.put_plan(cfg, "full_time")
    return cfg


# ---------------------------------------------------------------- media

def split_annexb(data, codec="h264"):
    """Split an Annex-B stream into access units: [(bytes, is_key)]. An
    access unit starts at an AUD, parameter set or first slice of a picture
    (first_mb / first_slice_segment flag set)."""
    data = bytes(data)
    starts = []  # (start code offset, nal offset)
    i, n = 0, len(data)
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        sc = j - 1 if j > 0 and data[j - 1] == 0 else j
        starts.append((sc, j + 3))
        i = j + 3
    frames, cur, cur_key, has_vcl = [], None, False, False
    for k, (sc, nal) in enumerate(starts):
        if nal >= n:
            break
        if codec == "h264":
            t = data[nal] & 0x1F
            vcl = 1 <= t <= 5
            key = t == 5
            first = vcl and nal + 1 < n and (data[nal + 1] & 0x80) != 0
            new_au = (t in (6, 7, 8, 9) and has_vcl) or (vcl and first and has_vcl)
        else:
            t = (data[nal] >> 1) & 0x3F
            vcl = t < 32
            key = 16 <= t <= 21
            first = vcl and nal + 2 < n and (data[nal + 2] & 0x80) != 0
            new_au = (t in (32, 33, 34, 35, 39) and has_vcl) or (vcl and first and has_vcl)
        if cur is None:
            cur = sc
        elif new_au:
            frames.append((data[cur:sc], cur_key))
            cur, cur_key, has_vcl = sc, False, False
        if vcl:
            has_vcl = True
            cur_key = cur_key or key
    if cur is not None and has_vcl:
        frames.append((data[cur:], cur_key))
    return frames


def split_adts(data):
    """Split an ADTS AAC stream into frames (each with its header)."""
    data, out, i = bytes(data), [], 0
    while i + 7 <= len(data):
        if data[i] != 0xFF or (data[i + 1] & 0xF0) != 0xF0:
            raise ValueError(f"ADTS sync lost at byte {i}")
        ln = ((data[i + 3] & 3) << 11) | (data[i + 4] << 3) | (data[i + 5] >> 5)
        if ln < 7 or i + ln > len(data):
            break
        out.append(data[i:i + ln])
        i += ln
    return out


class FakeCamera:
    """Pushes a raw clip (Annex-B video, optional ADTS AAC audio) into a
    target on a thread: an ivcs.Channel, or the module ivcs.seed.

    speed: 1.0 real time, 2.0 twice as fast, "max" as fast as the engine
    takes frames (waits while a ring is over half full, as `ivcs push`).
    loops: how many times the clip is pushed (PTS keep increasing).
    events: [(event_id, start_s, stop_s)] at media times (seconds from the
    first frame): event_start/event_stop on the target, with prerecord
    seconds of pre-record (event_start(id, 0, prerecord)); results (0 or
    the error code) in .event_results.
    Frames the engine refuses are counted by error name in .refused; the
    pushed ones are in .pushed_video / .pushed_audio as (pts_ms, bytes)."""

    def __init__(self, video_file, audio_file=None, fps=25, speed=1.0, loops=1, events=(),
                 codec="h264", target=None, audio_frame_ms=1024 * 1000 / 48000, prerecord=0):
        self.video = split_annexb(Path(video_file).read_bytes(), codec)
        self.audio = split_adts(Path(audio_file).read_bytes()) if audio_file else []
        self.fps = fps
        self.speed = speed
        self.loops = loops
        self.events = list(events)
        self.audio_frame_ms = audio_frame_ms
        self.target = target
        self.codec = codec
        self.prerecord = prerecord
        self.event_results = []  # (start|stop, id, 0 or the error code), in order
        self.pushed_video = []
        self.pushed_audio = []
        self.refused = {}
        self.errors = []
        self._stop = threading.Event()
        self._thread = None

    def start(self, target=None):
        if target is not None:
            self.target = target
        if self.target is None:
            raise ValueError("FakeCamera: no target (a Channel or ivcs.seed)")
        self._thread = threading.Thread(target=self._run, name="FakeCamera", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout=None):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("FakeCamera still pushing")
        if self.errors:
            raise self.errors[0]
        return self

    def stop(self):
        self._stop.set()

    def run(self, target=None):
        """Push everything on the calling thread."""
        if target is not None:
            self.target = target
        self._run()
        if self.errors:
            raise self.errors[0]
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self._thread.join(60)
        return False

    def _push(self, fn, data, pts, **kw):
        try:
            fn(data, pts, **kw)
            return True
        except ivcs.Error as e:
            self.refused[e.name] = self.refused.get(e.name, 0) + 1
            return False

    def _event(self, what, fn, eid, pre):
        try:
            if pre:
                fn(eid, 0, pre)
            else:
                fn(eid)
            self.event_results.append((what, eid, 0))
        except ivcs.Error as e:
            self.event_results.append((what, eid, e.code))

    def _run(self):
        try:
            t0 = time.monotonic()
            base = int(time.time() * 1000)
            frame_ms = 1000.0 / self.fps
            clip_ms = len(self.video) * frame_ms
            timeline = []  # (media_ms, order, kind, payload)
            for loop in range(self.loops):
                off = loop * clip_ms
                for k, (f, key) in enumerate(self.video):
                    timeline.append((off + k * frame_ms, 1, "v", (f, key)))
                for k, f in enumerate(self.audio):
                    ms = k * self.audio_frame_ms
                    if ms < clip_ms:
                        timeline.append((off + ms, 2, "a", f))
            for eid, start_s, stop_s in self.events:
                timeline.append((start_s * 1000.0, 0, "es", eid))
                timeline.append((stop_s * 1000.0, 0, "ee", eid))
            timeline.sort(key=lambda x: (x[0], x[1]))
            tgt = self.target
            stats = tgt.stats if isinstance(tgt, ivcs.Channel) else (lambda: tgt.stats()[0])
            for ms, _, kind, payload in timeline:
                if self._stop.is_set():
                    break
                if self.speed != "max":
                    delay = t0 + ms / 1000.0 / float(self.speed) - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                elif kind in ("v", "a"):
                    # as `ivcs push --speed max`: wait (at most 2 s a frame)
                    # while a ring is over half full, so nothing is lost
                    w0 = time.monotonic()
                    while time.monotonic() - w0 < 2.0:
                        st = stats()
                        if st["video_ring_fill_pct"] < 50 and st["audio_ring_fill_pct"] < 50:
                            break
                        time.sleep(0.002)
                pts = base + int(ms)
                if kind == "v":
                    f, key = payload
                    if self._push(tgt.push_video, f, pts, key=key):
                        self.pushed_video.append((pts, f))
                elif kind == "a":
                    if self._push(tgt.push_audio, payload, pts):
                        self.pushed_audio.append((pts, payload))
                elif kind == "es":
                    self._event("start", tgt.event_start, payload, self.prerecord)
                else:
                    self._event("stop", tgt.event_stop, payload, 0)
        except BaseException as e:  # noqa: B902 - handed to join()
            self.errors.append(e)


# ---------------------------------------------------------------- checks

def _framemd5(path, sel, codec=None, fmt=None):
    """Per-packet MD5s of one stream (ffmpeg framemd5, stream copy), AUDs
    removed from video (the TS muxer adds one to H.264 frames without)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin"]
    if fmt:
        cmd += ["-f", fmt]
    cmd += ["-i", str(path), "-map", f"0:{sel}", "-c", "copy"]
    if sel == "v":
        cmd += ["-bsf:v", f"filter_units=remove_types={35 if codec == 'h265' else 9}"]
    cmd += ["-f", "framemd5", "-"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"ffmpeg could not read {path}: {r.stderr[-2000:]}")
    # stream, dts, pts, duration, size, hash
    return [ln.split(",")[5].strip() for ln in r.stdout.splitlines()
            if ln and not ln.startswith("#")]


def slice_keys(config, s3, channel=0):
    """The device's slice keys of a channel, in time order."""
    cfg = config
    pre = f"{cfg.prefix}{cfg.device_id}/ch{channel}/rec/"
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=cfg.bucket, Prefix=pre):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".ts")]
    keys.sort(key=lambda k: k.rsplit("/", 1)[1])
    return keys


def assert_recorded(config, pushed=None, *, s3, channel=0, video=None, audio=None,
                    codec="h264"):
    """Assert that the bucket holds exactly the frames pushed, in order: the
    device's slices of the channel are joined and demuxed, and their
    per-packet MD5s (ffmpeg framemd5) must equal those of the pushed frames.
    pushed: a FakeCamera (its codec is used), or give video/audio as lists
    of frames (bytes, or (pts, bytes)). Returns the slice keys."""
    if pushed is not None:
        video, audio, codec = pushed.pushed_video, pushed.pushed_audio, pushed.codec
    frames_v = [f if isinstance(f, (bytes, bytearray, memoryview)) else f[1] for f in video or []]
    frames_a = [f if isinstance(f, (bytes, bytearray, memoryview)) else f[1] for f in audio or []]
    keys = slice_keys(config, s3, channel)
    assert keys, f"no slices under {config.device_id}/ch{channel}/rec/"
    with tempfile.TemporaryDirectory() as d:
        ts = Path(d) / "all.ts"
        with open(ts, "wb") as out:
            for k in keys:
                out.write(s3.get_object(Bucket=config.bucket, Key=k)["Body"].read())
        want_v = got_v = want_a = got_a = []
        if frames_v:
            raw = Path(d) / "pushed.video"
            raw.write_bytes(b"".join(frames_v))
            want_v = _framemd5(raw, "v", codec, fmt="hevc" if codec == "h265" else "h264")
            got_v = _framemd5(ts, "v", codec)
        if frames_a:
            raw = Path(d) / "pushed.aac"
            raw.write_bytes(b"".join(frames_a))
            want_a = _framemd5(raw, "a", fmt="aac")
            got_a = _framemd5(ts, "a")
        else:
            got_a = _framemd5(ts, "a?")
    assert len(want_v) == len(frames_v), "ffmpeg did not split the pushed video frame by frame"
    assert len(got_v) == len(want_v), f"video frames: {len(got_v)} recorded, {len(want_v)} pushed"
    assert got_v == want_v, "recorded video frames differ from those pushed"
    assert len(got_a) == len(want_a), f"audio frames: {len(got_a)} recorded, {len(want_a)} pushed"
    assert got_a == want_a, "recorded audio frames differ from those pushed"
    return keys
