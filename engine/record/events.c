/* events.c - a channel's event uploads on the engine thread: the event
 * record JSON (written at start, rewritten at stop) and the picture JPEG,
 * with retries, and the picture_result callback for each picture. */
#include <stdlib.h>
#include <string.h>

#include "engine/layout/event_record.h"
#include "engine/net/retry.h"
#include "engine/record/engine_internal.h"

/* ---------------------------------------------------------------- events */

static void pic_result(ivcs_channel_s *c, uint8_t *pic, int err)
{
    if (c->cfg.cb.picture_result) c->cfg.cb.picture_result(c->cfg.cb.user, c->index, &pic, err);
}

void ivcs_up_pic_give_back(ivcs_channel_s *c, eng_event_s *x, int err)
{
    if (!x->pic) return;
    uint8_t *pic = x->pic;
    x->pic = NULL;
    x->pic_pending = 0;
    if ((c->aux.active || c->aux.spooling) && c->aux.is_pic && c->aux.pic == pic &&
        &c->ev[c->aux.slot] == x) {
        /* stale from now on: on_aux_done / on_aux_spooled gives it back */
        c->aux.gen = x->gen - 1;
        return;
    }
    pic_result(c, pic, err);
}

/* A failed event PUT: retried from RAM, at most 8 attempts (a picture
 * then goes back to the firmware with an error, a record is abandoned). */
void ivcs_up_aux_retry(ivcs_channel_s *c, eng_event_s *x, int is_pic, int64_t now)
{
    int retry = x->attempts < 8; /* as for slices: transient 4xx happen */
    x->retry_at = now + ivcs_retry_backoff_ms(x->attempts++, &c->eng->rng_state);
    if (!retry) {
        if (is_pic)
            ivcs_up_pic_give_back(c, x, IV_ERR_CS_HTTP_DATA_FAIL);
        else
            x->json_dirty = 0;
    } else if (!is_pic) {
        x->json_dirty = 1;
    }
}

static void on_aux_done(ivcs_s3_op *op, int result)
{
    ivcs_channel_s *c = op->arg;
    eng_aux_s *a = &c->aux;
    eng_event_s *x = &c->ev[a->slot];
    a->active = 0;
    int64_t now = ivcs_eng_now(c->eng);
    if (a->gen != x->gen) {
        /* the slot was reused (or the picture given back) while this PUT
         * ran: the result belongs to the old event only */
        if (a->is_pic) {
            if (result == 0) ivcs_eng_bump(&c->st_pics, 1);
            pic_result(c, a->pic, result == 0 ? 0 : IV_ERR_CS_HTTP_DATA_FAIL);
        }
        a->pic = NULL;
        ivcs_s3_op_cleanup(op);
        return;
    }
    a->pic = NULL;
    if (result == 0) {
        x->attempts = 0;
        if (a->is_pic) {
            x->pic_pending = 0;
            x->pic_done = 1;
            x->json_dirty = 1; /* the record now names the picture */
            ivcs_eng_bump(&c->st_pics, 1);
            uint8_t *pic = x->pic;
            x->pic = NULL;
            pic_result(c, pic, 0);
        } else {
            x->rec_written = 1;
            ivcs_eng_bump(&c->st_records, 1);
            ivcs_notify_s n = {.kind = IVCS_NOTIFY_EVENT_WRITTEN, .key = a->key};
            ivcs_eng_notify(c, &n);
        }
    } else if (a->is_pic || (x->state == 2 && !x->json_dirty && !x->pic_pending)) {
        /* A picture, or the final version of the record (no newer one can
         * follow it under this key), goes to the spool if there is one,
         * like a slice: backfilled later under its key. */
        uint64_t len = a->op.body_len;
        ivcs_s3_op_cleanup(op);
        if (ivcs_up_spool_aux(c, a->is_pic ? x->pic : (const uint8_t *)a->json, (size_t)len,
                              now) == 0) {
            if (a->is_pic) a->pic = x->pic;
            return;
        }
        ivcs_up_aux_retry(c, x, a->is_pic, now);
        return;
    } else {
        ivcs_up_aux_retry(c, x, a->is_pic, now);
    }
    ivcs_s3_op_cleanup(op);
}

int ivcs_up_aux_service(ivcs_channel_s *c, int64_t now)
{
    eng_aux_s *a = &c->aux;
    if (a->active || a->spooling) return 0;
    ivcs_engine_s *e = c->eng;
    for (int i = 0; i < ENG_EVENTS; i++) {
        eng_event_s *x = &c->ev[i];
        if (!x->state || (!x->json_dirty && !x->pic_pending) || now < x->retry_at) continue;
        a->slot = i;
        int rc = ivcs_layout_event_key(&e->layout, c->index, x->ev_start, x->id, 1, a->pic_key,
                                       sizeof a->pic_key);
        if (rc >= 0)
            rc = ivcs_layout_event_key(&e->layout, c->index, x->ev_start, x->id, 0, a->key,
                                       sizeof a->key);
        if (rc < 0) {
            x->json_dirty = 0;
            ivcs_up_pic_give_back(c, x, IV_ERR_CS_HTTP_DATA_FAIL);
            continue;
        }
        /* record first (open), then the picture, then the record naming it */
        a->is_pic = !(x->json_dirty && (!x->rec_written || !x->pic_pending));
        /* with a spool, a record that failed does not hold the picture
         * back: the picture's PUT is tried (and spooled if it fails too),
         * then the record names it */
        if (e->spool && x->pic_pending && x->attempts > 0) a->is_pic = 1;
        ivcs_s3_op_init(&a->op, IVCS_S3_PUT, a->is_pic ? a->pic_key : a->key);
        if (a->is_pic) {
            a->op.body = x->pic;
            a->op.body_len = (uint64_t)x->pic_len;
            a->op.content_type = "image/jpeg";
        } else {
            ivcs_event_record_s r = {
                .event_id = x->id,
                .channel = c->index,
                .info = "",
                .event_start_ms = x->ev_start,
                .event_stop_ms = x->state == 2 ? x->ev_stop : IVCS_EVENT_TIME_NONE,
                .stream_start_ms = x->st_start,
                .stream_stop_ms = x->state == 2 ? x->st_stop : IVCS_EVENT_TIME_NONE,
                .picture = x->pic_done ? a->pic_key : NULL};
            int n = ivcs_event_record_write(&r, a->json, sizeof a->json);
            if (n < 0) {
                x->json_dirty = 0;
                continue;
            }
            x->json_dirty = 0; /* set again if the PUT fails or the event changes */
            a->op.body = (const uint8_t *)a->json;
            a->op.body_len = (uint64_t)n;
            a->op.content_type = "application/json";
        }
        a->op.on_done = on_aux_done;
        a->op.arg = c;
        a->gen = x->gen;
        a->pic = a->is_pic ? x->pic : NULL;
        if (ivcs_s3_start(e->s3, &a->op) < 0) {
            if (!a->is_pic) x->json_dirty = 1;
            x->retry_at = now + 1000;
            continue;
        }
        a->active = 1;
        return 1;
    }
    return 0;
}

