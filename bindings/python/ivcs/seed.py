"""The seed API (iv_cs.h) from Python, for tests of firmware paths: one
process-wide engine, channel 0, the seed's callbacks.

    from ivcs import seed
    seed.init(cfg, budget=4 << 20, on_start=..., on_stop=...)
    seed.push_video(frame, pts_ms, key=True)
    seed.event_start(1); seed.event_stop(1)
    seed.exit()          # flushes; TransportError(IVCS_ERR_TIMEOUT) if data was dropped

Callbacks: on_start(), on_stop(), on_picture(event_id) -> bytes | None,
on_picture_result(err). Exceptions in them are reported (printed, and kept
in seed.callback_errors) and the engine goes on.
"""

import sys
import threading
import traceback

from . import (Plan, _as_config, _av_tuple, _CallbackErrors, _core, make_error, raise_for)
from ._ivcs_core import py_seed_push as _seed_push

__all__ = ["init", "exit", "push_video", "push_audio", "event_start", "event_stop",
           "get_balance_info", "set_trans_time", "stats", "callback_errors", "is_initialised"]

callback_errors = []
_lock = threading.Lock()
_state = {"init": False}


class _Seed(_CallbackErrors):
    pass


_errs = _Seed()
_errs._init_errors(None)
_errs.callback_errors = callback_errors


class _SeedDispatch:
    def __init__(self, h):
        self._h = h

    def __call__(self, kind, ch, *args):
        try:
            if kind == "stream_start":
                fn = self._h.get("on_start")
                return _int(fn()) if fn else 0
            if kind == "stream_stop":
                fn = self._h.get("on_stop")
                return _int(fn()) if fn else 0
            if kind == "capture_picture":
                fn = self._h.get("on_picture")
                pic = fn(args[0]) if fn else None
                return None if pic is None else bytes(pic)
            if kind == "picture_result":
                fn = self._h.get("on_picture_result")
                return _int(fn(args[0])) if fn else 0
        except Exception as e:
            _errs._callback_failed(kind, e)
            return None if kind == "capture_picture" else 0
        return 0


def _int(v):
    return v if isinstance(v, int) else 0


def init(config=None, *, budget=4 << 20, video="h264", audio="aac", width=640, height=360,
         fps=25, sample_rate=48000, audio_channels=2, samples_per_frame=1024, on_start=None,
         on_stop=None, on_picture=None, on_picture_result=None, on_callback_error=None):
    """iv_cs_init. config: an ivcs.Config, a dict, a path, or None for the
    file named by $IVCS_CONFIG (as firmware does)."""
    cfg = None if config is None else _as_config(config)
    av = _av_tuple(video, audio, width, height, fps, sample_rate, audio_channels,
                   samples_per_frame)
    h = dict(on_start=on_start, on_stop=on_stop, on_picture=on_picture,
             on_picture_result=on_picture_result)
    with _lock:
        _errs._on_error = on_callback_error
        rc = _core.py_seed_init(None if cfg is None else cfg.to_json().encode(), int(budget), av,
                                _SeedDispatch(h), True)  # the seed requires all four
        raise_for(rc)
        _state["init"] = True


def exit():  # noqa: A001 - the seed's name
    """iv_cs_exit: stop, flush within the upload timeout, free. Raises
    TransportError(IVCS_ERR_TIMEOUT) when data had to be dropped (the engine
    is gone either way; stats() then gives the final counters)."""
    with _lock:
        rc = _core.py_seed_exit()
        _state["init"] = False
    raise_for(rc)


def is_initialised():
    return _core.ivcs_default_engine() is not None


def push_video(data, pts_ms, key=False, seq=0):
    """iv_cs_push_stream(VIDEO): any contiguous buffer, copied once."""
    rc = _seed_push(True, data, pts_ms, key, seq)
    if rc:
        raise make_error(rc)


def push_audio(data, pts_ms, seq=0):
    rc = _seed_push(False, data, pts_ms, False, seq)
    if rc:
        raise make_error(rc)


def event_start(event_id, event_start_s=None, stream_start_s=None):
    """iv_cs_event_start, or iv_cs_event_start_ext when times are given."""
    ext = event_start_s is not None or stream_start_s is not None
    raise_for(_core.py_seed_event(True, int(event_id), int(event_start_s or 0),
                                  int(stream_start_s or 0), ext))


def event_stop(event_id, event_stop_s=None, stream_stop_s=None):
    ext = event_stop_s is not None or stream_stop_s is not None
    raise_for(_core.py_seed_event(False, int(event_id), int(event_stop_s or 0),
                                  int(stream_stop_s or 0), ext))


def get_balance_info(timeout_s=0):
    """iv_cs_get_balance_info -> ivcs.Plan."""
    rc, t = _core.py_seed_plan(int(timeout_s))
    raise_for(rc)
    return Plan._from(t)


def set_trans_time(upload_timeout_ms, reply_timeout_ms):
    raise_for(_core.iv_cs_set_trans_time(int(upload_timeout_ms), int(reply_timeout_ms)))


def stats():
    """(channel 0 stats, engine stats) as dicts: live while initialised,
    else those at the end of the last exit()."""
    rc, ch, eng = _core.py_seed_stats()
    raise_for(rc)
    return ch, eng


def _at_exit():
    if _state["init"] and is_initialised():
        try:
            _core.py_seed_exit()
        except Exception:
            traceback.print_exc(file=sys.stderr)
