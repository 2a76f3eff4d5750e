/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_series.h - the store's time series: the batch writer (points,
 * events, dead letters, alert changes, detector states and the spool
 * checkpoint in one transaction), point and rollup queries, latest values, events and dead
 * letters read back.
 *
 * Points are logically (tenant, device, sensor, ts_ms) -> value, unique on
 * the key: writing a point that exists changes nothing and is counted as a
 * duplicate. Rollups keep min, max, sum and count per series and minute
 * and per series and hour.
 *
 * Included by store.h; see there for the handle and the rules every store
 * function follows (returns, callbacks, ownership).
 */
#ifndef MODAX_STORE_SERIES_H
#define MODAX_STORE_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "modax/msg.h"
#include "modax/store_catalog.h"

struct mdx_store;
struct mdx_alert;
struct mdx_detector_state_row;

/* Where the store's batches have reached in the spool (see spool.h). */
struct mdx_spool_pos {
    uint64_t segment;
    uint64_t offset;
};

/*
 * A position a pull source (Kafka) keeps in the store with each batch:
 * where 'owner' (one partition of a consumer group) resumes. Written in the
 * batch's transaction like the spool checkpoint, read back with
 * mdx_store_checkpoint_get(owner).
 */
struct mdx_position {
    const char *owner;
    struct mdx_spool_pos pos;
};

struct mdx_point_group {
    const char *tenant;
    const char *device;
    const struct mdx_point *points;
    size_t n;
};

struct mdx_event_rec {
    const char *tenant;
    const char *device;
    const struct mdx_event *event;
    int64_t recv_ms;
};

#define MDX_DEADLETTER_PAYLOAD_MAX 4096 /* bytes of payload kept per dead letter */

struct mdx_deadletter {
    int64_t id;               /* filled when listing */
    int64_t recv_ms;
    const char *reason;
    const char *topic;
    const uint8_t *payload;   /* the first min(len, 4 KiB) bytes */
    size_t payload_len;       /* bytes at 'payload' */
    size_t orig_len;          /* size of the refused payload */
};

/* One transaction's worth of writes. Everything in it stays the caller's. */
struct mdx_batch {
    const struct mdx_point_group *groups;
    size_t n_groups;
    const struct mdx_event_rec *events;
    size_t n_events;
    const struct mdx_deadletter *dead;
    size_t n_dead;
    struct mdx_alert *alerts;       /* alert changes of this batch: id 0 = new (the store sets
                                       the id), else an update of that alert */
    size_t n_alerts;
    int has_checkpoint;
    const char *checkpoint_owner; /* the ingest worker whose spool this is */
    struct mdx_spool_pos checkpoint;
    const struct mdx_position *positions; /* a pull source's positions (Kafka offsets) */
    size_t n_positions;
    const struct mdx_detector_state_row *detector_states; /* detector states to save
                                                             (store_detector.h), at most one
                                                             per series */
    size_t n_detector_states;
};

struct mdx_batch_result {
    uint64_t points_written;
    uint64_t points_duplicate;
};

struct mdx_query {
    const char *tenant;
    const char *device;
    const char *sensor;
    int64_t from_ms;          /* inclusive */
    int64_t to_ms;            /* inclusive */
    int64_t limit;            /* 0 = no limit */
};

/* Aggregates of a time bucket. */
enum mdx_agg { MDX_AGG_AVG = 0, MDX_AGG_MIN, MDX_AGG_MAX, MDX_AGG_COUNT };

#define MDX_ROLLUP_MINUTE_MS 60000LL
#define MDX_ROLLUP_HOUR_MS 3600000LL
#define MDX_DAY_MS 86400000LL

struct mdx_bucket {
    int64_t start_ms;         /* floor(ts / step) * step */
    double min, max, sum;
    int64_t count;
};

/* Callbacks: whatever they are handed by pointer is borrowed for the call only. */
typedef int (*mdx_point_fn)(void *arg, int64_t ts_ms, double value, unsigned flags);
/* 'dl' and the strings and payload it points to are borrowed for the call only. */
typedef int (*mdx_deadletter_fn)(void *arg, const struct mdx_deadletter *dl);
/* 'name' (a refusal reason) is borrowed for the call only. */
typedef int (*mdx_count_fn)(void *arg, const char *name, int64_t count);
typedef int (*mdx_bucket_fn)(void *arg, const struct mdx_bucket *b);
/* A point with its sensor (latest values, exports); 'sensor' is borrowed for the call only. */
typedef int (*mdx_sensor_point_fn)(void *arg, const char *sensor, int64_t ts_ms, double value,
                                   unsigned flags);
/* An event; 'ev' is borrowed for the call only. */
typedef int (*mdx_event_fn)(void *arg, const struct mdx_event *ev);

