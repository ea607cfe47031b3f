"""The viewer from Python: what a device recorded, read back from the bucket
through the object layout (ivcs_viewer.h), with the semantics of the ivcs
CLI's ls, events, playlist, export and plan commands.

    from ivcs import viewer
    listing = viewer.ls(cfg, day="2026-11-25")        # days, ranges, slices
    evs = viewer.events(cfg, pictures="pics/")         # Event records, JPEGs downloaded
    viewer.playlist(cfg, from_="2026-11-25T10:00:00Z", out="out.m3u8")
    viewer.export(cfg, "range.ts")                     # everything, one .ts
    viewer.plan_set(cfg, "full_time", days=7); viewer.plan_get(cfg)
    viewer.presign(cfg, slice_key); viewer.cors_set(cfg, ["http://127.0.0.1:8080"])

Ranges (as the CLI): day=D (a date, "YYYY-MM-DD"), or from_= and/or to=
(a bound left out is open); none: everything. Times: epoch ms (int), a
datetime (naive = UTC), an ISO-8601 string ("...Z", "+HH:MM") or "now".
Every function takes an ivcs.Config (or dict/path) or a Viewer (one
connection reused); errors raise ivcs.Error subclasses, S3 answers as
ivcs.S3Error with .s3_code and .status.
"""

import dataclasses
import datetime as _dt
import os
import stat
import tempfile
import threading
import time

from . import (Config, S3Error, _as_config, _core, error_class, make_error)

__all__ = ["Viewer", "Slice", "Range", "Listing", "Event", "PlanInfo", "PlanSetResult",
           "ExportResult", "ls", "events", "playlist", "export", "plan_get", "plan_set",
           "presign", "cors_set", "GAP_MS", "to_ms"]

GAP_MS = _core.IVCS_VIEWER_GAP_MS
_MS_MAX = 9999999999999  # IVCS_LAYOUT_START_MS_MAX: 13 digits of start_ms
_PLAN_TYPES = {"none": 0, "full_time": 1, "event": 2, "free_trial": 3}
_PLAN_NAMES = {v: k for k, v in _PLAN_TYPES.items()}
_SERVICE = {0: "none", 1: "event", 2: "full_time"}


def _iso(ms):
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def to_ms(t):
    """Epoch ms of a time: int ms, datetime (naive = UTC), date (00:00Z),
    ISO-8601 string, or "now"."""
    if isinstance(t, bool):
        raise TypeError("time: not a bool")
    if isinstance(t, int):
        return t
    if isinstance(t, float):
        return int(t)
    if isinstance(t, str):
        if t == "now":
            return int(time.time() * 1000)
        s = t[:-1] + "+00:00" if t.endswith(("Z", "z")) else t
        try:
            t = _dt.datetime.fromisoformat(s)
        except ValueError:
            raise make_error(_core.IVCS_ERR_INVALID_ARG, f"bad time {t!r}") from None
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.timezone.utc)
        return int(t.timestamp() * 1000)
    if isinstance(t, _dt.date):
        return int(_dt.datetime(t.year, t.month, t.day, tzinfo=_dt.timezone.utc).timestamp() * 1000)
    raise TypeError(f"time: {t!r}")


def _range(day, from_, to):
    if day is not None:
        if from_ is not None or to is not None:
            raise make_error(_core.IVCS_ERR_INVALID_ARG, "give day or from_/to, not both")
        if isinstance(day, str):
            try:
                day = _dt.date.fromisoformat(day)
            except ValueError:
                raise make_error(_core.IVCS_ERR_INVALID_ARG, f"bad day {day!r}") from None
        lo = to_ms(day if not isinstance(day, _dt.datetime) else day.date())
        return lo, lo + 86400000
    lo = 0 if from_ is None else to_ms(from_)
    hi = _MS_MAX + 1 if to is None else to_ms(to)
    if hi <= lo:
        raise make_error(_core.IVCS_ERR_INVALID_ARG,
                         f"empty range: to {_iso(hi)} is not after from {_iso(lo)}")
    return lo, hi


# ---------------------------------------------------------------- results

