/*
 * ivcs_core.i - SWIG 4 interface of ivcs for Python (the extension
 * ivcs._ivcs_core, proxy ivcs.ivcs_core). Users import the package `ivcs`
 * (bindings/python/ivcs/), which is built on this.
 *
 * Two layers:
 *  - the public headers as they are (iv_cm.h, iv_cs.h, ivcs.h,
 *    ivcs_viewer.h, error codes): structs, enums, constants and the plain functions, for tests
 *    that want the C API itself;
 *  - py_* glue (below) for what SWIG cannot express: Python callables as
 *    engine callbacks (called on the engine thread under PyGILState_Ensure,
 *    exceptions reported with PyErr_WriteUnraisable and never passed back
 *    into the engine), frames from any object with the buffer protocol
 *    (bytes, bytearray, memoryview: no copy before the one into the ring),
 *    and statistics as dicts.
 *
 * The GIL. Every call that can wait for the engine thread (engine new/stop/
 * destroy, channel open, events, plan queries, iv_cs_init/exit) releases the
 * GIL, since the engine thread may itself be waiting for the GIL inside a
 * callback. A push never blocks, locks or allocates, so it keeps the GIL.
 */
%module(package="ivcs") ivcs_core

%{
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iv_cm.h"
#include "iv_cs.h"
#include "iv_err.h"
#include "ivcs.h"
#include "ivcs_err.h"
#include "ivcs_viewer.h"
#include "engine/core/alloc.h"
%}

%include <stdint.i>

/* The C headers' own attributes mean nothing to SWIG. */
#define IVCS_API
#define __attribute__(x)

/* Function pointers in the structs are set by the py_* glue only. */
%immutable iv_cs_init_parm_s::iv_cs_push_stream_start_cb;
%immutable iv_cs_init_parm_s::iv_cs_push_stream_stop_cb;
%immutable iv_cs_init_parm_s::iv_cs_event_capture_picture_cb;
%immutable iv_cs_init_parm_s::iv_cs_event_picture_result_cb;

/* ivcs_config_s string fields are fixed char arrays: SWIG copies strings in
 * and out (too long: truncated by SWIG, so the package validates through
 * ivcs_config_parse instead of these setters). */
%include "iv_err.h"
%include "ivcs_err.h"
%include "ivcs_base.h"
%include "ivcs_config.h"
%include "iv_cm.h"
%include "iv_cs.h"
%include "ivcs.h"
/* The viewer's list structs own their memory: only the glue below reads
 * them; the viewer functions themselves are wrapped as they are. */
%include "ivcs_viewer.h"

/* ======================================================================
 * Glue.
 * ==================================================================== */
