/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.h - the ingest engine: spool -> decode -> validate -> store.
 *
 * A source hands each received message to mdx_engine_submit(), which makes
 * it durable in the spool and returns. The engine's writer thread reads
 * the spool, decodes and validates each message, checks the registry,
 * and writes batches (points, events, dead letters and the spool
 * position) to the store in one transaction each. A store that fails
 * transiently is retried with back-off from the spool; nothing is dropped.
 * Refused messages become dead letters with their reason.
 *
 * With a pull source (Kafka; source.h) there is no spool: the writer takes
 * records from the source and stores the source's positions in each
 * batch's transaction instead of the spool checkpoint.
 */
#ifndef MODAX_ENGINE_H
#define MODAX_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "modax/conf.h"
#include "modax/store.h"

struct mdx_engine_conf {
    char *source;                 /* mqtt (push, spooled) or kafka (pull) */
    char *spool_dir;
    int64_t spool_max_mb;         /* unreleased spool before sources wait */
    int64_t spool_segment_mb;
    int64_t spool_fsync_ms;       /* fdatasync the spool at most this often; 0 = every message */
    int64_t max_payload_bytes;    /* larger payloads become dead letters */
    int64_t max_points_per_msg;
    int64_t batch_msgs;           /* messages per store transaction, at most */
    int64_t batch_ms;             /* time a batch may wait to fill */
    int auto_register;            /* register unknown devices of known tenants */
    int64_t registry_cache;       /* (tenant, device) pairs remembered */
    int64_t retry_max_ms;         /* longest back-off between store retries */
    int64_t stats_interval_s;     /* period of the stats log line; 0 = off */
    const char *worker;           /* not a key: this worker's name (its MQTT client id), which
                                     keys its spool checkpoint in a store shared by workers */
};

extern const struct mdx_conf_key mdx_engine_conf_keys[];

/* Upper bounds (milliseconds) of the store batch latency histogram's buckets. */
#define MDX_COMMIT_BUCKETS 11
extern const int64_t mdx_engine_commit_bounds_ms[MDX_COMMIT_BUCKETS];

/* Counters; read with mdx_engine_stats(). */
struct mdx_engine_stats {
    uint64_t msgs_received;       /* submitted by sources */
    uint64_t msgs_stored;         /* accepted and committed */
    uint64_t msgs_refused;        /* became dead letters */
    uint64_t points_written;
    uint64_t points_duplicate;
    uint64_t points_ts_substituted;
    uint64_t events_written;
    uint64_t batches;
    uint64_t store_retries;
    uint64_t spool_pending_bytes;
    int64_t source_partitions;    /* pull source: partitions assigned to this worker */
    int64_t source_lag;           /* pull source: records behind the log's end; -1 unknown */
    /* Store batch latency: the time from a batch's first write attempt until it is stored
       (retries included). Counts per bucket, not cumulative: [i] for latencies <= bound i
       and above bound i-1, [MDX_COMMIT_BUCKETS] beyond the last bound. */
    uint64_t commit_buckets[MDX_COMMIT_BUCKETS + 1];
    uint64_t commit_us_sum;       /* total of those latencies, microseconds */
};

#define MDX_REASONS_MAX 32

struct mdx_engine;

/*
 * Creates the engine over 'store' (borrowed; used only by the writer
 * thread once started) and opens the spool at the store's checkpoint.
 * NULL on failure (*err set).
 */
struct mdx_engine *mdx_engine_create(const struct mdx_engine_conf *conf, struct mdx_store *store,
                                     int *err);
/* Stages one engine runs at most. */
#define MDX_ENGINE_STAGES_MAX 8

struct mdx_source_ops;
/*
 * Creates an engine whose writer takes records from the pull source 'src'
 * (ops->next; see source.h) instead of a spool, and stores the source's
 * positions with each batch. 'ops' and 'src' are borrowed and must outlive
 * the engine; ops->attach(src, ...) is called here. The spool keys of
 * 'conf' are not used. NULL on failure (*err set).
 */
struct mdx_engine *mdx_engine_create_pull(const struct mdx_engine_conf *conf,
                                          struct mdx_store *store,
                                          const struct mdx_source_ops *ops, void *src, int *err);

struct mdx_stage_ops;
/*
 * Runs a stage (stage.h) on the writer thread after the ones added before
 * it: every validated point and event, its tick between batches, and what
 * it stores with each batch. 'ops' and 'ctx' are borrowed and must outlive
 * the engine's writer. Call before mdx_engine_start(). MDX_OK, or MDX_EFULL
 * when MDX_ENGINE_STAGES_MAX are added or the engine runs.
 */
int mdx_engine_add_stage(struct mdx_engine *e, const struct mdx_stage_ops *ops, void *ctx);
/* Starts the writer thread. */
int mdx_engine_start(struct mdx_engine *e);

/*
 * Makes one received message durable; called from a source's callback
 * thread (one thread). Returns MDX_OK once it is in the spool. Oversized
 * payloads are kept truncated, to be refused by the writer. Waits while
 * the spool is full; MDX_ESTOPPED if the engine stops meanwhile.
 */
int mdx_engine_submit(struct mdx_engine *e, const char *topic, const void *payload, size_t len,
                      int64_t recv_ms);

/*
 * Stops: the writer drains everything already in the spool into the store,
 * then exits (giving up after 'drain_ms' if the store stays down, leaving
 * the rest in the spool for the next start). Sources must be stopped first.
 */
void mdx_engine_stop(struct mdx_engine *e, int64_t drain_ms);
void mdx_engine_destroy(struct mdx_engine *e);

void mdx_engine_stats(struct mdx_engine *e, struct mdx_engine_stats *out);
/* Calls fn for each refusal reason counted since start. */
void mdx_engine_reason_counts(struct mdx_engine *e, void (*fn)(void *arg, const char *reason,
                                                               uint64_t n),
                              void *arg);

#endif