@dataclasses.dataclass(frozen=True)
class Slice:
    key: str
    size: int
    start_ms: int
    dur_ms: int
    boot: int
    seq: int
    keyframe: bool

    @property
    def end_ms(self):
        return self.start_ms + self.dur_ms

    @property
    def start(self):
        return _dt.datetime.fromtimestamp(self.start_ms / 1000, _dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Range:
    """A recorded time range [start_ms, end_ms): slices merged while the gap
    is at most gap_ms; boots = engine restarts inside + 1."""
    start_ms: int
    end_ms: int
    slices: tuple
    boots: int

    @property
    def duration_ms(self):
        return self.end_ms - self.start_ms

    @property
    def bytes(self):
        return sum(s.size for s in self.slices)


@dataclasses.dataclass(frozen=True)
class Listing:
    """ivcs ls: the UTC days (YYYY-MM-DD) with recordings in the range, the
    recorded ranges and the slices; foreign = objects under rec/ that are not
    slices of the layout (skipped)."""
    channel: int
    from_ms: int
    to_ms: int
    gap_ms: int
    days: tuple
    ranges: tuple
    slices: tuple
    foreign: int

    @property
    def bytes(self):
        return sum(s.size for s in self.slices)

    @property
    def recorded_ms(self):
        return sum(r.duration_ms for r in self.ranges)


@dataclasses.dataclass(frozen=True)
class Event:
    """An event record. event_stop_ms / stream_stop_ms are None while open;
    picture is the JPEG's key (None if none, or refused: picture_refused,
    when the record named a key that is not its own); picture_path is where
    events(pictures=DIR) wrote it."""
    key: str
    event_id: int
    channel: int
    info: str
    event_start_ms: int
    event_stop_ms: object
    stream_start_ms: int
    stream_stop_ms: object
    picture: object
    picture_listed: bool
    picture_refused: bool
    picture_path: object = None

    @property
    def status(self):
        return "open" if self.event_stop_ms is None else "closed"


@dataclasses.dataclass(frozen=True)
class PlanInfo:
    """plan.json and what it grants now (service: none/event/full_time),
    and the device's retention: retention_days (0: no rule) or None when the
    server has no bucket lifecycle."""
    cs_switch: int
    cs_type: str
    cs_days: int
    expire_utc: int
    free_trial_remaining_sec: int
    service: str
    trial_remaining_sec: int
    retention_days: object


@dataclasses.dataclass(frozen=True)
class PlanSetResult:
    """plan_set: plan.json written; retention "set", "removed", "skipped"
    (lifecycle=False) or "unsupported" (the server has no bucket lifecycle:
    `ivcs plan set` exits 3 for this when days > 0)."""
    plan_key: str
    retention: str
    days: int


@dataclasses.dataclass(frozen=True)
class ExportResult:
    path: str
    bytes: int
    slices: int


# ---------------------------------------------------------------- viewer

class Viewer:
    """One configuration and one S3 connection (ivcs_viewer_s); calls from
    several threads are serialised. close() or a with block frees it."""

    def __init__(self, config):
        self.config = _as_config(config)
        rc, msg, cap = _core.py_viewer_open(self.config.to_json().encode())
        if rc:
            raise make_error(rc, msg or None)
        self._cap = cap
        self._lock = threading.Lock()

    def close(self):
        if self._cap is not None:
            with self._lock:
                _core.py_viewer_close(self._cap)
                self._cap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _call(self, fn, *args):
        if self._cap is None:
            raise make_error(_core.IVCS_ERR_STATE, "viewer closed")
        with self._lock:
            r = fn(self._cap, *args)
            rc = r if isinstance(r, int) else r[0]
            if rc < 0:
                raise self._error(rc)
            return r

    def _error(self, rc, what=None):
        code, status, s3_code, message, detail, request_id = _core.py_viewer_error(self._cap)
        parts = [p for p in (what, f"HTTP {status}" if status else "", s3_code, message, detail)
                 if p]
        text = ": ".join(parts) if parts else None
        cls = error_class(rc)
        if s3_code or status:
            e = S3Error(rc, text, s3_code=s3_code or None)
        else:
            e = cls(rc, text)
        e.status = status or None
        e.request_id = request_id or None
        return e

    # -- operations
    def exists(self):
        """The device has any object (plan, slice, event)."""
        return self._call(_core.py_viewer_exists) == 1

    def days(self, channel=0, events=False):
        """UTC days (YYYY-MM-DD) with slices (or event records)."""
        _, days = self._call(_core.py_viewer_days, int(channel), bool(events))
        return [_dt.date.fromordinal(_dt.date(1970, 1, 1).toordinal() + d).isoformat()
                for d in days]

    def slices(self, channel=0, *, day=None, from_=None, to=None, from_keyframe=False):
        lo, hi = _range(day, from_, to)
        _, sl, _, _ = self._call(_core.py_viewer_slices, int(channel), lo, hi,
                                 _core.IVCS_VIEWER_FROM_KEYFRAME if from_keyframe else 0, GAP_MS)
        return [Slice(*t) for t in sl]

    def ls(self, channel=0, *, day=None, from_=None, to=None, gap_ms=GAP_MS):
        """ivcs ls: days, ranges and slices of the range."""
        lo, hi = _range(day, from_, to)
        days = self.days(channel)
        _, sl, rg, foreign = self._call(_core.py_viewer_slices, int(channel), lo, hi, 0,
                                        int(gap_ms))
        slices = tuple(Slice(*t) for t in sl)
        ranges = tuple(Range(a, b, slices[first:first + n], boots)
                       for a, b, first, n, boots in rg)
        # the days of the range (a slice found by looking back may sit on
        # the day before: its day is shown when it is among the slices)
        d_lo = _iso(lo)[:10]
        if slices:
            d_lo = min(d_lo, _iso(slices[0].start_ms)[:10])
        d_hi = _iso(hi - 1)[:10] if hi - 1 <= 253402300799999 else "9999-12-31"
        return Listing(int(channel), lo, hi, int(gap_ms),
                       tuple(d for d in days if d_lo <= d <= d_hi), ranges, slices, foreign)

    def events(self, channel=0, *, day=None, from_=None, to=None, pictures=None):
        """ivcs events: the records overlapping the range. pictures=DIR
        downloads each JPEG as DIR/{event_start_ms}_{event_id}.jpg; a record
        whose picture is not its own key is never fetched: after the others
        are written, ivcs.Error(IVCS_ERR_INVALID_ARG) is raised with .events
        (as the CLI exits 1)."""
        lo, hi = _range(day, from_, to)
        _, evs, _ = self._call(_core.py_viewer_events, int(channel), lo, hi, None)
        out = [Event(*t) for t in evs]
        if pictures is None:
            return out
        os.makedirs(pictures, exist_ok=True)
        refused = []
        for i, e in enumerate(out):
            if e.picture_refused:
                refused.append(e.key)
                continue
            if not e.picture:
                continue
            _, data = self._call(_core.py_viewer_get_object, e.picture, 16 << 20)
            path = os.path.join(os.fspath(pictures), f"{e.event_start_ms}_{e.event_id}.jpg")
            _write_atomic(path, lambda fd, d=data: os.write(fd, d) if d else 0, data)
            out[i] = dataclasses.replace(e, picture_path=path)
        if refused:
            err = make_error(_core.IVCS_ERR_INVALID_ARG,
                             "event records name a picture that is not their own (not fetched): "
                             + ", ".join(refused))
            err.events = out
            raise err
        return out

    def event(self, key):
        """One event record by key (relative to {prefix}{device}/ or full)."""
        _, evs, _ = self._call(_core.py_viewer_events, 0, 0, 0, self._full_key(key))
        return Event(*evs[0])

    def _full_key(self, key):
        root = f"{self.config.prefix}{self.config.device_id}/"
        return key if key.startswith(root) else root + key

    def playlist(self, channel=0, *, day=None, from_=None, to=None, event=None, expires=3600,
                 gap_ms=GAP_MS, out=None):
        """ivcs playlist: an HLS VOD playlist of presigned URLs (text); with
        out=PATH also written there (replaced whole). event=KEY: that event's
        stream window (up to now while it is open)."""
        if event is not None:
            if day is not None or from_ is not None or to is not None:
                raise make_error(_core.IVCS_ERR_INVALID_ARG, "give event or a range, not both")
            e = self.event(event)
            if e.channel != channel:
                channel = e.channel
            lo = e.stream_start_ms
            hi = e.stream_stop_ms if e.stream_stop_ms is not None else int(time.time() * 1000)
            hi = max(hi, lo + 1)
        else:
            lo, hi = _range(day, from_, to)
        _, text, _ = self._call(_core.py_viewer_playlist, int(channel), lo, hi, int(expires),
                                int(gap_ms))
        if out is not None:
            b = text.encode()
            _write_atomic(out, lambda fd: _write_all(fd, b), b)
        return text

    def export(self, out, channel=0, *, day=None, from_=None, to=None):
        """ivcs export: the slices overlapping the range (from the key frame
        before it) joined into one MPEG-TS file. out is written to a
        temporary PATH.XXXXXX.part beside it and renamed when complete (a
        failure leaves out as it was); an existing FIFO or device gets the
        bytes in place."""
        lo, hi = _range(day, from_, to)
        res = {}

        def run(fd):
            _, n_bytes, n = self._call(_core.py_viewer_export, int(channel), lo, hi, fd)
            res.update(bytes=n_bytes, slices=n)

        _write_atomic(out, run, None)
        return ExportResult(os.fspath(out), res["bytes"], res["slices"])

    def plan_get(self, now=None):
        """ivcs plan get: PlanInfo, or None when the device has no plan.json."""
        now_s = (to_ms(now) if now is not None else int(time.time() * 1000)) // 1000
        if self._cap is None:
            raise make_error(_core.IVCS_ERR_STATE, "viewer closed")
        with self._lock:
            rc, t = _core.py_viewer_plan_get(self._cap, now_s)
            if rc == _core.IVCS_ERR_NOT_FOUND:
                return None
            if rc < 0:
                raise self._error(rc, "read plan.json")
            lrc, days = _core.py_viewer_retention(self._cap, None)
            if lrc == _core.IVCS_ERR_UNSUPPORTED:
                days = None
            elif lrc < 0:
                raise self._error(lrc, "read the bucket lifecycle (retention unknown)")
        sw, ty, cs_days, expire, trial, service, trial_left = t
        return PlanInfo(sw, _PLAN_NAMES.get(ty, str(ty)), cs_days, expire, trial,
                        _SERVICE.get(service, str(service)), trial_left, days)

    def presign(self, key, expires=3600):
        """A presigned GET URL (valid `expires` seconds, 1..604800) for an
        object of this device's layout: a slice, an event record or its
        picture (key relative to {prefix}{device}/ or full); any other key,
        or expires out of range, raises ConfigError (IVCS_ERR_INVALID_ARG).
        No request is sent."""
        _, url = self._call(_core.py_viewer_presign, self._full_key(key), int(expires))
        return url

    def cors_set(self, origins):
        """ivcs cors: the bucket's CORS rule for this device's web viewer
        allows GET and HEAD from `origins` ("*" or scheme://host[:port], at
        most 16); [] removes it. Every other CORS rule of the bucket is kept.
        A bad origin raises ConfigError (IVCS_ERR_INVALID_ARG); a server
        without bucket CORS an Error named IVCS_ERR_UNSUPPORTED, nothing
        written."""
        if isinstance(origins, str):
            origins = [origins]
        origins = [str(o) for o in origins]
        if len(origins) > 16:
            raise make_error(_core.IVCS_ERR_INVALID_ARG, "at most 16 origins")
        self._call(_core.py_viewer_cors_set, origins)

    def plan_set(self, cs_type, *, days=0, expire=0, trial_sec=0, switch=1, lifecycle=True):
        """ivcs plan set: writes plan.json, then the device's lifecycle rule
        (days > 0: expire after days; 0: the rule removed), keeping every
        other rule of the bucket. expire: a time or 0 (never)."""
        if cs_type not in _PLAN_TYPES:
            raise make_error(_core.IVCS_ERR_INVALID_ARG,
                             f"cs_type {cs_type!r} (full_time, event, free_trial, none)")
        exp_s = 0 if not expire else to_ms(expire) // 1000
        self._call(_core.py_viewer_plan_set, int(switch), _PLAN_TYPES[cs_type], int(days), exp_s,
                   int(trial_sec))
        key = f"{self.config.prefix}{self.config.device_id}/plan.json"
        if not lifecycle:
            return PlanSetResult(key, "skipped", int(days))
        with self._lock:
            rc, _ = _core.py_viewer_retention(self._cap, int(days))
            if rc == _core.IVCS_ERR_UNSUPPORTED:
                return PlanSetResult(key, "unsupported", int(days))
            if rc < 0:
                raise self._error(rc, "set the lifecycle rule (plan.json was written)")
        return PlanSetResult(key, "set" if days else "removed", int(days))


def _write_all(fd, b):
    mv = memoryview(b)
    while mv:
        n = os.write(fd, mv)
        mv = mv[n:]


def _write_atomic(path, writer, _data):
    """As the CLI's output files: an existing FIFO or device gets the bytes in
    place (never removed); anything else is written to PATH.XXXXXX.part
    beside it and renamed over PATH when complete."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
        special = stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
    except FileNotFoundError:
        special = False
    if special:
        fd = os.open(path, os.O_WRONLY)
        try:
            writer(fd)
        finally:
            os.close(fd)
        return
    d, base = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=base + ".", suffix=".part", dir=d)
    ok = False
    try:
        writer(fd)
        os.fsync(fd)
        ok = True
    finally:
        os.close(fd)
        if ok:
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        else:
            os.unlink(tmp)


# ---------------------------------------------------------------- functions

def _with_viewer(config, fn):
    if isinstance(config, Viewer):
        return fn(config)
    with Viewer(config) as v:
        return fn(v)


def ls(config, channel=0, *, day=None, from_=None, to=None, gap_ms=GAP_MS):
    return _with_viewer(config, lambda v: v.ls(channel, day=day, from_=from_, to=to,
                                               gap_ms=gap_ms))


def events(config, channel=0, *, day=None, from_=None, to=None, pictures=None):
    return _with_viewer(config, lambda v: v.events(channel, day=day, from_=from_, to=to,
                                                   pictures=pictures))


def playlist(config, channel=0, *, day=None, from_=None, to=None, event=None, expires=3600,
             gap_ms=GAP_MS, out=None):
    return _with_viewer(config, lambda v: v.playlist(channel, day=day, from_=from_, to=to,
                                                     event=event, expires=expires,
                                                     gap_ms=gap_ms, out=out))


def export(config, out, channel=0, *, day=None, from_=None, to=None):
    return _with_viewer(config, lambda v: v.export(out, channel, day=day, from_=from_, to=to))


def plan_get(config, now=None):
    return _with_viewer(config, lambda v: v.plan_get(now))


def plan_set(config, cs_type, *, days=0, expire=0, trial_sec=0, switch=1, lifecycle=True):
    return _with_viewer(config, lambda v: v.plan_set(cs_type, days=days, expire=expire,
                                                     trial_sec=trial_sec, switch=switch,
                                                     lifecycle=lifecycle))


ls.__doc__ = Viewer.ls.__doc__
events.__doc__ = Viewer.events.__doc__
playlist.__doc__ = Viewer.playlist.__doc__
export.__doc__ = Viewer.export.__doc__
def presign(config, key, expires=3600):
    return _with_viewer(config, lambda v: v.presign(key, expires))


def cors_set(config, origins):
    return _with_viewer(config, lambda v: v.cors_set(origins))


plan_get.__doc__ = Viewer.plan_get.__doc__
plan_set.__doc__ = Viewer.plan_set.__doc__
presign.__doc__ = Viewer.presign.__doc__
cors_set.__doc__ = Viewer.cors_set.__doc__
del Config