%{
/* Set by py_shutdown() (the package's atexit hook) before interpreter
 * finalization: callbacks then return at once without touching Python. */
static atomic_int py_finalizing;

/* One record per channel (or the seed API's one): the Python dispatcher and
 * the pictures handed to the engine, kept alive until their result. */
#define PY_MAX_PICS 32
typedef struct py_cb_s {
    PyObject *dispatch; /* dispatch(kind:str, *args) -> int or bytes or None */
    PyObject *pics[PY_MAX_PICS];
    uint8_t *pic_ptr[PY_MAX_PICS];
    int seed; /* the seed API's record: no channel index */
} py_cb_s;

typedef struct py_engine_s {
    ivcs_engine_s *e;
    py_cb_s **cbs;
    size_t n_cbs, cap_cbs;
    iv_cs_balance_info_s plan; /* fixed_plan storage */
} py_engine_s;

static py_cb_s py_seed_cb;

/* Calls dispatch(kind, args...) with the GIL held; returns a new reference
 * or NULL (the exception already reported, never left set). */
static PyObject *py_call(py_cb_s *cb, const char *fmt, ...)
{
    if (!cb->dispatch) return NULL;
    va_list ap;
    va_start(ap, fmt);
    PyObject *args = Py_VaBuildValue(fmt, ap);
    va_end(ap);
    PyObject *r = NULL;
    if (args) r = PyObject_CallObject(cb->dispatch, args);
    Py_XDECREF(args);
    if (!r) PyErr_WriteUnraisable(cb->dispatch);
    return r;
}

static int32_t py_int_result(PyObject *r)
{
    int32_t v = 0;
    if (r && PyLong_Check(r)) {
        v = (int32_t)PyLong_AsLong(r);
        if (PyErr_Occurred()) {
            PyErr_WriteUnraisable(r);
            v = 0;
        }
    }
    Py_XDECREF(r);
    return v;
}

static int32_t py_simple(py_cb_s *cb, const char *kind, uint32_t ch)
{
    if (atomic_load(&py_finalizing)) return 0;
    PyGILState_STATE g = PyGILState_Ensure();
    int32_t v = py_int_result(py_call(cb, "(sI)", kind, (unsigned)ch));
    PyGILState_Release(g);
    return v;
}

static int32_t py_capture(py_cb_s *cb, uint32_t ch, int32_t id, uint8_t **pic, int32_t *size)
{
    *pic = NULL;
    *size = 0;
    if (atomic_load(&py_finalizing)) return 0;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = py_call(cb, "(sIi)", "capture_picture", (unsigned)ch, (int)id);
    if (r && PyBytes_Check(r) && PyBytes_GET_SIZE(r) > 0 && PyBytes_GET_SIZE(r) <= INT32_MAX) {
        int slot = -1;
        for (int i = 0; i < PY_MAX_PICS; i++)
            if (!cb->pics[i]) {
                slot = i;
                break;
            }
        if (slot >= 0) {
            cb->pics[slot] = r; /* keeps the bytes alive until picture_result */
            cb->pic_ptr[slot] = (uint8_t *)PyBytes_AS_STRING(r);
            *pic = cb->pic_ptr[slot];
            *size = (int32_t)PyBytes_GET_SIZE(r);
            r = NULL;
        } else {
            PyErr_SetString(PyExc_RuntimeError, "ivcs: too many pictures in flight");
            PyErr_WriteUnraisable(cb->dispatch);
        }
    }
    Py_XDECREF(r);
    PyGILState_Release(g);
    return 0;
}

static int32_t py_picture_result(py_cb_s *cb, uint32_t ch, uint8_t **pic, int32_t err)
{
    if (atomic_load(&py_finalizing)) return 0;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *held = NULL;
    for (int i = 0; i < PY_MAX_PICS && pic; i++)
        if (cb->pics[i] && cb->pic_ptr[i] == *pic) {
            held = cb->pics[i];
            cb->pics[i] = NULL;
            cb->pic_ptr[i] = NULL;
            break;
        }
    int32_t v = py_int_result(py_call(cb, "(sIi)", "picture_result", (unsigned)ch, (int)err));
    Py_XDECREF(held);
    PyGILState_Release(g);
    return v;
}

static void py_notify(void *user, uint32_t ch, const ivcs_notify_s *n)
{
    py_cb_s *cb = user;
    if (atomic_load(&py_finalizing)) return;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = py_call(cb, "(sI(iizKIIKI))", "notify", (unsigned)ch, (int)n->kind, n->err, n->key,
                          (unsigned long long)n->start_ms, (unsigned)n->dur_ms, (unsigned)n->frames,
                          (unsigned long long)n->bytes, (unsigned)n->value);
    Py_XDECREF(r);
    PyGILState_Release(g);
}

static int32_t py_ch_start(void *user, uint32_t ch) { return py_simple(user, "stream_start", ch); }
static int32_t py_ch_stop(void *user, uint32_t ch) { return py_simple(user, "stream_stop", ch); }
static int32_t py_ch_capture(void *user, uint32_t ch, int32_t id, uint8_t **pic, int32_t *size)
{
    return py_capture(user, ch, id, pic, size);
}
static int32_t py_ch_result(void *user, uint32_t ch, uint8_t **pic, int32_t err)
{
    return py_picture_result(user, ch, pic, err);
}

static int32_t py_seed_start(void) { return py_simple(&py_seed_cb, "stream_start", 0); }
static int32_t py_seed_stop(void) { return py_simple(&py_seed_cb, "stream_stop", 0); }
static int32_t py_seed_capture(int32_t id, uint8_t **pic, int32_t *size)
{
    return py_capture(&py_seed_cb, 0, id, pic, size);
}
static int32_t py_seed_result(uint8_t **pic, int32_t err)
{
    return py_picture_result(&py_seed_cb, 0, pic, err);
}

/* Drops every reference a callback record holds (GIL held). */
static void py_cb_clear(py_cb_s *cb)
{
    for (int i = 0; i < PY_MAX_PICS; i++) {
        Py_CLEAR(cb->pics[i]);
        cb->pic_ptr[i] = NULL;
    }
    Py_CLEAR(cb->dispatch);
}

static const char PY_ENGINE_CAP[] = "ivcs.engine";
static const char PY_CHANNEL_CAP[] = "ivcs.channel";

static py_engine_s *py_engine_of(PyObject *cap)
{
    py_engine_s *pe = PyCapsule_GetPointer(cap, PY_ENGINE_CAP);
    if (pe && !pe->e) {
        PyErr_SetString(PyExc_ValueError, "ivcs: engine already destroyed");
        return NULL;
    }
    return pe;
}

/* Frees the engine (GIL released while it flushes) and then the callback
 * records. Returns the destroy code. */
static int py_engine_free(py_engine_s *pe)
{
    int rc = 0;
    if (pe->e) {
        ivcs_engine_s *e = pe->e;
        pe->e = NULL;
        Py_BEGIN_ALLOW_THREADS
        rc = ivcs_engine_destroy(e);
        Py_END_ALLOW_THREADS
        if (rc == IVCS_ERR_STATE) { /* called from one of its callbacks: nothing done */
            pe->e = e;
            return rc;
        }
    }
    for (size_t i = 0; i < pe->n_cbs; i++) {
        py_cb_clear(pe->cbs[i]);
        free(pe->cbs[i]);
    }
    free(pe->cbs);
    pe->cbs = NULL;
    pe->n_cbs = pe->cap_cbs = 0;
    return rc;
}

static void py_engine_capsule_free(PyObject *cap)
{
    py_engine_s *pe = PyCapsule_GetPointer(cap, PY_ENGINE_CAP);
    if (!pe) {
        PyErr_Clear();
        return;
    }
    if (!atomic_load(&py_finalizing)) py_engine_free(pe);
    free(pe);
}

static int py_get_av(PyObject *o, iv_cm_av_data_info_s *av)
{
    /* (vtype, w, h, fps, atype, aopt, amode, abits, arate, samples) */
    memset(av, 0, sizeof *av);
    int vt, at, am, ab, ar;
    unsigned w, h, fps, ao, sn;
    if (!PyArg_ParseTuple(o, "iIIIiIiiiI", &vt, &w, &h, &fps, &at, &ao, &am, &ab, &ar, &sn)) return -1;
    av->eVideoType = (iv_cm_venc_type_e)vt;
    av->u32VideoWidth = w;
    av->u32VideoHeight = h;
    av->u32Framerate = fps;
    av->eAudioType = (iv_cm_aenc_type_e)at;
    av->u32AudioCodecOption = ao;
    av->eAudioMode = (iv_cm_aenc_mode_e)am;
    av->eAudioBitWidth = (iv_cm_aenc_bit_width_e)ab;
    av->eAudioSampleRate = (iv_cm_aenc_sample_rate_e)ar;
    av->u32SampleNumPerFrame = sn;
    return 0;
}

#define PY_STAT(d, s, f)                                                        \
    do {                                                                        \
        PyObject *v_ = PyLong_FromUnsignedLongLong((unsigned long long)(s).f); \
        if (!v_ || PyDict_SetItemString(d, #f, v_) < 0) {                       \
            Py_XDECREF(v_);                                                     \
            Py_DECREF(d);                                                       \
            return NULL;                                                        \
        }                                                                       \
        Py_DECREF(v_);                                                          \
    } while (0)

static PyObject *py_channel_stats_dict(const ivcs_channel_stats_s *s)
{
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    PY_STAT(d, *s, video_frames_pushed); PY_STAT(d, *s, audio_frames_pushed);
    PY_STAT(d, *s, bytes_pushed); PY_STAT(d, *s, frames_refused);
    PY_STAT(d, *s, frames_uploaded); PY_STAT(d, *s, bytes_uploaded);
    PY_STAT(d, *s, slices_uploaded); PY_STAT(d, *s, slices_dropped);
    PY_STAT(d, *s, frames_dropped); PY_STAT(d, *s, bytes_dropped);
    PY_STAT(d, *s, prerecord_discarded); PY_STAT(d, *s, retries);
    PY_STAT(d, *s, upload_failures); PY_STAT(d, *s, upload_latency_ms_last);
    PY_STAT(d, *s, upload_latency_ms_max); PY_STAT(d, *s, pauses);
    PY_STAT(d, *s, reanchors); PY_STAT(d, *s, pictures_uploaded);
    PY_STAT(d, *s, event_records_written); PY_STAT(d, *s, video_ring_fill_pct);
    PY_STAT(d, *s, audio_ring_fill_pct); PY_STAT(d, *s, slices_queued);
    PY_STAT(d, *s, events_open); PY_STAT(d, *s, streaming);
    PY_STAT(d, *s, audio_frames_encoded); PY_STAT(d, *s, frames_held);
    PY_STAT(d, *s, frames_spooled); PY_STAT(d, *s, slices_spooled);
    return d;
}

static PyObject *py_engine_stats_dict(const ivcs_engine_stats_s *s)
{
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    PY_STAT(d, *s, plan_polls); PY_STAT(d, *s, plan_changes);
    PY_STAT(d, *s, plan_not_modified); PY_STAT(d, *s, loop_iterations);
    PY_STAT(d, *s, channels); PY_STAT(d, *s, boot);
    PY_STAT(d, *s, wakeups);
    PY_STAT(d, *s, plan_cached); PY_STAT(d, *s, spool_on);
    PY_STAT(d, *s, spool_fault); PY_STAT(d, *s, spool_entries);
    PY_STAT(d, *s, spool_bytes); PY_STAT(d, *s, spool_recovered);
    PY_STAT(d, *s, spool_discarded_corrupt); PY_STAT(d, *s, backfill_slices);
    PY_STAT(d, *s, backfill_frames); PY_STAT(d, *s, spool_evicted);
    PY_STAT(d, *s, backfill_events); PY_STAT(d, *s, backfill_pictures);
    PY_STAT(d, *s, mem_allocated); PY_STAT(d, *s, mem_resident);
    PyObject *v = PyLong_FromLongLong((long long)s->spool_oldest_ms);
    if (!v || PyDict_SetItemString(d, "spool_oldest_ms", v) < 0) {
        Py_XDECREF(v);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(v);
    v = PyLong_FromLong(s->service);
    if (!v || PyDict_SetItemString(d, "service", v) < 0) {
        Py_XDECREF(v);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(v);
    v = PyLong_FromLong((long)s->clock_skew_s);
    if (!v || PyDict_SetItemString(d, "clock_skew_s", v) < 0) {
        Py_XDECREF(v);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(v);
    return d;
}

static PyObject *py_plan_tuple(const iv_cs_balance_info_s *b)
{
    return Py_BuildValue("(iiii)", b->cs_switch, (int)b->cs_type, b->cs_days,
                         b->free_trial_remaining_sec);
}
%}

%native(py_shutdown) PyObject *py_shutdown(PyObject *self, PyObject *args);
%native(py_engine_new) PyObject *py_engine_new(PyObject *self, PyObject *args);
%native(py_engine_stop) PyObject *py_engine_stop(PyObject *self, PyObject *args);
%native(py_engine_destroy) PyObject *py_engine_destroy(PyObject *self, PyObject *args);
%native(py_engine_stats) PyObject *py_engine_stats(PyObject *self, PyObject *args);
%native(py_engine_plan) PyObject *py_engine_plan(PyObject *self, PyObject *args);
%native(py_engine_wake) PyObject *py_engine_wake(PyObject *self, PyObject *args);
%native(py_channel_open) PyObject *py_channel_open(PyObject *self, PyObject *args);
%native(py_channel_event) PyObject *py_channel_event(PyObject *self, PyObject *args);
%native(py_channel_stats) PyObject *py_channel_stats(PyObject *self, PyObject *args);
%native(py_config) PyObject *py_config(PyObject *self, PyObject *args);
%native(py_seed_init) PyObject *py_seed_init(PyObject *self, PyObject *args);
%native(py_seed_exit) PyObject *py_seed_exit(PyObject *self, PyObject *args);
%native(py_seed_event) PyObject *py_seed_event(PyObject *self, PyObject *args);
%native(py_seed_plan) PyObject *py_seed_plan(PyObject *self, PyObject *args);
%native(py_seed_stats) PyObject *py_seed_stats(PyObject *self, PyObject *args);
%native(py_query_plan) PyObject *py_query_plan(PyObject *self, PyObject *args);
%native(py_viewer_open) PyObject *py_viewer_open(PyObject *self, PyObject *args);
%native(py_viewer_close) PyObject *py_viewer_close(PyObject *self, PyObject *args);
%native(py_viewer_error) PyObject *py_viewer_error(PyObject *self, PyObject *args);
%native(py_viewer_exists) PyObject *py_viewer_exists(PyObject *self, PyObject *args);
%native(py_viewer_days) PyObject *py_viewer_days(PyObject *self, PyObject *args);
%native(py_viewer_slices) PyObject *py_viewer_slices(PyObject *self, PyObject *args);
%native(py_viewer_playlist) PyObject *py_viewer_playlist(PyObject *self, PyObject *args);
%native(py_viewer_export) PyObject *py_viewer_export(PyObject *self, PyObject *args);
%native(py_viewer_events) PyObject *py_viewer_events(PyObject *self, PyObject *args);
%native(py_viewer_get_object) PyObject *py_viewer_get_object(PyObject *self, PyObject *args);
%native(py_viewer_plan_get) PyObject *py_viewer_plan_get(PyObject *self, PyObject *args);
%native(py_viewer_plan_set) PyObject *py_viewer_plan_set(PyObject *self, PyObject *args);
%native(py_viewer_presign) PyObject *py_viewer_presign(PyObject *self, PyObject *args);
%native(py_viewer_cors_set) PyObject *py_viewer_cors_set(PyObject *self, PyObject *args);
%native(py_viewer_retention) PyObject *py_viewer_retention(PyObject *self, PyObject *args);
%native(py_bench_c_push) PyObject *py_bench_c_push(PyObject *self, PyObject *args);
%native(py_allocator_is_libc) PyObject *py_allocator_is_libc(PyObject *self, PyObject *args);

%{
static PyObject *py_shutdown(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    atomic_store(&py_finalizing, 1);
    Py_RETURN_NONE;
}

/* py_config(json: bytes | None, path: str | None) -> (rc, message, fields dict).
 * ivcs_config_parse / ivcs_config_load: the C validation and its messages. */
static PyObject *py_config(PyObject *self, PyObject *args)
{
    (void)self;
    const char *json = NULL, *path = NULL;
    Py_ssize_t len = 0;
    if (!PyArg_ParseTuple(args, "z#z", &json, &len, &path)) return NULL;
    ivcs_config_s c;
    char err[512] = "";
    int rc;
    if (path)
        rc = ivcs_config_load(&c, path, err, sizeof err);
    else
        rc = ivcs_config_parse(&c, json ? json : "", (size_t)len, err, sizeof err);
    if (rc) return Py_BuildValue("(isO)", rc, err, Py_None);
    PyObject *d = Py_BuildValue(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:O,s:O,s:I,s:I}", "endpoint", c.endpoint, "region",
        c.region, "bucket", c.bucket, "prefix", c.prefix, "device_id", c.device_id, "access_key",
        c.access_key, "secret_key", c.secret_key, "session_token",
        c.session_token[0] ? PyUnicode_FromString(c.session_token) : (Py_INCREF(Py_None), Py_None),
        "ca_file", c.ca_file, "verify_tls", c.verify_tls ? Py_True : Py_False, "virtual_host",
        c.virtual_host ? Py_True : Py_False, "plan_poll_s", (unsigned)c.plan_poll_s, "slice_ms",
        (unsigned)c.slice_ms);
    if (!d) return NULL;
    PyObject *tok = PyDict_GetItemString(d, "session_token");
    if (tok != Py_None) Py_DECREF(tok); /* the N-less "O" took a reference of its own */
    return Py_BuildValue("(isN)", 0, "", d);
}

static int py_parse_cfg(PyObject *json, ivcs_config_s *c)
{
    char *buf;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(json, &buf, &len) < 0) return -1;
    char err[512] = "";
    int rc = ivcs_config_parse(c, buf, (size_t)len, err, sizeof err);
    if (rc) {
        PyErr_Format(PyExc_ValueError, "ivcs config: %s", err);
        return -1;
    }
    return 0;
}

/* py_engine_new(config_json: bytes, max_channels, upload_timeout_ms,
 *   reply_timeout_ms, pause_ms, slice_max_bytes, wake_tick_ms,
 *   fixed_plan: None | (switch, type, days, trial_s)) -> (rc, capsule|None) */
static PyObject *py_engine_new(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *json, *plan;
    unsigned maxch, up, reply, pause, smax, tick;
    if (!PyArg_ParseTuple(args, "SIIIIIIO", &json, &maxch, &up, &reply, &pause, &smax, &tick, &plan))
        return NULL;
    py_engine_s *pe = calloc(1, sizeof *pe);
    if (!pe) return PyErr_NoMemory();
    ivcs_engine_config_s cfg;
    ivcs_engine_config_defaults(&cfg);
    if (py_parse_cfg(json, &cfg.cloud) < 0) {
        free(pe);
        return NULL;
    }
    cfg.max_channels = maxch;
    cfg.upload_timeout_ms = up;
    cfg.reply_timeout_ms = reply;
    cfg.pause_ms = pause;
    cfg.slice_max_bytes = smax;
    cfg.wake_tick_ms = tick;
    if (plan != Py_None) {
        int sw, type, days, trial;
        if (!PyArg_ParseTuple(plan, "iiii", &sw, &type, &days, &trial)) {
            free(pe);
            return NULL;
        }
        pe->plan.cs_switch = sw;
        pe->plan.cs_type = (iv_cs_type_e)type;
        pe->plan.cs_days = days;
        pe->plan.free_trial_remaining_sec = trial;
        cfg.fixed_plan = &pe->plan;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_engine_new(&pe->e, &cfg);
    Py_END_ALLOW_THREADS
    if (rc) {
        free(pe);
        return Py_BuildValue("(iO)", rc, Py_None);
    }
    PyObject *cap = PyCapsule_New(pe, PY_ENGINE_CAP, py_engine_capsule_free);
    if (!cap) {
        py_engine_free(pe);
        free(pe);
        return NULL;
    }
    return Py_BuildValue("(iN)", 0, cap);
}

static PyObject *py_engine_stop(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    py_engine_s *pe = py_engine_of(cap);
    if (!pe) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_engine_stop(pe->e);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

static PyObject *py_engine_destroy(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    py_engine_s *pe = PyCapsule_GetPointer(cap, PY_ENGINE_CAP);
    if (!pe) return NULL;
    return PyLong_FromLong(py_engine_free(pe));
}

static PyObject *py_engine_stats(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    py_engine_s *pe = py_engine_of(cap);
    if (!pe) return NULL;
    ivcs_engine_stats_s s;
    ivcs_engine_stats(pe->e, &s);
    return py_engine_stats_dict(&s);
}

static PyObject *py_engine_wake(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    py_engine_s *pe = py_engine_of(cap);
    if (!pe) return NULL;
    ivcs_engine_wake(pe->e);
    Py_RETURN_NONE;
}

/* py_engine_plan(cap, timeout_s) -> (rc, plan tuple) */
static PyObject *py_engine_plan(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    unsigned timeout_s;
    if (!PyArg_ParseTuple(args, "OI", &cap, &timeout_s)) return NULL;
    py_engine_s *pe = py_engine_of(cap);
    if (!pe) return NULL;
    iv_cs_balance_info_s b;
    memset(&b, 0, sizeof b);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_engine_get_balance_info(pe->e, &b, timeout_s);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(iN)", rc, py_plan_tuple(&b));
}

/* py_query_plan(config_json, timeout_s) -> (rc, plan tuple) */
static PyObject *py_query_plan(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *json;
    unsigned timeout_s;
    if (!PyArg_ParseTuple(args, "SI", &json, &timeout_s)) return NULL;
    ivcs_config_s c;
    if (py_parse_cfg(json, &c) < 0) return NULL;
    iv_cs_balance_info_s b;
    memset(&b, 0, sizeof b);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_query_balance_info(&c, &b, timeout_s);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(iN)", rc, py_plan_tuple(&b));
}

/* py_channel_open(engine_cap, budget, av tuple, dispatch, pictures: bool)
 *   -> (rc, channel capsule | None, index, max_frame) */
static PyObject *py_channel_open(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *av, *dispatch;
    unsigned budget;
    int pictures;
    if (!PyArg_ParseTuple(args, "OIOOp", &cap, &budget, &av, &dispatch, &pictures)) return NULL;
    py_engine_s *pe = py_engine_of(cap);
    if (!pe) return NULL;
    ivcs_channel_config_s cc;
    memset(&cc, 0, sizeof cc);
    cc.max_gop_size = budget;
    if (py_get_av(av, &cc.av_fmt) < 0) return NULL;
    if (pe->n_cbs == pe->cap_cbs) {
        size_t n = pe->cap_cbs ? pe->cap_cbs * 2 : 8;
        py_cb_s **p = realloc(pe->cbs, n * sizeof *p);
        if (!p) return PyErr_NoMemory();
        pe->cbs = p;
        pe->cap_cbs = n;
    }
    py_cb_s *cb = calloc(1, sizeof *cb);
    if (!cb) return PyErr_NoMemory();
    Py_INCREF(dispatch);
    cb->dispatch = dispatch;
    cc.cb.stream_start = py_ch_start;
    cc.cb.stream_stop = py_ch_stop;
    cc.cb.capture_picture = pictures ? py_ch_capture : NULL;
    cc.cb.picture_result = pictures ? py_ch_result : NULL;
    cc.cb.notify = py_notify;
    cc.cb.user = cb;
    /* Registered before the open: the engine may call back at once. */
    pe->cbs[pe->n_cbs++] = cb;
    ivcs_channel_s *ch = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_channel_open(pe->e, &cc, &ch);
    Py_END_ALLOW_THREADS
    if (rc) {
        pe->n_cbs--;
        py_cb_clear(cb);
        free(cb);
        return Py_BuildValue("(iOII)", rc, Py_None, 0u, 0u);
    }
    PyObject *chcap = PyCapsule_New(ch, PY_CHANNEL_CAP, NULL);
    if (!chcap) return NULL;
    return Py_BuildValue("(iNII)", 0, chcap, (unsigned)ivcs_channel_index(ch),
                         (unsigned)ivcs_channel_max_frame(ch));
}

/* The hot path: py_push(channel_cap, video: bool, data (buffer), pts_ms,
 * key: bool, seq) -> rc. The frame is read in place through the buffer
 * protocol and copied once, into the ring. A channel capsule of the seed
 * API is None: iv_cs_push_stream. */
static PyObject *py_push(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "py_push takes 6 arguments");
        return NULL;
    }
    ivcs_channel_s *ch = NULL;
    if (args[0] != Py_None) {
        ch = PyCapsule_GetPointer(args[0], PY_CHANNEL_CAP);
        if (!ch) return NULL;
    }
    int video = PyObject_IsTrue(args[1]);
    unsigned long long pts = PyLong_AsUnsignedLongLong(args[3]);
    if (pts == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    int key = PyObject_IsTrue(args[4]);
    unsigned long seq = PyLong_AsUnsignedLong(args[5]);
    if (seq == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    if (video < 0 || key < 0) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[2], &view, PyBUF_SIMPLE) < 0) return NULL;
    if (view.len > UINT32_MAX) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_OverflowError, "ivcs: frame larger than 4 GiB");
        return NULL;
    }
    int rc;
    if (video) {
        iv_cm_venc_pack_s p = {(uint8_t *)view.buf, (uint32_t)view.len, pts,
                               key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P, (uint32_t)seq};
        rc = ch ? ivcs_channel_push_video(ch, &p)
                : (int)iv_cs_push_stream(IV_CM_STREAM_TYPE_VIDEO, &p);
    } else {
        iv_cm_aenc_pack_s p;
        memset(&p, 0, sizeof p);
        p.pu8Addr = (uint8_t *)view.buf;
        p.u32Len = (uint32_t)view.len;
        p.u64PTS = pts;
        p.u32Seq = (uint32_t)seq;
        rc = ch ? ivcs_channel_push_audio(ch, &p)
                : (int)iv_cs_push_stream(IV_CM_STREAM_TYPE_AUDIO, &p);
    }
    PyBuffer_Release(&view);
    return PyLong_FromLong(rc);
}

/* py_channel_event(cap, start: bool, id, event_s, stream_s) -> rc */
static PyObject *py_channel_event(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    int start, id;
    unsigned ev_s, st_s;
    if (!PyArg_ParseTuple(args, "OpiII", &cap, &start, &id, &ev_s, &st_s)) return NULL;
    ivcs_channel_s *ch = PyCapsule_GetPointer(cap, PY_CHANNEL_CAP);
    if (!ch) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = start ? ivcs_channel_event_start(ch, id, ev_s, st_s) : ivcs_channel_event_stop(ch, id, ev_s, st_s);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

static PyObject *py_channel_stats(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    ivcs_channel_s *ch = PyCapsule_GetPointer(cap, PY_CHANNEL_CAP);
    if (!ch) return NULL;
    ivcs_channel_stats_s s;
    ivcs_channel_stats(ch, &s);
    return py_channel_stats_dict(&s);
}

/* py_seed_init(config_json | None, budget, av, dispatch, pictures) -> rc.
 * config_json None: $IVCS_CONFIG as iv_cs_init reads it. */
static PyObject *py_seed_init(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *json, *av, *dispatch;
    unsigned budget;
    int pictures;
    if (!PyArg_ParseTuple(args, "OIOOp", &json, &budget, &av, &dispatch, &pictures)) return NULL;
    iv_cs_init_parm_s p;
    memset(&p, 0, sizeof p);
    p.u32MaxGopSize = budget;
    if (py_get_av(av, &p.av_fmt) < 0) return NULL;
    if (json != Py_None) {
        ivcs_config_s c;
        if (py_parse_cfg(json, &c) < 0) return NULL;
        ivcs_set_default_config(&c);
    } else {
        ivcs_set_default_config(NULL);
    }
    if (ivcs_default_engine()) return PyLong_FromLong(IV_ERR_CS_INIT_REPEAT);
    py_cb_clear(&py_seed_cb);
    Py_INCREF(dispatch);
    py_seed_cb.dispatch = dispatch;
    py_seed_cb.seed = 1;
    p.iv_cs_push_stream_start_cb = py_seed_start;
    p.iv_cs_push_stream_stop_cb = py_seed_stop;
    p.iv_cs_event_capture_picture_cb = pictures ? py_seed_capture : NULL;
    p.iv_cs_event_picture_result_cb = pictures ? py_seed_result : NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = iv_cs_init(&p);
    Py_END_ALLOW_THREADS
    if (rc) py_cb_clear(&py_seed_cb);
    return PyLong_FromLong(rc);
}

static PyObject *py_seed_exit(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = iv_cs_exit();
    Py_END_ALLOW_THREADS
    if (!ivcs_default_engine()) py_cb_clear(&py_seed_cb);
    return PyLong_FromLong(rc);
}

static PyObject *py_seed_push(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "py_seed_push takes 5 arguments");
        return NULL;
    }
    PyObject *a[6] = {Py_None, args[0], args[1], args[2], args[3], args[4]};
    return py_push(self, a, 6);
}

