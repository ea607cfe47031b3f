"""ivcs from Python: the recording engine, the seed API (ivcs.seed) and
test helpers (ivcs.testing, a pytest plugin: ``pytest -p ivcs.testing``).

    import ivcs
    cfg = ivcs.Config.load("ivcs.json")            # or ivcs.Config(endpoint=..., ...)
    with ivcs.Engine(cfg) as eng:                   # stopped and flushed on exit
        ch = eng.channel(0, video="h264", audio="aac", budget=4 << 20,
                         on_notify=print)
        ch.push_video(frame, pts_ms, key=True)      # bytes, bytearray, memoryview
        print(eng.stats())

Every error code of the C API is raised as ivcs.Error (.code, .name,
.message) or one of its subclasses (BufferFull, NeedIDR, NotStreaming,
ConfigError, S3Error, FrameError, TransportError, StateError).

Callbacks run on the engine thread with the GIL held. An exception in one
is reported (Engine(on_callback_error=...), else printed to stderr as an
unraisable exception) and recorded in Engine.callback_errors; the engine
carries on. A callback must not call Engine.close() / stop().
"""

import atexit
import dataclasses
import json as _json
import os
import sys
import threading
import traceback
import weakref

from . import ivcs_core as _core
from ._ivcs_core import py_push as _push

__all__ = ["Error", "BufferFull", "NeedIDR", "NotStreaming", "ConfigError", "S3Error",
           "FrameError", "TransportError", "StateError", "Config", "Engine", "Channel",
           "Notification", "Plan", "query_plan", "version", "strerror", "error_name", "raise_for"]

# ---------------------------------------------------------------- errors


class Error(Exception):
    """An ivcs error code: .code (negative int), .name ("IVCS_ERR_..."),
    .message (the C library's message, plus detail when there is some)."""

    def __init__(self, code, message=None):
        self.code = int(code)
        self.name = _core.ivcs_strerror_name(self.code)
        base = _core.ivcs_strerror(self.code)
        self.message = f"{base}: {message}" if message else base
        super().__init__(f"{self.name} ({self.code}): {self.message}")


class BufferFull(Error):
    """The ring has no room (IVCS_ERR_BUFFER_FULL) or the frame can never fit
    (IVCS_ERR_FRAME_TOO_BIG)."""


class NeedIDR(Error):
    """A P-frame where a key frame is needed (IV_ERR_CS_NEED_IDR_FRAME)."""


class NotStreaming(Error):
    """No plan in force: the engine takes no frames (IV_ERR_CS_APPLY_NO_SERVICE,
    IV_ERR_CS_NO_BALANCE)."""


class ConfigError(Error):
    """A configuration or parameter refused (IVCS_ERR_CONFIG,
    IV_ERR_CS_INIT_PRM_*, IV_ERR_CS_INIT_CB_NULL); the message names the key."""


class S3Error(Error):
    """The object store answered with an error (IVCS_ERR_S3,
    IVCS_ERR_HTTP_STATUS, IVCS_ERR_NOT_FOUND); .s3_code is the S3 error code
    (e.g. "NoSuchBucket") when known, else None."""

    def __init__(self, code, message=None, s3_code=None):
        super().__init__(code, message)
        self.s3_code = s3_code


class FrameError(Error):
    """A frame refused for its content (Annex-B, ADTS, B-frame, PTS, ...)."""


class TransportError(Error):
    """Connection, DNS, TLS, timeout or HTTP framing failure."""


class StateError(Error):
    """The call does not fit the object's state (IVCS_ERR_STATE, events)."""