/*
 * Applies 'batch' atomically; the batch stays the caller's, except that
 * the ids of its new alerts are set once the batch is committed. Tenants
 * and devices of its groups and events must be registered (the engine
 * checks). *res counts the points written and the duplicates. Returns
 * MDX_OK, or MDX_EBUSY / MDX_EFULL / MDX_EIO for failures the caller
 * retries (nothing was stored), or another code.
 */
int mdx_store_write(struct mdx_store *st, const struct mdx_batch *batch,
                    struct mdx_batch_result *res);
/*
 * Spool position of the last batch 'owner' (an ingest worker) wrote into
 * *pos; {0,0} if none. MDX_OK or an error.
 */
int mdx_store_checkpoint_get(struct mdx_store *st, const char *owner, struct mdx_spool_pos *pos);
/* Calls fn for each point of q, in time order. MDX_OK, fn's stop value, or an error. */
int mdx_store_query_points(struct mdx_store *st, const struct mdx_query *q, mdx_point_fn fn,
                           void *arg);
/* Total points stored for 'tenant' (NULL: all tenants) into *count. MDX_OK or an error. */
int mdx_store_point_count(struct mdx_store *st, const char *tenant, int64_t *count);
/* Calls fn for each sensor (series) of a device, by name. MDX_OK, fn's stop value, or an error. */
int mdx_store_sensor_list(struct mdx_store *st, const char *tenant, const char *device,
                          mdx_name_fn fn, void *arg);
/*
 * Calls fn for the newest 'limit' dead letters, newest first. MDX_OK, fn's
 * stop value, or an error.
 */
int mdx_store_deadletter_list(struct mdx_store *st, int64_t limit, mdx_deadletter_fn fn,
                              void *arg);
/*
 * Calls fn with each refusal reason and how many payloads it refused since
 * the store was created. MDX_OK, fn's stop value, or an error.
 */
int mdx_store_deadletter_counts(struct mdx_store *st, mdx_count_fn fn, void *arg);
/*
 * Calls fn for the newest 'limit' events of a device, newest first. MDX_OK,
 * fn's stop value, or an error.
 */
int mdx_store_event_list(struct mdx_store *st, const char *tenant, const char *device,
                         int64_t limit, mdx_event_fn fn, void *arg);
/*
 * Aggregates of q's series in buckets of 'step_ms' aligned to the epoch,
 * oldest first, only buckets that have points. Served from the hour rollup
 * when step_ms is a multiple of an hour, from the minute rollup when it is
 * a multiple of a minute, else from raw points. q->limit bounds buckets.
 * MDX_OK, fn's stop value, MDX_EINVAL for step_ms <= 0, or an error.
 */
int mdx_store_query_buckets(struct mdx_store *st, const struct mdx_query *q, int64_t step_ms,
                            mdx_bucket_fn fn, void *arg);
/*
 * Calls fn with the newest point of each sensor of a device, sensors in
 * name order. MDX_OK, fn's stop value, or an error.
 */
int mdx_store_latest(struct mdx_store *st, const char *tenant, const char *device,
                     mdx_sensor_point_fn fn, void *arg);

/* Parses "avg", "min", "max", "count" into *out: MDX_OK, or MDX_EINVAL otherwise. */
int mdx_agg_parse(const char *name, enum mdx_agg *out);
/* The value of 'agg' for bucket 'b'. */
double mdx_bucket_value(const struct mdx_bucket *b, enum mdx_agg agg);

/* What a back end implements for the series. 'impl' is its own handle. */
struct mdx_store_series_ops {
    int (*write)(void *impl, const struct mdx_batch *batch, struct mdx_batch_result *res);
    int (*checkpoint_get)(void *impl, const char *owner, struct mdx_spool_pos *pos);
    int (*query_points)(void *impl, const struct mdx_query *q, mdx_point_fn fn, void *arg);
    int (*point_count)(void *impl, const char *tenant, int64_t *count);
    int (*sensor_list)(void *impl, const char *tenant, const char *device, mdx_name_fn fn,
                       void *arg);
    int (*deadletter_list)(void *impl, int64_t limit, mdx_deadletter_fn fn, void *arg);
    int (*deadletter_counts)(void *impl, mdx_count_fn fn, void *arg);
    int (*event_list)(void *impl, const char *tenant, const char *device, int64_t limit,
                      mdx_event_fn fn, void *arg);
    int (*query_buckets)(void *impl, const struct mdx_query *q, int64_t step_ms, mdx_bucket_fn fn,
                         void *arg);
    int (*latest)(void *impl, const char *tenant, const char *device, mdx_sensor_point_fn fn,
                  void *arg);
};

#endif