/* py_seed_event(start: bool, id, event_s, stream_s, ext: bool) -> rc */
static PyObject *py_seed_event(PyObject *self, PyObject *args)
{
    (void)self;
    int start, id, ext;
    unsigned ev_s, st_s;
    if (!PyArg_ParseTuple(args, "piIIp", &start, &id, &ev_s, &st_s, &ext)) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    if (ext)
        rc = start ? iv_cs_event_start_ext(id, ev_s, st_s) : iv_cs_event_stop_ext(id, ev_s, st_s);
    else
        rc = start ? iv_cs_event_start(id) : iv_cs_event_stop(id);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

static PyObject *py_seed_plan(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned timeout_s;
    if (!PyArg_ParseTuple(args, "I", &timeout_s)) return NULL;
    iv_cs_balance_info_s b;
    memset(&b, 0, sizeof b);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = iv_cs_get_balance_info(&b, timeout_s);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(iN)", rc, py_plan_tuple(&b));
}

/* py_seed_stats() -> (rc, channel dict | None, engine dict | None): live
 * while initialised, else the last iv_cs_exit's. */
static PyObject *py_seed_stats(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    ivcs_channel_stats_s cs;
    ivcs_engine_stats_s es;
    int rc = 0;
    ivcs_channel_s *ch = ivcs_default_channel();
    if (ch) {
        ivcs_channel_stats(ch, &cs);
        ivcs_engine_stats(ivcs_default_engine(), &es);
    } else {
        rc = ivcs_default_last_stats(&cs, &es);
    }
    if (rc) return Py_BuildValue("(iOO)", rc, Py_None, Py_None);
    return Py_BuildValue("(iNN)", 0, py_channel_stats_dict(&cs), py_engine_stats_dict(&es));
}

/* ---------------------------------------------------------------- viewer
 * Every call releases the GIL while it talks to the bucket. A viewer is
 * used by one thread at a time: the package holds a lock per viewer. */
static const char PY_VIEWER_CAP[] = "ivcs.viewer";

static void py_viewer_capsule_free(PyObject *cap)
{
    ivcs_viewer_s **pv = PyCapsule_GetPointer(cap, PY_VIEWER_CAP);
    if (!pv) {
        PyErr_Clear();
        return;
    }
    if (*pv) ivcs_viewer_close(*pv);
    free(pv);
}

static ivcs_viewer_s *py_viewer_of(PyObject *cap)
{
    ivcs_viewer_s **pv = PyCapsule_GetPointer(cap, PY_VIEWER_CAP);
    if (pv && !*pv) {
        PyErr_SetString(PyExc_ValueError, "ivcs: viewer closed");
        return NULL;
    }
    return pv ? *pv : NULL;
}

/* py_viewer_open(config_json) -> (rc, message, capsule | None) */
static PyObject *py_viewer_open(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *json;
    if (!PyArg_ParseTuple(args, "S", &json)) return NULL;
    ivcs_config_s c;
    if (py_parse_cfg(json, &c) < 0) return NULL;
    ivcs_viewer_s **pv = calloc(1, sizeof *pv);
    if (!pv) return PyErr_NoMemory();
    char err[512] = "";
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_viewer_open(pv, &c, NULL, err, sizeof err);
    Py_END_ALLOW_THREADS
    memset(c.secret_key, 0, sizeof c.secret_key);
    if (rc) {
        free(pv);
        return Py_BuildValue("(isO)", rc, err, Py_None);
    }
    PyObject *cap = PyCapsule_New(pv, PY_VIEWER_CAP, py_viewer_capsule_free);
    if (!cap) {
        ivcs_viewer_close(*pv);
        free(pv);
        return NULL;
    }
    return Py_BuildValue("(isN)", 0, "", cap);
}

static PyObject *py_viewer_close(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    ivcs_viewer_s **pv = PyCapsule_GetPointer(cap, PY_VIEWER_CAP);
    if (!pv) return NULL;
    if (*pv) {
        ivcs_viewer_s *v = *pv;
        *pv = NULL;
        Py_BEGIN_ALLOW_THREADS
        ivcs_viewer_close(v);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

/* -> (code, status, s3_code, message, detail, request_id) */
static PyObject *py_viewer_error(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    const ivcs_viewer_error_s *e = ivcs_viewer_last_error(v);
    return Py_BuildValue("(iis#s#s#s#)", e->code, e->status, e->s3_code,
                         (Py_ssize_t)strnlen(e->s3_code, sizeof e->s3_code), e->message,
                         (Py_ssize_t)strnlen(e->message, sizeof e->message), e->detail,
                         (Py_ssize_t)strnlen(e->detail, sizeof e->detail), e->request_id,
                         (Py_ssize_t)strnlen(e->request_id, sizeof e->request_id));
}

static PyObject *py_viewer_exists(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_viewer_device_exists(v);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

/* py_viewer_days(cap, ch, events) -> (rc, [day numbers]) */
static PyObject *py_viewer_days(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    unsigned ch;
    int events;
    if (!PyArg_ParseTuple(args, "OIp", &cap, &ch, &events)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    ivcs_viewer_days_s d;
    memset(&d, 0, sizeof d);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_viewer_days(v, ch, events, &d);
    Py_END_ALLOW_THREADS
    PyObject *l = PyList_New(0);
    for (size_t i = 0; l && rc == 0 && i < d.n; i++) {
        PyObject *x = PyLong_FromLongLong(d.day[i]);
        if (!x || PyList_Append(l, x) < 0) Py_CLEAR(l);
        Py_XDECREF(x);
    }
    ivcs_viewer_days_free(&d);
    if (!l) return NULL;
    return Py_BuildValue("(iN)", rc, l);
}

static int py_slices_get(ivcs_viewer_s *v, unsigned ch, long long from, long long to,
                         unsigned flags, ivcs_viewer_slices_s *sl)
{
    int rc;
    memset(sl, 0, sizeof *sl);
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_viewer_list_slices(v, ch, from, to, flags, sl);
    Py_END_ALLOW_THREADS
    return rc;
}

/* py_viewer_slices(cap, ch, from, to, flags, gap_ms) -> (rc, [slice tuples],
 * [range tuples], foreign). Slice: (key, size, start_ms, dur_ms, boot, seq,
 * keyframe); range: (start_ms, end_ms, first, count, boots). */
static PyObject *py_viewer_slices(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    unsigned ch, flags, gap;
    long long from, to;
    if (!PyArg_ParseTuple(args, "OILLII", &cap, &ch, &from, &to, &flags, &gap)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    ivcs_viewer_slices_s sl;
    int rc = py_slices_get(v, ch, from, to, flags, &sl);
    if (rc < 0) {
        ivcs_viewer_slices_free(&sl);
        return Py_BuildValue("(iOOi)", rc, Py_None, Py_None, 0);
    }
    PyObject *ls = PyList_New((Py_ssize_t)sl.n), *lr = NULL;
    ivcs_viewer_range_s *rg = calloc(sl.n ? sl.n : 1, sizeof *rg);
    if (!ls || !rg) goto fail;
    for (size_t i = 0; i < sl.n; i++) {
        const ivcs_viewer_slice_s *x = &sl.v[i];
        PyObject *t = Py_BuildValue("(sKLIIIO)", x->key, (unsigned long long)x->size,
                                    (long long)x->start_ms, (unsigned)x->dur_ms, (unsigned)x->boot,
                                    (unsigned)x->seq, x->keyframe ? Py_True : Py_False);
        if (!t) goto fail;
        PyList_SET_ITEM(ls, (Py_ssize_t)i, t);
    }
    size_t nr = ivcs_viewer_ranges(sl.v, sl.n, gap, rg);
    lr = PyList_New((Py_ssize_t)nr);
    if (!lr) goto fail;
    for (size_t i = 0; i < nr; i++) {
        PyObject *t = Py_BuildValue("(LLnnI)", (long long)rg[i].start_ms, (long long)rg[i].end_ms,
                                    (Py_ssize_t)rg[i].first, (Py_ssize_t)rg[i].count,
                                    (unsigned)rg[i].boots);
        if (!t) goto fail;
        PyList_SET_ITEM(lr, (Py_ssize_t)i, t);
    }
    free(rg);
    size_t foreign = sl.foreign;
    ivcs_viewer_slices_free(&sl);
    return Py_BuildValue("(iNNn)", rc, ls, lr, (Py_ssize_t)foreign);
fail:
    Py_XDECREF(ls);
    Py_XDECREF(lr);
    free(rg);
    ivcs_viewer_slices_free(&sl);
    return PyErr_Occurred() ? NULL : PyErr_NoMemory();
}

/* py_viewer_playlist(cap, ch, from, to, expires, gap_ms) -> (rc, text | None, n) */
static PyObject *py_viewer_playlist(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    unsigned ch, expires, gap;
    long long from, to;
    if (!PyArg_ParseTuple(args, "OILLII", &cap, &ch, &from, &to, &expires, &gap)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    ivcs_viewer_slices_s sl;
    int rc = py_slices_get(v, ch, from, to, IVCS_VIEWER_FROM_KEYFRAME, &sl);
    ivcs_viewer_text_s t;
    memset(&t, 0, sizeof t);
    size_t n = sl.n;
    if (rc >= 0 && n == 0) rc = IVCS_ERR_NOT_FOUND;
    if (rc >= 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = ivcs_viewer_playlist(v, sl.v, sl.n, expires, gap, &t);
        Py_END_ALLOW_THREADS
    }
    PyObject *r;
    if (rc < 0)
        r = Py_BuildValue("(iOn)", rc, Py_None, (Py_ssize_t)n);
    else
        r = Py_BuildValue("(is#n)", rc, t.p, (Py_ssize_t)t.len, (Py_ssize_t)n);
    ivcs_viewer_text_free(&t);
    ivcs_viewer_slices_free(&sl);
    return r;
}

/* py_viewer_export(cap, ch, from, to, fd) -> (rc, bytes, slices) */
static PyObject *py_viewer_export(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    unsigned ch;
    long long from, to;
    int fd;
    if (!PyArg_ParseTuple(args, "OILLi", &cap, &ch, &from, &to, &fd)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    ivcs_viewer_slices_s sl;
    int rc = py_slices_get(v, ch, from, to, IVCS_VIEWER_FROM_KEYFRAME, &sl);
    uint64_t bytes = 0;
    size_t n = sl.n;
    if (rc >= 0 && n == 0) rc = IVCS_ERR_NOT_FOUND;
    if (rc >= 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = ivcs_viewer_export(v, sl.v, sl.n, fd, &bytes);
        Py_END_ALLOW_THREADS
    }
    ivcs_viewer_slices_free(&sl);
    return Py_BuildValue("(iKn)", rc, (unsigned long long)bytes, (Py_ssize_t)n);
}

static PyObject *py_opt_ms(int64_t ms)
{
    if (ms == IVCS_VIEWER_TIME_NONE) Py_RETURN_NONE;
    return PyLong_FromLongLong(ms);
}

/* py_viewer_events(cap, ch, from, to, key | None) -> (rc, [event tuples], bad).
 * Event: (key, event_id, channel, info, event_start_ms, event_stop_ms|None,
 * stream_start_ms, stream_stop_ms|None, picture|None, picture_listed,
 * picture_refused). A key: that one record (ivcs_viewer_get_event). */
static PyObject *py_viewer_events(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    unsigned ch;
    long long from, to;
    const char *key;
    if (!PyArg_ParseTuple(args, "OILLz", &cap, &ch, &from, &to, &key)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    ivcs_viewer_events_s ev;
    memset(&ev, 0, sizeof ev);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = key ? ivcs_viewer_get_event(v, key, &ev) : ivcs_viewer_list_events(v, ch, from, to, &ev);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        ivcs_viewer_events_free(&ev);
        return Py_BuildValue("(iOi)", rc, Py_None, 0);
    }
    PyObject *l = PyList_New((Py_ssize_t)ev.n);
    for (size_t i = 0; l && i < ev.n; i++) {
        const ivcs_viewer_event_s *e = &ev.v[i];
        PyObject *t = Py_BuildValue("(siIsLNLNzOO)", e->key, (int)e->event_id, (unsigned)e->channel,
                                    e->info ? e->info : "", (long long)e->event_start_ms,
                                    py_opt_ms(e->event_stop_ms), (long long)e->stream_start_ms,
                                    py_opt_ms(e->stream_stop_ms), e->picture,
                                    e->picture_listed ? Py_True : Py_False,
                                    e->picture_refused ? Py_True : Py_False);
        if (!t) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, t);
    }
    size_t bad = ev.bad;
    ivcs_viewer_events_free(&ev);
    if (!l) return NULL;
    return Py_BuildValue("(iNn)", rc, l, (Py_ssize_t)bad);
}

/* py_viewer_get_object(cap, key, max) -> (rc, bytes | None) */
static PyObject *py_viewer_get_object(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    const char *key;
    Py_ssize_t max;
    if (!PyArg_ParseTuple(args, "Osn", &cap, &key, &max)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    if (max < 0) max = 0;
    ivcs_viewer_text_s t;
    memset(&t, 0, sizeof t);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_viewer_get_object(v, key, (size_t)max, &t);
    Py_END_ALLOW_THREADS
    PyObject *r = rc < 0 ? Py_BuildValue("(iO)", rc, Py_None)
                         : Py_BuildValue("(iy#)", rc, t.p, (Py_ssize_t)t.len);
    ivcs_viewer_text_free(&t);
    return r;
}

/* py_viewer_plan_get(cap, now_s) -> (rc, (switch, type, days, expire_utc,
 * trial_s, service, trial_remaining_s)) */
static PyObject *py_viewer_plan_get(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    long long now_s;
    if (!PyArg_ParseTuple(args, "OL", &cap, &now_s)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    ivcs_viewer_plan_s p;
    memset(&p, 0, sizeof p);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_viewer_plan_get(v, now_s, &p);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(i(iiiLiii))", rc, p.cs_switch, p.cs_type, (int)p.cs_days,
                         (long long)p.expire_utc, (int)p.free_trial_remaining_sec, p.service,
                         (int)p.trial_remaining_sec);
}

/* py_viewer_plan_set(cap, switch, type, days, expire_utc, trial_s) -> rc */
static PyObject *py_viewer_plan_set(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    int sw, type, days, trial;
    long long expire;
    if (!PyArg_ParseTuple(args, "OiiiLi", &cap, &sw, &type, &days, &expire, &trial)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    ivcs_viewer_plan_s p;
    memset(&p, 0, sizeof p);
    p.cs_switch = sw;
    p.cs_type = type;
    p.cs_days = days;
    p.expire_utc = expire;
    p.free_trial_remaining_sec = trial;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_viewer_plan_set(v, &p);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

/* py_viewer_presign(cap, full key, expires) -> (rc, url or None) */
static PyObject *py_viewer_presign(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap;
    const char *key;
    unsigned expires;
    if (!PyArg_ParseTuple(args, "OsI", &cap, &key, &expires)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    ivcs_viewer_text_s t;
    memset(&t, 0, sizeof t);
    int rc = ivcs_viewer_presign(v, key, (uint32_t)expires, &t); /* no request is sent */
    PyObject *r = rc < 0 ? Py_BuildValue("(iO)", rc, Py_None)
                         : Py_BuildValue("(is#)", rc, t.p, (Py_ssize_t)t.len);
    ivcs_viewer_text_free(&t);
    return r;
}

/* py_viewer_cors_set(cap, [origin str, ...]) -> rc (at most 16 origins) */
static PyObject *py_viewer_cors_set(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *list;
    if (!PyArg_ParseTuple(args, "OO!", &cap, &PyList_Type, &list)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (n > 16) return PyLong_FromLong(IVCS_ERR_INVALID_ARG);
    const char *o[16];
    for (Py_ssize_t i = 0; i < n; i++) {
        o[i] = PyUnicode_AsUTF8(PyList_GET_ITEM(list, i)); /* borrowed, lives with list */
        if (!o[i]) return NULL;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ivcs_viewer_cors_set(v, o, (size_t)n);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(rc);
}

/* py_viewer_retention(cap, days: None to read | n to set) -> (rc, days) */
static PyObject *py_viewer_retention(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *set;
    if (!PyArg_ParseTuple(args, "OO", &cap, &set)) return NULL;
    ivcs_viewer_s *v = py_viewer_of(cap);
    if (!v) return NULL;
    uint32_t days = 0;
    if (set != Py_None) {
        unsigned long d = PyLong_AsUnsignedLong(set);
        if (PyErr_Occurred()) return NULL;
        days = (uint32_t)d;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = set == Py_None ? ivcs_viewer_retention_get(v, &days) : ivcs_viewer_retention_set(v, days);
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(iI)", rc, (unsigned)days);
}

/* The C side of bench/py_push.py: py_bench_c_push(channel, frames, n,
 * pts0, step_ms) pushes frames[i % len] ((bytes, key) tuples) n times with
 * ivcs_channel_push_video in a C loop (GIL held, as a Python push) and
 * returns (total ns, refused, next pts). */
static PyObject *py_bench_c_push(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *frames;
    Py_ssize_t n;
    unsigned long long pts;
    unsigned step;
    if (!PyArg_ParseTuple(args, "OO!nKI", &cap, &PyList_Type, &frames, &n, &pts, &step))
        return NULL;
    ivcs_channel_s *ch = PyCapsule_GetPointer(cap, PY_CHANNEL_CAP);
    if (!ch) return NULL;
    Py_ssize_t nf = PyList_GET_SIZE(frames);
    if (nf == 0) return Py_BuildValue("(KnK)", 0ull, (Py_ssize_t)0, pts);
    iv_cm_venc_pack_s *pk = calloc((size_t)nf, sizeof *pk);
    if (!pk) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < nf; i++) {
        PyObject *t = PyList_GET_ITEM(frames, i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(t, 0))) {
            free(pk);
            PyErr_SetString(PyExc_TypeError, "frames: [(bytes, key)]");
            return NULL;
        }
        PyObject *b = PyTuple_GET_ITEM(t, 0);
        pk[i].pu8Addr = (uint8_t *)PyBytes_AS_STRING(b);
        pk[i].u32Len = (uint32_t)PyBytes_GET_SIZE(b);
        pk[i].eFrameType = PyObject_IsTrue(PyTuple_GET_ITEM(t, 1)) ? IV_CM_FRAME_TYPE_I
                                                                     : IV_CM_FRAME_TYPE_P;
    }
    Py_ssize_t refused = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (Py_ssize_t i = 0; i < n; i++) {
        iv_cm_venc_pack_s *p = &pk[i % nf];
        p->u64PTS = pts;
        p->u32Seq = (uint32_t)i;
        pts += step;
        if (ivcs_channel_push_video(ch, p)) refused++;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    free(pk);
    unsigned long long ns = (unsigned long long)(b.tv_sec - a.tv_sec) * 1000000000ull +
                            (unsigned long long)b.tv_nsec - (unsigned long long)a.tv_nsec;
    return Py_BuildValue("(KnK)", ns, refused, pts);
}

/* True when the engine's default allocator is libc (the extension is not
 * linked with jemalloc; see bindings/python/CMakeLists.txt). */
static PyObject *py_allocator_is_libc(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyBool_FromLong(ivcs_allocator_default_jemalloc() == NULL);
}

/* The push functions take their arguments as a vector (METH_FASTCALL): no
 * argument tuple on the hot path. */
static PyMethodDef py_fast_methods[] = {
    {"py_push", (PyCFunction)(void (*)(void))py_push, METH_FASTCALL,
     "py_push(channel, video, data, pts_ms, key, seq) -> rc"},
    {"py_seed_push", (PyCFunction)(void (*)(void))py_seed_push, METH_FASTCALL,
     "py_seed_push(video, data, pts_ms, key, seq) -> rc"},
    {NULL, NULL, 0, NULL}};
%}

%init %{
    if (PyModule_AddFunctions(m, py_fast_methods) < 0) return NULL;
%}