_FAMILIES = {}
for _cls, _names in (
        (BufferFull, ("IVCS_ERR_BUFFER_FULL", "IVCS_ERR_FRAME_TOO_BIG")),
        (NeedIDR, ("IV_ERR_CS_NEED_IDR_FRAME",)),
        (NotStreaming, ("IV_ERR_CS_APPLY_NO_SERVICE", "IV_ERR_CS_NO_BALANCE")),
        (ConfigError, ("IVCS_ERR_CONFIG", "IV_ERR_CS_INIT_PRM_NULL", "IV_ERR_CS_INIT_CB_NULL",
                       "IV_ERR_CS_INIT_PRM_RANGE", "IVCS_ERR_INVALID_ARG")),
        (S3Error, ("IVCS_ERR_S3", "IVCS_ERR_HTTP_STATUS", "IVCS_ERR_NOT_FOUND")),
        (FrameError, ("IVCS_ERR_BAD_ANNEXB", "IVCS_ERR_B_FRAME", "IVCS_ERR_CODEC_MISMATCH",
                      "IVCS_ERR_BAD_ADTS", "IVCS_ERR_PTS_BACKWARDS", "IVCS_ERR_BAD_SPS",
                      "IVCS_ERR_FRAME_TYPE", "IVCS_ERR_NO_PARAMS", "IVCS_ERR_EMPTY_FRAME",
                      "IVCS_ERR_AUDIO_FRAME_SIZE", "IVCS_ERR_UNSUPPORTED")),
        (TransportError, ("IVCS_ERR_CONNECT", "IVCS_ERR_RESOLVE", "IVCS_ERR_TLS",
                          "IVCS_ERR_TLS_VERIFY", "IVCS_ERR_TIMEOUT", "IVCS_ERR_HTTP_PARSE",
                          "IVCS_ERR_CLOSED", "IV_ERR_CS_QUERY_SERVICE_TIMEOUT",
                          "IV_ERR_SYS_COMMUNICATE_FAIL", "IV_ERR_SYS_COMMUNICATE_TIMEOUT")),
        (StateError, ("IVCS_ERR_STATE", "IV_ERR_CS_INIT_REPEAT", "IVCS_ERR_EVENT_ACTIVE",
                      "IVCS_ERR_EVENT_NOT_STARTED", "IVCS_ERR_EVENT_ID_RANGE",
                      "IVCS_ERR_EVENT_TIME_MIX", "IV_ERR_CS_EVENT_IS_VALID"))):
    for _n in _names:
        _FAMILIES[getattr(_core, _n)] = _cls


def error_class(code):
    """The exception class of an error code."""
    return _FAMILIES.get(int(code), Error)


def make_error(code, message=None):
    """The exception for an error code (an instance, not raised)."""
    return error_class(code)(code, message)


def raise_for(code, message=None):
    """Raise the exception of a non-zero code; 0 returns None."""
    if code:
        raise make_error(code, message)


def strerror(code):
    return _core.ivcs_strerror(int(code))


def error_name(code):
    return _core.ivcs_strerror_name(int(code))


def version():
    """The version of the C library in the extension."""
    return _core.ivcs_version()


# ---------------------------------------------------------------- config

CONFIG_KEYS = ("endpoint", "region", "bucket", "prefix", "device_id", "access_key",
               "secret_key", "session_token", "ca_file", "verify_tls", "virtual_host",
               "plan_poll_s", "slice_ms")


