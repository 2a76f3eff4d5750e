/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c - the ingest engine: spool -> decode -> validate -> store.
 *
 * The source thread only appends to the spool (mdx_engine_submit). The
 * writer thread owns everything else: it reads spool records, turns each
 * into points, an event or a dead letter, and commits them in batches
 * with the spool position reached. A failed commit is retried with
 * back-off; the records stay in the spool until the store has them.
 *
 * With a pull source (mdx_engine_create_pull) the writer takes records
 * from the source instead, and each batch carries the source's positions
 * in place of the spool checkpoint; the source itself resumes from them.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "pipeline/registry.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/decode.h"
#include "modax/engine.h"
#include "modax/log.h"
#include "modax/source.h"
#include "modax/spool.h"
#include "modax/stage.h"
#include "modax/status.h"
#include "modax/validate.h"

#define MOD "ingest"
#define EVENTS_PER_BATCH 1024

const struct mdx_conf_key mdx_engine_conf_keys[] = {
    MDX_CONF_STR("ingest.source", "mqtt", struct mdx_engine_conf, source,
                 "Where device data comes from: mqtt (mqtt.*), kafka (kafka.*) or pubsub (pubsub.*)"),
    MDX_CONF_STR("ingest.spool_dir", "var/spool", struct mdx_engine_conf, spool_dir,
                 "Directory of the durable spool between MQTT and the store"),
    MDX_CONF_INT("ingest.spool_max_mb", "1024", 1, 1048576, struct mdx_engine_conf, spool_max_mb,
                 "Spool backlog (MiB) at which the MQTT client stops reading"),
    MDX_CONF_INT("ingest.spool_segment_mb", "64", 1, 4096, struct mdx_engine_conf,
                 spool_segment_mb, "Size of one spool segment file (MiB)"),
    MDX_CONF_INT("ingest.spool_fsync_ms", "1000", 0, 3600000, struct mdx_engine_conf,
                 spool_fsync_ms, "fdatasync the spool at most this often (0: every message)"),
    MDX_CONF_INT("ingest.max_payload_bytes", "262144", 64, 16777216, struct mdx_engine_conf,
                 max_payload_bytes, "Larger payloads become dead letters"),
    MDX_CONF_INT("ingest.max_points_per_msg", "4096", 1, 65536, struct mdx_engine_conf,
                 max_points_per_msg, "Points one message may carry (all readings of a batch)"),
    MDX_CONF_INT("ingest.batch_msgs", "10000", 1, 1000000, struct mdx_engine_conf, batch_msgs,
                 "Messages per store transaction, at most"),
    MDX_CONF_INT("ingest.batch_ms", "100", 1, 60000, struct mdx_engine_conf, batch_ms,
                 "How long a store batch may wait to fill (ms)"),
    MDX_CONF_BOOL("ingest.auto_register", "false", struct mdx_engine_conf, auto_register,
                  "Register unknown devices of known tenants on first message (demo)"),
    MDX_CONF_INT("ingest.registry_cache", "20000", 16, 10000000, struct mdx_engine_conf,
                 registry_cache, "(tenant, device) pairs the ingest remembers"),
    MDX_CONF_INT("ingest.retry_max_ms", "2000", 10, 600000, struct mdx_engine_conf, retry_max_ms,
                 "Longest back-off between store retries (ms)"),
    MDX_CONF_INT("ingest.stats_interval_s", "60", 0, 86400, struct mdx_engine_conf,
                 stats_interval_s, "Period of the ingest statistics log line (0: off)"),
    MDX_CONF_END,
};

struct names {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
};

/* The batch being built by the writer; every array is sized at creation. */
struct batch {
    struct mdx_point *points;
    size_t n_points, cap_points;
    struct mdx_point_group *groups;
    struct names *group_names;
    size_t n_groups, cap_groups;
    struct mdx_event *events;
    struct mdx_event_rec *event_recs;
    struct names *event_names;
    size_t n_events;
    struct mdx_deadletter *dead;
    size_t n_dead;
    struct mdx_spool_pos end;
    size_t n_records;
};

struct reason_count {
    const char *reason;           /* static string from a stage */
    atomic_uint_fast64_t n;
};

struct mdx_engine {
    struct mdx_engine_conf conf;  /* copy; strings borrowed from the caller's conf */
    struct mdx_store *store;
    struct mdx_spool *spool;      /* NULL with a pull source */
    const struct mdx_source_ops *pull; /* a pull source's operations, or NULL */
    void *pull_src;
    struct mdx_pull_host host;    /* what the pull source may ask of us */
    int pull_idle;                /* the pull source had nothing when last asked */
    struct mdx_registry *registry;
    struct mdx_stage stages[MDX_ENGINE_STAGES_MAX]; /* run in this order; see stage.h */
    size_t n_stages;
    struct batch batch;
    pthread_t writer;
    int started;
    atomic_int stopping;
    int handed_over;              /* the stages were told of the stop (handover) */
    int64_t drain_deadline_ms;
    struct mdx_spool_pos committed; /* spool position the store has */
    int checkpoint_pending;       /* the store was down at create: the writer finds it */

