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
    if (c->aux.active && c->aux.is_pic && c->aux.pic == pic && &c->ev[c->aux.slot] == x) {
        c->aux.gen = x->gen - 1; /* stale from now on: on_aux_done gives it back */
        return;
    }
    pic_result(c, pic, err);
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
    } else {
        int retry = x->attempts < 8; /* as for slices: transient 4xx happen */
        x->retry_at = now + ivcs_retry_backoff_ms(x->attempts++, &c->eng->rng_state);
        if (!retry) {
            if (a->is_pic) {
                ivcs_up_pic_give_back(c, x, IV_ERR_CS_HTTP_DATA_FAIL);
            } else {
                x->json_dirty = 0;
            }
        } else if (!a->is_pic) {
            x->json_dirty = 1;
        }
    }
    ivcs_s3_op_cleanup(op);
}

int ivcs_up_aux_service(ivcs_channel_s *c, int64_t now)
{
    eng_aux_s *a = &c->aux;
    if (a->active) return 0;
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