class Config:
    """The JSON configuration (README "Configuration"), checked by the C
    parser: unknown keys, wrong types and bad values raise ConfigError whose
    message names the key. Fields read as attributes (cfg.bucket) and as
    to_dict(); the secret never appears in repr()."""

    __slots__ = ("_given", "_fields")

    def __init__(self, **fields):
        self._init(dict(fields))

    def _init(self, given):
        try:
            text = _json.dumps(given)
        except (TypeError, ValueError) as e:
            raise ConfigError(_core.IVCS_ERR_CONFIG, f"not JSON: {e}") from None
        rc, msg, full = _core.py_config(text.encode(), None)
        if rc:
            raise make_error(rc, msg)
        object.__setattr__(self, "_given", given)
        object.__setattr__(self, "_fields", full)

    @classmethod
    def load(cls, path):
        """Read a JSON configuration file (ivcs_config_load)."""
        rc, msg, full = _core.py_config(None, os.fspath(path))
        if rc:
            raise make_error(rc, f"{os.fspath(path)}: {msg}" if msg else os.fspath(path))
        with open(path, encoding="utf-8") as f:
            given = _json.load(f)
        self = cls.__new__(cls)
        self._init(given)
        return self

    def replace(self, **changes):
        """A copy with some fields changed (validated again)."""
        d = dict(self._given)
        d.update(changes)
        return Config(**d)

    def to_dict(self):
        """Every key with its value (defaults filled in)."""
        return dict(self._fields)

    def to_json(self):
        """The configuration as given, as JSON (what the engine parses)."""
        return _json.dumps(self._given)

    def write(self, path):
        """Write to_dict() as a JSON file (for the ivcs CLI); returns path."""
        with open(path, "w", encoding="utf-8") as f:
            _json.dump(self.to_dict(), f)
        return path

    def __getattr__(self, name):
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("Config is immutable: use replace()")

    def __eq__(self, other):
        return isinstance(other, Config) and self._fields == other._fields

    def __repr__(self):
        f = self._fields
        return (f"Config(endpoint={f['endpoint']!r}, bucket={f['bucket']!r}, "
                f"prefix={f['prefix']!r}, device_id={f['device_id']!r})")


def _as_config(config):
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return Config(**config)
    if isinstance(config, (str, os.PathLike)):
        return Config.load(config)
    raise TypeError("config: an ivcs.Config, a dict or a path")


# ---------------------------------------------------------------- plans

_PLAN_TYPES = {"none": 0, "full_time": 1, "event": 2, "free_trial": 3}
_PLAN_NAMES = {v: k for k, v in _PLAN_TYPES.items()}


@dataclasses.dataclass(frozen=True)
class Plan:
    """iv_cs_balance_info_s: cs_type is "none", "full_time", "event" or
    "free_trial"."""
    cs_switch: int = 1
    cs_type: str = "full_time"
    cs_days: int = 7
    free_trial_remaining_sec: int = 0

    def _tuple(self):
        if self.cs_type not in _PLAN_TYPES:
            raise ConfigError(_core.IVCS_ERR_INVALID_ARG, f"cs_type: {self.cs_type!r}")
        return (int(self.cs_switch), _PLAN_TYPES[self.cs_type], int(self.cs_days),
                int(self.free_trial_remaining_sec))

    @classmethod
    def _from(cls, t):
        sw, ty, days, trial = t
        return cls(sw, _PLAN_NAMES.get(ty, str(ty)), days, trial)


def _plan_arg(plan):
    if plan is None:
        return None
    if isinstance(plan, str):
        plan = Plan(cs_switch=0 if plan == "none" else 1, cs_type=plan)
    if not isinstance(plan, Plan):
        raise TypeError("plan: None, a Plan or a plan type name")
    return plan._tuple()


def query_plan(config, timeout_s=5):
    """Read {device}/plan.json now, without an engine
    (ivcs_query_balance_info): a Plan; no plan.json is Plan "none" with
    cs_switch 0; TransportError when it cannot be read within timeout_s."""
    cfg = _as_config(config)
    rc, t = _core.py_query_plan(cfg.to_json().encode(), int(timeout_s))
    raise_for(rc)
    return Plan._from(t)


# ---------------------------------------------------------------- formats

_VIDEO = {"h264": _core.IV_CM_VENC_TYPE_H264, "h265": _core.IV_CM_VENC_TYPE_H265}
_AUDIO = {"aac": _core.IV_CM_AENC_TYPE_AAC, "g711a": _core.IV_CM_AENC_TYPE_G711A,
          "alaw": _core.IV_CM_AENC_TYPE_G711A, "g711u": _core.IV_CM_AENC_TYPE_G711U,
          "ulaw": _core.IV_CM_AENC_TYPE_G711U, "pcm": _core.IV_CM_AENC_TYPE_PCM}