    atomic_uint_fast64_t msgs_received, msgs_stored, msgs_refused, points_written,
        points_duplicate, points_ts_substituted, events_written, batches, store_retries;
    atomic_uint_fast64_t commit_buckets[MDX_COMMIT_BUCKETS + 1], commit_us_sum;
    struct reason_count reasons[MDX_REASONS_MAX];
    atomic_int n_reasons;
};

static int batch_init(struct batch *b, const struct mdx_engine_conf *conf)
{
    b->cap_points = (size_t)conf->batch_msgs * 8 + (size_t)conf->max_points_per_msg;
    if (b->cap_points > 200000 + (size_t)conf->max_points_per_msg) {
        b->cap_points = 200000 + (size_t)conf->max_points_per_msg;
    }
    b->cap_groups = (size_t)conf->batch_msgs;
    b->points = mdx_calloc(b->cap_points, sizeof(*b->points));
    b->groups = mdx_calloc(b->cap_groups, sizeof(*b->groups));
    b->group_names = mdx_calloc(b->cap_groups, sizeof(*b->group_names));
    b->events = mdx_calloc(EVENTS_PER_BATCH, sizeof(*b->events));
    b->event_recs = mdx_calloc(EVENTS_PER_BATCH, sizeof(*b->event_recs));
    b->event_names = mdx_calloc(EVENTS_PER_BATCH, sizeof(*b->event_names));
    b->dead = mdx_calloc(b->cap_groups, sizeof(*b->dead));
    if (b->points == NULL || b->groups == NULL || b->group_names == NULL || b->events == NULL ||
        b->event_recs == NULL || b->event_names == NULL || b->dead == NULL) {
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

static void batch_fini(struct batch *b)
{
    mdx_free(b->points);
    mdx_free(b->groups);
    mdx_free(b->group_names);
    mdx_free(b->events);
    mdx_free(b->event_recs);
    mdx_free(b->event_names);
    mdx_free(b->dead);
}

static void batch_clear(struct batch *b)
{
    b->n_points = b->n_groups = b->n_events = b->n_dead = b->n_records = 0;
}

/* Room for one more message of any kind. */
static int batch_has_room(const struct batch *b, const struct mdx_engine_conf *conf)
{
    return b->n_groups < b->cap_groups && b->n_dead < b->cap_groups &&
           b->n_events < EVENTS_PER_BATCH &&
           b->cap_points - b->n_points >= (size_t)conf->max_points_per_msg;
}

static void count_reason(struct mdx_engine *e, const char *reason)
{
    int n = atomic_load(&e->n_reasons);

    for (int i = 0; i < n; i++) {
        if (e->reasons[i].reason == reason || strcmp(e->reasons[i].reason, reason) == 0) {
            atomic_fetch_add(&e->reasons[i].n, 1);
            return;
        }
    }
    if (n < MDX_REASONS_MAX) { /* only the writer thread adds reasons */
        e->reasons[n].reason = reason;
        atomic_store(&e->reasons[n].n, 1);
        atomic_store(&e->n_reasons, n + 1);
    }
}

static void refuse(struct mdx_engine *e, const struct mdx_spool_rec *rec, const struct mdx_msg *msg,
                   const char *why)
{
    struct batch *b = &e->batch;
    struct mdx_deadletter *dl = &b->dead[b->n_dead++];

    dl->recv_ms = rec->recv_ms;
    dl->reason = why;
    dl->topic = rec->topic;
    dl->payload = rec->payload;
    dl->payload_len = rec->len < MDX_DEADLETTER_PAYLOAD_MAX ? rec->len : MDX_DEADLETTER_PAYLOAD_MAX;
    dl->orig_len = rec->orig_len;
    count_reason(e, why);
    /* The message is the reason, so the logger's repeat suppression works per reason. */
    mdx_log_warn(MOD, why, MDX_F_STR("tenant", msg->tenant[0] ? msg->tenant : NULL),
                 MDX_F_STR("device", msg->device[0] ? msg->device : NULL),
                 MDX_F_STR("topic", rec->topic), MDX_F_INT("bytes", rec->orig_len),
                 MDX_F_STR("outcome", "dead letter"));
}

/* The registry's answer for the message's device; 'dev' borrows from 'msg' and the registry. */
static int registry_check(struct mdx_engine *e, const struct mdx_msg *msg,
                          struct mdx_device_ref *dev, const char **why)
{
    int64_t backoff = 10;

    for (;;) {
        int rc = mdx_registry_check(e->registry, msg->tenant, msg->device, mdx_now_ms(), dev, why);
        if (rc == MDX_OK || rc == MDX_EINVAL || atomic_load(&e->stopping) == 2) {
            return rc;
        }
        mdx_log_warn(MOD, "registry lookup failed, retrying", MDX_F_ERR(rc),
                     MDX_F_STR("tenant", msg->tenant), MDX_F_STR("device", msg->device));
        mdx_sleep_ms(backoff);
        backoff = backoff * 2 > e->conf.retry_max_ms ? e->conf.retry_max_ms : backoff * 2;
    }
}

/* Turns one spool record into points, an event or a dead letter of the batch. */
static int process_record(struct mdx_engine *e, const struct mdx_spool_rec *rec)
{
    struct batch *b = &e->batch;
    struct mdx_msg msg;
    struct mdx_device_ref dev;
    const char *why = NULL;
    int rc;

    memset(&msg, 0, sizeof(msg));
    msg.topic = rec->topic;
    msg.payload = rec->payload;
    msg.len = rec->len;
    msg.recv_ms = rec->recv_ms;
    if (mdx_validate_topic(rec->topic, &msg, &why) != MDX_OK) {
        refuse(e, rec, &msg, why);
        return MDX_OK;
    }
    if (rec->flags & MDX_SPOOL_TRUNCATED) {
        refuse(e, rec, &msg, "payload too large");
        return MDX_OK;
    }
    rc = registry_check(e, &msg, &dev, &why);
    if (rc == MDX_EINVAL) {
        refuse(e, rec, &msg, why);
        return MDX_OK;
    }
    if (rc != MDX_OK) {
        return rc;
    }
    if (msg.kind == MDX_MSG_SENSOR_DATA) {
        struct mdx_points pts = {.v = b->points + b->n_points, .n = 0,
                                 .cap = (size_t)e->conf.max_points_per_msg};
        struct mdx_point_group *g;

        rc = mdx_decode(&msg, &pts, &why);
        if (rc == MDX_OK) {
            rc = mdx_validate_points(&pts, msg.recv_ms, &why);
        }
        if (rc == MDX_EINVAL) {
            refuse(e, rec, &msg, why);
            return MDX_OK;
        }
        if (rc != MDX_OK) {
            return rc;
        }
        for (size_t i = 0; i < pts.n; i++) {
            if (pts.v[i].flags & MDX_POINT_TS_SUBSTITUTED) {
                atomic_fetch_add(&e->points_ts_substituted, 1);
            }
        }
        memcpy(b->group_names[b->n_groups].tenant, msg.tenant, sizeof(msg.tenant));
        memcpy(b->group_names[b->n_groups].device, msg.device, sizeof(msg.device));
        g = &b->groups[b->n_groups];
        g->tenant = b->group_names[b->n_groups].tenant;
        g->device = b->group_names[b->n_groups].device;
        g->points = pts.v;
        g->n = pts.n;
        b->n_groups++;
        b->n_points += pts.n;
        for (size_t i = 0; i < e->n_stages; i++) {
            if (e->stages[i].ops->on_points != NULL) {
                e->stages[i].ops->on_points(e->stages[i].ctx, g, &dev);
            }
        }
        return MDX_OK;
    }
    /* Events; a command_ack also updates its command in the store's batch (issue 5). */
    if (msg.kind == MDX_MSG_SAFETY || msg.kind == MDX_MSG_STATUS ||
        msg.kind == MDX_MSG_COMMAND_ACK) {
        struct mdx_event *ev = &b->events[b->n_events];
        struct mdx_event_rec *er = &b->event_recs[b->n_events];

        if (mdx_decode_event(&msg, ev, &why) != MDX_OK) {
            refuse(e, rec, &msg, why);
            return MDX_OK;
        }
        memcpy(b->event_names[b->n_events].tenant, msg.tenant, sizeof(msg.tenant));
        memcpy(b->event_names[b->n_events].device, msg.device, sizeof(msg.device));
        er->tenant = b->event_names[b->n_events].tenant;
        er->device = b->event_names[b->n_events].device;
        er->event = ev;
        er->recv_ms = msg.recv_ms;
        b->n_events++;
        for (size_t i = 0; i < e->n_stages; i++) {
            if (e->stages[i].ops->on_event != NULL) {
                e->stages[i].ops->on_event(e->stages[i].ctx, er, &dev);
            }
        }
        return MDX_OK;
    }
    refuse(e, rec, &msg, "unexpected topic kind");
    return MDX_OK;
}

const int64_t mdx_engine_commit_bounds_ms[MDX_COMMIT_BUCKETS] = {1,  2,   5,   10,   25,  50,
                                                                  100, 250, 500, 1000, 2500};

/* Counts one stored batch's latency in its histogram bucket. */
static void count_commit_latency(struct mdx_engine *e, int64_t us)
{
    size_t i = 0;

    while (i < MDX_COMMIT_BUCKETS && us > mdx_engine_commit_bounds_ms[i] * 1000) {
        i++;
    }
    atomic_fetch_add(&e->commit_buckets[i], 1);
    atomic_fetch_add(&e->commit_us_sum, (uint64_t)(us > 0 ? us : 0));
}

/* Commits the batch, retrying transient failures. MDX_ESTOPPED if the drain time ran out. */
static int commit_batch(struct mdx_engine *e)
{
    struct batch *b = &e->batch;
    struct mdx_batch sb = {
        .groups = b->groups, .n_groups = b->n_groups, .events = b->event_recs,
        .n_events = b->n_events, .dead = b->dead, .n_dead = b->n_dead, .has_checkpoint = 1,
        .checkpoint_owner = e->conf.worker, .checkpoint = b->end,
    };
    struct mdx_batch_result res = {0, 0};
    int64_t backoff = 10;
    int64_t t0 = mdx_mono_us();
    int rc;

    if (e->pull != NULL) {
        sb.has_checkpoint = 0;
        sb.n_positions = e->pull->positions(e->pull_src, &sb.positions);
    }
    for (size_t i = 0; i < e->n_stages; i++) {
        if (e->stages[i].ops->before_commit != NULL) {
            e->stages[i].ops->before_commit(e->stages[i].ctx, &sb); /* e.g. alert changes */
        }
    }
    for (;;) {
        rc = mdx_store_write(e->store, &sb, &res);
        if (rc == MDX_OK) {
            break;
        }
        atomic_fetch_add(&e->store_retries, 1);
        if (mdx_status_is_transient(rc)) {
            mdx_log_warn(MOD, "store unavailable, retrying from the spool", MDX_F_ERR(rc),
                         MDX_F_INT("records", b->n_records), MDX_F_INT("backoff_ms", backoff));
        } else {
            mdx_log_error(MOD, "store write failed, retrying from the spool", MDX_F_ERR(rc),
                          MDX_F_INT("records", b->n_records));
        }
        if (atomic_load(&e->stopping) && mdx_now_ms() >= e->drain_deadline_ms) {
            return MDX_ESTOPPED;
        }
        mdx_sleep_ms(backoff);
        backoff = backoff * 2 > e->conf.retry_max_ms ? e->conf.retry_max_ms : backoff * 2;
    }
    if (e->pull != NULL) {
        e->pull->committed(e->pull_src);
    } else {
        mdx_spool_release(e->spool, &b->end);
        e->committed = b->end;
    }
    for (size_t i = 0; i < e->n_stages; i++) {
        if (e->stages[i].ops->after_commit != NULL) {
            e->stages[i].ops->after_commit(e->stages[i].ctx);
        }
    }
    atomic_fetch_add(&e->batches, 1);
    atomic_fetch_add(&e->msgs_stored, b->n_groups + b->n_events);
    atomic_fetch_add(&e->msgs_refused, b->n_dead);
    atomic_fetch_add(&e->points_written, res.points_written);
    atomic_fetch_add(&e->points_duplicate, res.points_duplicate);
    atomic_fetch_add(&e->events_written, b->n_events);
    int64_t us = mdx_mono_us() - t0;
    count_commit_latency(e, us);
    mdx_log_debug(MOD, "batch committed", MDX_F_INT("records", b->n_records),
                  MDX_F_INT("points", res.points_written),
                  MDX_F_INT("duplicates", res.points_duplicate), MDX_F_INT("us", us));
    return MDX_OK;
}

/* Non-zero when a stage has something to store without new records (alert changes). */
static int stages_pending(struct mdx_engine *e)
{
    for (size_t i = 0; i < e->n_stages; i++) {
        if (e->stages[i].ops->pending != NULL && e->stages[i].ops->pending(e->stages[i].ctx)) {
            return 1;
        }
    }
    return 0;
}

/* Tells the stages that their devices are about to move to another worker (stage.h). */
static void stages_handover(struct mdx_engine *e)
{
    for (size_t i = 0; i < e->n_stages; i++) {
        if (e->stages[i].ops->handover != NULL) {
            e->stages[i].ops->handover(e->stages[i].ctx);
        }
    }
}

/* At a stop, once: the stages hand over, and the drain commits what they then hold. */
static void stop_handover(struct mdx_engine *e)
{
    if (atomic_load(&e->stopping) && !e->handed_over) {
        e->handed_over = 1;
        stages_handover(e);
    }
}

/*
 * Logs the counters. The periodic line may be held back by repeat
 * suppression; the final one ('final' at stop) is always written, so that
 * "stored = received" is in the log after every stop.
 */
static void log_stats(struct mdx_engine *e, int final)
{
    struct mdx_engine_stats s;

    mdx_engine_stats(e, &s);
    const struct mdx_field f[] = {
        MDX_F_INT("received", s.msgs_received),   MDX_F_INT("stored", s.msgs_stored),
        MDX_F_INT("refused", s.msgs_refused),     MDX_F_INT("points", s.points_written),
        MDX_F_INT("duplicates", s.points_duplicate), MDX_F_INT("store_retries", s.store_retries),
        MDX_F_INT("spool_bytes", s.spool_pending_bytes),
        MDX_F_INT("partitions", s.source_partitions), MDX_F_INT("lag", s.source_lag),
        MDX_F_INT("final", 1),
    };
    const int n = (int)(sizeof(f) / sizeof(f[0]));

    if (final) {
        mdx_log_write_always(MDX_LOG_INFO, MOD, "statistics", f, n);
    } else {
        mdx_log_write(MDX_LOG_INFO, MOD, "statistics", f, n - 1); /* without final=1 */
    }
}

/*
 * The store was unreachable when the engine was created (a PostgreSQL that
 * is not up yet), so the spool was opened at its first segment and the
 * sources could start. Waits with back-off until the store answers, then
 * skips what it already has. MDX_ESTOPPED if the engine stops first.
 */
static int resume_at_checkpoint(struct mdx_engine *e)
{
    struct mdx_spool_pos ck = {0, 0}, first;
    struct mdx_spool_rec rec;
    int64_t backoff = 10;
    int rc;

    while ((rc = mdx_store_checkpoint_get(e->store, e->conf.worker, &ck)) != MDX_OK) {
        if (atomic_load(&e->stopping)) {
            return MDX_ESTOPPED;
        }
        atomic_fetch_add(&e->store_retries, 1);
        mdx_log_warn(MOD, "store unavailable; ingesting into the spool until it is back",
                     MDX_F_ERR(rc), MDX_F_INT("backoff_ms", backoff));
        mdx_sleep_ms(backoff);
        backoff = backoff * 2 > e->conf.retry_max_ms ? e->conf.retry_max_ms : backoff * 2;
    }
    e->checkpoint_pending = 0;
    mdx_spool_read_pos(e->spool, &first);
    if (ck.segment < first.segment || (ck.segment == first.segment && ck.offset <= first.offset)) {
        return MDX_OK; /* the store has none of what is on disk */
    }
    /* A checkpoint beyond the spool (its folder was replaced) is ignored. */
    mdx_spool_seek(e->spool, &ck);
    rc = mdx_spool_read(e->spool, &rec, 0);
    mdx_spool_read_reset(e->spool);
    if (rc == MDX_EIO) {
        mdx_spool_seek(e->spool, &first);
        return MDX_OK;
    }
    mdx_spool_seek(e->spool, &ck);
    mdx_spool_release(e->spool, &ck);
    e->committed = ck;
    mdx_log_info(MOD, "store reachable; resuming from its checkpoint",
                 MDX_F_INT("segment", ck.segment), MDX_F_INT("offset", ck.offset));
    return MDX_OK;
}

static void *writer_main(void *arg)
{
    struct mdx_engine *e = arg;
    struct batch *b = &e->batch;
    int64_t next_stats = mdx_mono_us() + e->conf.stats_interval_s * 1000000;

    if (e->checkpoint_pending && resume_at_checkpoint(e) != MDX_OK) {
        return NULL; /* stopped before the store came back: everything stays in the spool */
    }

    for (;;) {
        int64_t first_us = 0;
        int rc = MDX_OK;

        batch_clear(b);
        b->end = e->committed;
        mdx_spool_read_reset(e->spool);
        while (batch_has_room(b, &e->conf)) {
            struct mdx_spool_rec rec;
            int wait = b->n_records == 0 ? 100 : 5;

            if (b->n_records > 0 && mdx_mono_us() - first_us >= e->conf.batch_ms * 1000) {
                break;
            }
            rc = mdx_spool_read(e->spool, &rec, atomic_load(&e->stopping) ? 0 : wait);
            if (rc == MDX_EAGAIN) {
                if (atomic_load(&e->stopping) || b->n_records == 0) {
                    break; /* idle: the stages' ticks and the statistics run below */
                }
                continue;
            }
            if (rc == MDX_EFULL) {
                break;
            }
            if (rc == MDX_ECORRUPT) {
                /* Damaged on disk (never by a crash of ours): skip it, keep the rest. */
                uint64_t skipped = mdx_spool_resync(e->spool);
                count_reason(e, "spool record corrupt");
                mdx_log_error(MOD, "corrupt spool record skipped; check the disk under the spool",
                              MDX_F_INT("bytes_skipped", skipped),
                              MDX_F_STR("dir", e->conf.spool_dir));
                continue;
            }
            if (rc != MDX_OK) {
                mdx_log_error(MOD, "spool unreadable; an operator must check the spool directory",
                              MDX_F_ERR(rc), MDX_F_STR("dir", e->conf.spool_dir));
                mdx_sleep_ms(1000);
                break;
            }
            if (b->n_records == 0) {
                first_us = mdx_mono_us();
            }
            rc = process_record(e, &rec);
            if (rc != MDX_OK) {
                break; /* the store is down; what was read is retried below */
            }
            b->end = rec.end;
            b->n_records++;
        }
        for (size_t i = 0; i < e->n_stages; i++) {
            if (e->stages[i].ops->tick != NULL) {
                e->stages[i].ops->tick(e->stages[i].ctx);
            }
        }
        stop_handover(e);
        if ((b->n_records > 0 || stages_pending(e)) && commit_batch(e) != MDX_OK) {
            mdx_log_warn(MOD, "stopping with records left in the spool",
                         MDX_F_INT("spool_bytes", mdx_spool_pending_bytes(e->spool)));
            break;
        }
        if (rc != MDX_OK && rc != MDX_EAGAIN && rc != MDX_EFULL) {
            /* The record that failed (and any after it) is read again next round. */
            mdx_spool_seek(e->spool, &b->end);
            mdx_sleep_ms(100);
        }
        if (e->conf.stats_interval_s > 0 && mdx_mono_us() >= next_stats) {
            log_stats(e, 0);
            next_stats = mdx_mono_us() + e->conf.stats_interval_s * 1000000;
        }
        if (atomic_load(&e->stopping) && mdx_spool_read_all(e->spool) && !stages_pending(e)) {
            break;
        }
        if (atomic_load(&e->stopping) && mdx_now_ms() >= e->drain_deadline_ms) {
            mdx_log_warn(MOD, "drain time over; the rest stays in the spool for the next start",
                         MDX_F_INT("spool_bytes", mdx_spool_pending_bytes(e->spool)));
            break;
        }
    }
    return NULL;
}

/* ---- pull sources: the writer takes records; the source keeps its positions ---- */

/* A pull source's record as the rest of the writer sees records. */
static void pull_to_rec(const struct mdx_engine *e, const struct mdx_source_rec *in,
                        struct mdx_spool_rec *out)
{
    memset(out, 0, sizeof(*out));
    out->recv_ms = in->recv_ms;
    out->topic = in->topic;
    out->payload = in->payload;
    out->len = in->len;
    out->orig_len = in->len;
    if (in->len > (size_t)e->conf.max_payload_bytes) {
        out->len = MDX_DEADLETTER_PAYLOAD_MAX;
        out->flags |= MDX_SPOOL_TRUNCATED;
    }
}

#define HANDOVER_COMMITS 1000 /* bound on the commits of what the stages hand over */

/*
 * Stores what the batch holds now (host->flush, inside the source's
 * next(), before partitions are given up), and what the stages hand over
 * to the next owner of those devices (their detector states).
 */
static int pull_flush(void *arg)
{
    struct mdx_engine *e = arg;
    int rc = MDX_OK;

    stages_handover(e);
    for (int n = 0; n < HANDOVER_COMMITS && rc == MDX_OK; n++) {
        if (e->batch.n_records == 0 && !stages_pending(e)) {
            break;
        }
        rc = commit_batch(e);
        if (rc == MDX_OK) {
            batch_clear(&e->batch);
        }
    }
    return rc;
}

static int pull_position_get(void *arg, const char *owner, struct mdx_spool_pos *pos)
{
    struct mdx_engine *e = arg;
    int64_t backoff = 10;
    int rc;

    /* Without it the source would start from the wrong place: wait for the store. */
    while ((rc = mdx_store_checkpoint_get(e->store, owner, pos)) != MDX_OK &&
           mdx_status_is_transient(rc) && !atomic_load(&e->stopping)) {
        atomic_fetch_add(&e->store_retries, 1);
        mdx_log_warn(MOD, "store unavailable; cannot read a stored source position yet",
                     MDX_F_ERR(rc), MDX_F_STR("owner", owner));
        mdx_sleep_ms(backoff);
        backoff = backoff * 2 > e->conf.retry_max_ms ? e->conf.retry_max_ms : backoff * 2;
    }
    return rc;
}

/* One record of a pull source into the batch; refusals by the source become dead letters. */
static int pull_process(struct mdx_engine *e, const struct mdx_source_rec *in)
{
    struct mdx_spool_rec rec;
    struct mdx_msg msg;

    atomic_fetch_add(&e->msgs_received, 1);
    pull_to_rec(e, in, &rec);
    if (in->refusal != NULL) {
        memset(&msg, 0, sizeof(msg));
        refuse(e, &rec, &msg, in->refusal);
        return MDX_OK;
    }
    return process_record(e, &rec);
}

static void *pull_writer_main(void *arg)
{
    struct mdx_engine *e = arg;
    struct batch *b = &e->batch;
    int64_t next_stats = mdx_mono_us() + e->conf.stats_interval_s * 1000000;

    for (;;) {
        int64_t first_us = 0;
        int rc = MDX_OK;

        batch_clear(b);
        while (batch_has_room(b, &e->conf)) {
            struct mdx_source_rec in;
            int wait = b->n_records == 0 ? 100 : 5;

            if (b->n_records > 0 && mdx_mono_us() - first_us >= e->conf.batch_ms * 1000) {
                break;
            }
            /* A rebalance inside next() may store the batch (pull_flush): n_records drops. */
            rc = e->pull->next(e->pull_src, &in, wait);
            e->pull_idle = rc == MDX_EAGAIN;
            if (rc == MDX_EAGAIN) {
                if (atomic_load(&e->stopping) || b->n_records == 0) {
                    break; /* idle: the stages' ticks and the statistics run below */
                }
                continue;
            }
            if (rc != MDX_OK) {
                break; /* MDX_EFULL: the source holds all it may; store first */
            }
            if (b->n_records == 0) {
                first_us = mdx_mono_us();
            }
            rc = pull_process(e, &in);
            if (rc != MDX_OK) {
                break;
            }
            b->n_records++;
        }
        for (size_t i = 0; i < e->n_stages; i++) {
            if (e->stages[i].ops->tick != NULL) {
                e->stages[i].ops->tick(e->stages[i].ctx);
            }
        }
        if (rc != MDX_OK && rc != MDX_EAGAIN && rc != MDX_EFULL) {
            /* The registry failed at stop: nothing of this batch is stored; read it again. */
            e->pull->rewind(e->pull_src);
            if (atomic_load(&e->stopping)) {
                break;
            }
            mdx_sleep_ms(100);
            continue;
        }
        stop_handover(e);
        if ((b->n_records > 0 || stages_pending(e)) && commit_batch(e) != MDX_OK) {
            mdx_log_warn(MOD, "stopping with records not stored; the source resumes from the "
                              "stored positions at the next start",
                         MDX_F_INT("records", b->n_records));
            break;
        }
        if (e->conf.stats_interval_s > 0 && mdx_mono_us() >= next_stats) {
            log_stats(e, 0);
            next_stats = mdx_mono_us() + e->conf.stats_interval_s * 1000000;
        }
        if (atomic_load(&e->stopping) && e->pull_idle && !stages_pending(e)) {
            break;
        }
        if (atomic_load(&e->stopping) && mdx_now_ms() >= e->drain_deadline_ms) {
            break;
        }
    }
    return NULL;
}

static struct mdx_engine *engine_new(const struct mdx_engine_conf *conf, struct mdx_store *store,
                                     int *rc)
{
    struct mdx_engine *e = mdx_calloc(1, sizeof(*e));

    *rc = MDX_ENOMEM;
    if (e == NULL) {
        return NULL;
    }
    e->conf = *conf;
    e->store = store;
    *rc = batch_init(&e->batch, conf);
    if (*rc != MDX_OK) {
        mdx_engine_destroy(e);
        return NULL;
    }
    e->registry = mdx_registry_create(store, (size_t)conf->registry_cache, conf->auto_register);
    if (e->registry == NULL) {
        *rc = MDX_ENOMEM;
        mdx_engine_destroy(e);
        return NULL;
    }
    return e;
}

struct mdx_engine *mdx_engine_create_pull(const struct mdx_engine_conf *conf,
                                          struct mdx_store *store,
                                          const struct mdx_source_ops *ops, void *src, int *err)
{
    int rc = MDX_EINVAL;
    struct mdx_engine *e = NULL;

    if (ops->next != NULL && ops->positions != NULL && ops->committed != NULL &&
        ops->rewind != NULL && ops->attach != NULL) {
        e = engine_new(conf, store, &rc);
    }
    if (e == NULL) {
        if (err != NULL) {
            *err = rc;
        }
        return NULL;
    }
    e->pull = ops;
    e->pull_src = src;
    e->host.engine = e;
    e->host.position_get = pull_position_get;
    e->host.flush = pull_flush;
    ops->attach(src, &e->host);
    return e;
}

struct mdx_engine *mdx_engine_create(const struct mdx_engine_conf *conf, struct mdx_store *store,
                                     int *err)
{
    struct mdx_engine *e;
    struct mdx_spool_pos start = {0, 0};
    struct mdx_spool_conf sc;
    size_t read_buf;
    int rc = MDX_ENOMEM;

    e = engine_new(conf, store, &rc);
    if (e == NULL) {
        goto fail;
    }
    if (conf->worker == NULL || conf->worker[0] == '\0') {
        rc = MDX_ECONF;
        goto fail;
    }
    rc = mdx_store_checkpoint_get(store, conf->worker, &start);
    if (rc != MDX_OK && mdx_status_is_transient(rc)) {
        /* Start anyway, keeping the whole spool; the writer skips what the store has. */
        mdx_log_warn(MOD, "store unavailable at start; the writer retries it", MDX_F_ERR(rc));
        start.segment = 0;
        start.offset = 0;
        e->checkpoint_pending = 1;
    } else if (rc != MDX_OK) {
        goto fail;
    }
    sc.dir = conf->spool_dir;
    sc.segment_bytes = (uint64_t)conf->spool_segment_mb << 20;
    sc.max_bytes = (uint64_t)conf->spool_max_mb << 20;
    sc.fsync_ms = conf->spool_fsync_ms;
    /* Enough for a full batch of small messages, and always for one oversized one. */
    read_buf = (size_t)conf->batch_msgs * 1024 + (size_t)conf->max_payload_bytes + 65536;
    if (read_buf > (64u << 20)) {
        read_buf = 64u << 20;
    }
    e->spool = mdx_spool_open(&sc, &start, read_buf, &rc);
    if (e->spool == NULL) {
        goto fail;
    }
    mdx_spool_read_pos(e->spool, &e->committed);
    return e;

fail:
    if (err != NULL) {
        *err = rc;
    }
    mdx_engine_destroy(e);
    return NULL;
}

int mdx_engine_add_stage(struct mdx_engine *e, const struct mdx_stage_ops *ops, void *ctx)
{
    if (e->started || e->n_stages == MDX_ENGINE_STAGES_MAX) {
        return MDX_EFULL;
    }
    e->stages[e->n_stages].ops = ops;
    e->stages[e->n_stages].ctx = ctx;
    e->n_stages++;
    return MDX_OK;
}

int mdx_engine_start(struct mdx_engine *e)
{
    if (pthread_create(&e->writer, NULL, e->pull != NULL ? pull_writer_main : writer_main, e) !=
        0) {
        return MDX_ENOMEM;
    }
    e->started = 1;
    return MDX_OK;
}

int mdx_engine_submit(struct mdx_engine *e, const char *topic, const void *payload, size_t len,
                      int64_t recv_ms)
{
    size_t keep = len;
    unsigned flags = 0;
    int64_t backoff = 10;

    atomic_fetch_add(&e->msgs_received, 1);
    if (len > (size_t)e->conf.max_payload_bytes) {
        keep = MDX_DEADLETTER_PAYLOAD_MAX;
        flags |= MDX_SPOOL_TRUNCATED;
    }
    for (;;) {
        int rc = mdx_spool_append(e->spool, recv_ms, topic, payload, keep, len, flags);
        if (rc == MDX_OK || rc == MDX_ESTOPPED || rc == MDX_EINVAL) {
            return rc;
        }
        /* Disk full or I/O error: the message is acknowledged already, so wait, never drop. */
        mdx_log_error(MOD, "spool append failed; free disk space for the spool", MDX_F_ERR(rc),
                      MDX_F_STR("dir", e->conf.spool_dir));
        if (atomic_load(&e->stopping)) {
            return rc;
        }
        mdx_sleep_ms(backoff);
        backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
    }
}

void mdx_engine_stop(struct mdx_engine *e, int64_t drain_ms)
{
    if (e == NULL || !e->started) {
        return;
    }
    e->drain_deadline_ms = mdx_now_ms() + drain_ms;
    atomic_store(&e->stopping, 1);
    pthread_join(e->writer, NULL);
    e->started = 0;
    if (e->spool != NULL) {
        mdx_spool_stop(e->spool);
    }
    log_stats(e, 1);
}

void mdx_engine_destroy(struct mdx_engine *e)
{
    if (e == NULL) {
        return;
    }
    mdx_engine_stop(e, 0);
    if (e->spool != NULL) {
        mdx_spool_close(e->spool);
    }
    mdx_registry_destroy(e->registry);
    batch_fini(&e->batch);
    mdx_free(e);
}

void mdx_engine_stats(struct mdx_engine *e, struct mdx_engine_stats *out)
{
    out->msgs_received = atomic_load(&e->msgs_received);
    out->msgs_stored = atomic_load(&e->msgs_stored);
    out->msgs_refused = atomic_load(&e->msgs_refused);
    out->points_written = atomic_load(&e->points_written);
    out->points_duplicate = atomic_load(&e->points_duplicate);
    out->points_ts_substituted = atomic_load(&e->points_ts_substituted);
    out->events_written = atomic_load(&e->events_written);
    out->batches = atomic_load(&e->batches);
    out->store_retries = atomic_load(&e->store_retries);
    out->spool_pending_bytes = e->spool != NULL ? mdx_spool_pending_bytes(e->spool) : 0;
    out->source_partitions = 0;
    out->source_lag = e->spool != NULL ? 0 : -1;
    if (e->pull != NULL && e->pull->stats != NULL) {
        struct mdx_source_stats ss;
        e->pull->stats(e->pull_src, &ss);
        out->source_partitions = ss.partitions;
        out->source_lag = ss.lag;
    }
    for (size_t i = 0; i <= MDX_COMMIT_BUCKETS; i++) {
        out->commit_buckets[i] = atomic_load(&e->commit_buckets[i]);
    }
    out->commit_us_sum = atomic_load(&e->commit_us_sum);
}

void mdx_engine_reason_counts(struct mdx_engine *e, void (*fn)(void *arg, const char *reason,
                                                               uint64_t n),
                              void *arg)
{
    int n = atomic_load(&e->n_reasons);

    for (int i = 0; i < n; i++) {
        fn(arg, e->reasons[i].reason, atomic_load(&e->reasons[i].n));
    }
}