def _av_tuple(video, audio, width, height, fps, sample_rate, audio_channels, samples_per_frame):
    if video not in _VIDEO:
        raise ConfigError(_core.IV_ERR_CS_INIT_PRM_RANGE, f"video: {video!r} (h264 or h265)")
    if audio not in _AUDIO:
        raise ConfigError(_core.IV_ERR_CS_INIT_PRM_RANGE,
                          f"audio: {audio!r} (aac, g711a, g711u or pcm)")
    if audio_channels not in (1, 2):
        raise ConfigError(_core.IV_ERR_CS_INIT_PRM_RANGE, "audio_channels: 1 or 2")
    return (_VIDEO[video], int(width), int(height), int(fps), _AUDIO[audio],
            _core.IV_CM_AAC_TYPE_LC, _core.IV_CM_AENC_MODE_STEREO if audio_channels == 2
            else _core.IV_CM_AENC_MODE_MONO, _core.IV_CM_AENC_BIT_WIDTH_16, int(sample_rate),
            int(samples_per_frame))


# ---------------------------------------------------------------- callbacks

NOTIFY_KINDS = {1: "slice_uploaded", 2: "slice_dropped", 3: "upload_fail", 4: "upload_recover",
                5: "buffer_high", 6: "buffer_low", 7: "paused", 8: "event_written",
                9: "slice_spooled", 10: "spool_fault"}


@dataclasses.dataclass(frozen=True)
class Notification:
    """ivcs_notify_s. kind: "slice_uploaded", "slice_dropped", "upload_fail",
    "upload_recover", "buffer_high", "buffer_low", "paused", "event_written",
    "slice_spooled", "spool_fault" (value: 1 full, 2 read-only, 3 I/O error,
    4 missing)."""
    channel: int
    kind: str
    err: int
    key: object
    start_ms: int
    dur_ms: int
    frames: int
    bytes: int
    value: int

    @property
    def err_name(self):
        return _core.ivcs_strerror_name(self.err) if self.err else None


class _Dispatch:
    """What the C trampolines call (on the engine thread, GIL held): routes
    to the user's callables and keeps exceptions away from the engine."""

    def __init__(self, owner, handlers):
        self._owner = weakref.ref(owner)
        self._h = handlers

    def __call__(self, kind, ch, *args):
        owner = self._owner()
        if owner is not None:
            owner._engine_thread = threading.get_ident()
        try:
            if kind == "notify":
                fn = self._h.get("on_notify")
                if fn is not None:
                    k = args[0]
                    fn(Notification(ch, NOTIFY_KINDS.get(k[0], str(k[0])), *k[1:]))
                return 0
            if kind == "stream_start":
                fn = self._h.get("on_start")
                return _ret(fn(ch)) if fn else 0
            if kind == "stream_stop":
                fn = self._h.get("on_stop")
                return _ret(fn(ch)) if fn else 0
            if kind == "capture_picture":
                fn = self._h.get("on_picture")
                pic = fn(args[0]) if fn else None
                return None if pic is None else bytes(pic)
            if kind == "picture_result":
                fn = self._h.get("on_picture_result")
                return _ret(fn(args[0])) if fn else 0
        except Exception as e:  # reported, never passed into the engine
            owner = self._owner()
            if owner is not None:
                owner._callback_failed(kind, e)
            else:
                traceback.print_exc()
            return None if kind == "capture_picture" else 0
        return 0


def _ret(v):
    return v if isinstance(v, int) else 0


class _CallbackErrors:
    def _init_errors(self, on_callback_error):
        self.callback_errors = []  # [(callback kind, exception)]
        self._on_error = on_callback_error
        self._err_lock = threading.Lock()

    def _callback_failed(self, kind, exc):
        with self._err_lock:
            self.callback_errors.append((kind, exc))
        if self._on_error is not None:
            try:
                self._on_error(kind, exc)
                return
            except Exception:
                pass
        print(f"ivcs: exception in the {kind} callback (the engine goes on):",
              file=sys.stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


# ---------------------------------------------------------------- engine

_live_engines = weakref.WeakSet()


class Engine(_CallbackErrors):
    """ivcs_engine_s: one engine thread, up to max_channels channels.

    plan: None polls {device}/plan.json; a Plan or "full_time" / "event" /
    "none" fixes the plan (no polling, offline use). 0 for a number means the
    C default. close() (or leaving the with block) stops accepting frames,
    uploads what is queued within upload_timeout_ms and frees the engine; it
    raises TransportError(IVCS_ERR_TIMEOUT) if data had to be dropped (after
    freeing; final_stats holds the last counters), unless check_exit=False:
    then exit_code (0 or IVCS_ERR_TIMEOUT) says it."""

    def __init__(self, config, *, max_channels=0, upload_timeout_ms=0, reply_timeout_ms=0,
                 pause_ms=0, slice_max_bytes=0, wake_tick_ms=0, plan=None,
                 on_callback_error=None, check_exit=True):
        self.config = _as_config(config)
        self.check_exit = check_exit
        self.exit_code = None
        self._init_errors(on_callback_error)
        self._channels = []
        self._engine_thread = None
        self.final_stats = None
        rc, cap = _core.py_engine_new(self.config.to_json().encode(), max_channels,
                                      upload_timeout_ms, reply_timeout_ms, pause_ms,
                                      slice_max_bytes, wake_tick_ms, _plan_arg(plan))
        raise_for(rc)
        self._cap = cap
        self._lock = threading.Lock()
        _live_engines.add(self)

    # -- channels
    def channel(self, index=None, *, video="h264", audio="aac", budget=4 << 20, width=640,
                height=360, fps=25, sample_rate=48000, audio_channels=2,
                samples_per_frame=1024, on_start=None, on_stop=None, on_picture=None,
                on_picture_result=None, on_notify=None):
        """Open the next channel (index, if given, must be the next one, or
        an open channel's index: then that channel is returned).

        on_start(ch)/on_stop(ch): the seed's stream start/stop;
        on_picture(event_id) -> bytes | None: the event's JPEG;
        on_picture_result(err); on_notify(Notification)."""
        self._check()
        if index is not None and index < len(self._channels):
            return self._channels[index]
        if index is not None and index != len(self._channels):
            raise ConfigError(_core.IVCS_ERR_INVALID_ARG,
                              f"channel index {index}: the next channel is {len(self._channels)}")
        av = _av_tuple(video, audio, width, height, fps, sample_rate, audio_channels,
                       samples_per_frame)
        handlers = dict(on_start=on_start, on_stop=on_stop, on_picture=on_picture,
                        on_picture_result=on_picture_result, on_notify=on_notify)
        with self._lock:
            rc, cap, idx, max_frame = _core.py_channel_open(
                self._cap, int(budget), av, _Dispatch(self, handlers),
                on_picture is not None or on_picture_result is not None)
            raise_for(rc)
            ch = Channel(self, cap, idx, max_frame)
            self._channels.append(ch)
        return ch

    @property
    def channels(self):
        return list(self._channels)

    # -- state
    def stats(self):
        """The engine's counters and every channel's: a dict with the
        engine's keys and "channels": [channel stats dicts]."""
        if self._cap is None:
            if self.final_stats is None:
                raise StateError(_core.IVCS_ERR_STATE, "engine closed")
            return self.final_stats
        d = _core.py_engine_stats(self._cap)
        d["channels"] = [c.stats() for c in self._channels]
        return d

    def plan(self, timeout_s=0):
        """The plan: cached (timeout_s 0) or read from plan.json now."""
        self._check()
        rc, t = _core.py_engine_plan(self._cap, int(timeout_s))
        plan = Plan._from(t)
        raise_for(rc)
        return plan

    def wake(self):
        self._check()
        _core.py_engine_wake(self._cap)

    def stop(self):
        """Stop accepting, flush and stop the thread; stats stay readable."""
        self._check()
        self._not_on_engine_thread("stop()")
        rc = _core.py_engine_stop(self._cap)
        raise_for(rc, "data dropped at stop" if rc == _core.IVCS_ERR_TIMEOUT else None)

    def close(self):
        """Stop (if not yet), flush and free. Idempotent. Not from one of
        the engine's callbacks (StateError)."""
        if self._cap is None:
            return
        self._not_on_engine_thread("close()")
        with self._lock:
            if self._cap is None:
                return
            rc = _core.py_engine_stop(self._cap)
            if rc == _core.IVCS_ERR_STATE:
                raise StateError(rc, "close() from one of the engine's own callbacks")
            try:
                self.final_stats = self.stats()
            except Error:
                pass
            _core.py_engine_destroy(self._cap)
            self._cap = None
            for c in self._channels:
                c._close()
        _live_engines.discard(self)
        self.exit_code = rc
        if self.check_exit:
            raise_for(rc, "data dropped at exit" if rc == _core.IVCS_ERR_TIMEOUT else None)

    @property
    def closed(self):
        return self._cap is None

    def _not_on_engine_thread(self, what):
        if threading.get_ident() == self._engine_thread:
            raise StateError(_core.IVCS_ERR_STATE, f"{what} from one of the engine's callbacks")

    def _check(self):
        if self._cap is None:
            raise StateError(_core.IVCS_ERR_STATE, "engine closed")

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        try:
            self.close()
        except Error:
            if et is None:
                raise
        return False


def _closed_method(*_a, **_k):
    raise StateError(_core.IVCS_ERR_STATE, "engine closed")


class Channel:
    """ivcs_channel_s: push frames, events, stats. push_video and
    push_audio take any contiguous buffer (bytes, bytearray, memoryview,
    numpy array...); the frame is copied once, into the ring. A channel's
    video pushes must come from one thread at a time, and its audio pushes
    from one thread at a time."""

    __slots__ = ("engine", "index", "max_frame", "_cap", "push_video", "push_audio",
                 "__weakref__")

    def __init__(self, engine, cap, index, max_frame):
        self.engine = engine
        self.index = index
        self.max_frame = max_frame
        self._cap = cap
        # Bound per instance: one Python frame per push.
        def push_video(data, pts_ms, key=False, seq=0, _p=_push, _c=cap):
            rc = _p(_c, True, data, pts_ms, key, seq)
            if rc:
                raise make_error(rc)

        def push_audio(data, pts_ms, seq=0, _p=_push, _c=cap):
            rc = _p(_c, False, data, pts_ms, False, seq)
            if rc:
                raise make_error(rc)
        self.push_video = push_video
        self.push_audio = push_audio

    def _close(self):
        self.push_video = self.push_audio = _closed_method
        self._cap = None

    def _c(self):
        if self._cap is None:
            raise StateError(_core.IVCS_ERR_STATE, "engine closed")
        return self._cap

    def event_start(self, event_id, event_start_s=0, stream_start_s=0):
        """Start event 1..16 (times 0: now; see the C API for the rules)."""
        raise_for(_core.py_channel_event(self._c(), True, int(event_id), int(event_start_s),
                                         int(stream_start_s)))

    def event_stop(self, event_id, event_stop_s=0, stream_stop_s=0):
        raise_for(_core.py_channel_event(self._c(), False, int(event_id), int(event_stop_s),
                                         int(stream_stop_s)))

    def stats(self):
        """ivcs_channel_stats as a dict."""
        return _core.py_channel_stats(self._c())

    def __repr__(self):
        return f"<ivcs.Channel {self.index}{' closed' if self._cap is None else ''}>"


# ---------------------------------------------------------------- exit

def _at_exit():
    # Engines still open are closed (flushed) while Python is whole; then the
    # C side stops calling into Python for good.
    for e in list(_live_engines):
        try:
            e.close()
        except Exception:
            pass
    try:
        from . import seed
        seed._at_exit()
    except Exception:
        pass
    _core.py_shutdown()


atexit.register(_at_exit)
