/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_int.h - the SQLite store's handle, its kept statements and
 * caches, and the functions of the batch writer (write.c) and of the
 * concern files that other files of the back end call. It names no
 * function of stmt.c (stmt.h) or rollup.c (rollup.h). Internal to
 * src/store/sqlite.
 */
#ifndef MODAX_STORE_SQLITE_INT_H
#define MODAX_STORE_SQLITE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/chunk.h"
#include "base/htab.h"
#include "base/list.h"
#include "modax/store.h"

/* Prepared statements, prepared once at open and reset after each use. */
enum sq_stmt {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_TENANT_ADD,
    SQ_TENANT_ID,
    SQ_TENANT_LIST,
    SQ_DEVICE_ADD,
    SQ_DEVICE_GET,
    SQ_DEVICE_LIST,
    SQ_DEVICE_IDS,
    SQ_SENSOR_LIST,
    SQ_SERIES_GET,
    SQ_SERIES_ADD,
    SQ_SERIES_FIND,
    SQ_CHUNK_HEAD,
    SQ_CHUNK_AT,
    SQ_CHUNK_NEXT,
    SQ_CHUNK_PUT,
    SQ_CHUNK_RANGE,
    SQ_DEVICE_SEEN,
    SQ_TENANT_POINTS_ADD,
    SQ_POINTS_TENANT,
    SQ_POINTS_ALL,
    SQ_EVENT_ADD,
    SQ_EVENT_LIST,
    SQ_DL_ADD,
    SQ_DL_EVICT,
    SQ_DL_COUNT_BUMP,
    SQ_DL_LIST,
    SQ_DL_COUNTS,
    SQ_CKPT_SET,
    SQ_CKPT_GET,
    SQ_DEVICE_STATUS,
    SQ_DEVICE_SAFETY,
    SQ_COMMAND_ACK,
    SQ_DEVICE_EPOCH,
    SQ_STMT_COUNT
};

/* A device seen by the writer. Cached until the cache is full or a batch fails. */
struct sq_device {
    struct mdx_hnode node;
    int64_t id;
    int64_t tenant_id;
    uint64_t batch;           /* sequence number of the batch that last touched it */
    struct sq_device *batch_next;
    int64_t seen_ms;          /* newest point ts or event receive time in the batch */
    int64_t written;          /* points written in the batch */
    size_t key_len;
    char key[];               /* "tenant\0device" */
};

/* A series and its newest ("head") chunk, kept in an LRU of cache_series entries. */
struct sq_series {
    struct mdx_hnode node;
    struct mdx_link lru;      /* in sq->lru, a ring: next is towards the least recently used */
    int64_t id;
    int64_t device_id;
    struct mdx_chunk head;    /* newest chunk of the series (n == 0: no chunk yet) */
    int head_loaded;          /* 'head' matches the database (plus this batch) */
    int dirty;                /* 'head' changed in this batch, not yet written */
    uint64_t batch;
    struct sq_series *batch_next;
    struct sq_device *dev;    /* valid during a batch only */
    uint32_t first;           /* this batch's points: list through sq->links */
    uint32_t last;
    uint8_t sensor_len;
    char sensor[];            /* NUL-terminated */
};

/* A point of the batch that is not an append, for sorting. */
struct sq_slow {
    int64_t ts_ms;
    uint32_t idx;             /* index into sq->refs: arrival order */
};

/* A growable array of decoded points. */
struct sq_pts {
    struct mdx_chunk_point *v;
    size_t n;
    size_t cap;
};

/* The rollup delta of one series and minute, accumulated while a batch is applied. */
struct sq_racc {
    int64_t series_id;
    int64_t bucket_ms;        /* start of the minute */
    double min, max, sum;
    int64_t count;            /* 0: nothing accumulated */
};

struct sq_rollup;             /* rollup.c, opaque here */

struct sq {
    sqlite3 *db;
    sqlite3_stmt *st[SQ_STMT_COUNT];
    uint32_t chunk_points;
    size_t cache_series;
    int64_t deadletter_max;

    struct mdx_htab devices;
    struct mdx_htab series;
    struct mdx_link lru;      /* sentinel of the series ring: lru.next is the most recent */
    uint64_t batch_seq;
    struct sq_series *batch_series;
    struct sq_series **batch_series_tail;
    struct sq_device *batch_devices;

    /* Scratch space of the writer, reused between batches. */
    const struct mdx_point **refs; /* the batch's points in arrival order */
    uint32_t *links;          /* next point of the same series, per point */
    struct sq_slow *slow;     /* points of one series that are not appends */
    size_t batch_cap;
    struct sq_pts old;        /* decoded stored chunk */
    struct sq_pts in;         /* incoming points, sorted */
    struct sq_pts merged;
    struct mdx_chunk tmp;     /* encoder for chunks other than heads */

    /* delete_epoch row the cached heads match (see mdx_sq_heads_sync). */
    int64_t delete_epoch;
    int64_t writer_token;     /* ours in points_writer; 0 until the first write */
    sqlite3_stmt *epoch_get;  /* prepared on first use, like writer_set */
    sqlite3_stmt *writer_set;

    /* device_epoch row the cached device and series ids match (see mdx_sq_write). */
    int64_t device_epoch;
    size_t refused;           /* dead letters the batch's writer added for unknown devices */

    /* Rollups: the batch's deltas, flushed before its commit. */
    struct sq_racc racc;      /* the minute being accumulated */
    struct sq_rollup *rollup;
};

/* The concern tables of store.h. */
extern const struct mdx_store_series_ops mdx_sq_series;     /* series.c, write.c, rollup.c */
extern const struct mdx_store_catalog_ops mdx_sq_catalog;   /* catalog.c */
extern const struct mdx_store_alerts_ops mdx_sq_alerts;     /* alerts.c */
extern const struct mdx_store_access_ops mdx_sq_access;     /* access.c */
extern const struct mdx_store_archive_ops mdx_sq_archive;   /* archive.c */
extern const struct mdx_store_commands_ops mdx_sq_commands; /* commands.c */
extern const struct mdx_store_rul_ops mdx_sq_rul;           /* rul.c */
extern const struct mdx_store_lease_ops mdx_sq_lease;       /* lease.c */
extern const struct mdx_store_detector_ops mdx_sq_detector; /* detector_state.c */

/* The batch writer (write.c). */
int mdx_sq_cache_init(struct sq *h);
/* Drops every cached device and series (after a failed batch). */
void mdx_sq_cache_clear(struct sq *h);
void mdx_sq_cache_fini(struct sq *h);
int mdx_sq_write(void *impl, const struct mdx_batch *batch, struct mdx_batch_result *res);
/* Bytes held by the series cache: entries plus chunk buffers. */
size_t mdx_sq_cache_bytes(const struct sq *h, size_t *n_series);
/*
 * Cached heads go stale when another connection changes chunks: raw
 * points deleted by the archiver (archive.c), or points written by another
 * writer on the same database (two workers of a consumer group after a
 * rebalance, shared MQTT subscriptions). Inside a write transaction,
 * mdx_sq_heads_sync() reads the delete_epoch row and the points_writer
 * token; if either is not what this connection left, it drops every cached
 * head so that it is reloaded from the database; with 'claim' (the batch
 * writer) it puts its own token. One writer alone pays one read per
 * transaction.
 */
int mdx_sq_heads_sync(struct sq *h, int claim);
/* Drops the cached head of series (device_id, sensor), if cached. */
void mdx_sq_head_forget(struct sq *h, int64_t device_id, const char *sensor);
/* Drops every cached head (the series ids stay cached). */
void mdx_sq_heads_forget(struct sq *h);

/*
 * Writes the batch's alert changes inside its transaction: inserts the new
 * ones (their ids negated until mdx_store_alerts_settle(), see
 * store_alert_int.h) and updates the others; MDX_ENOTFOUND for an update
 * of an unknown alert or an unknown tenant (alerts.c).
 */
int mdx_sq_alerts_write(struct sq *h, const struct mdx_batch *b);
/*
 * Writes the batch's detector states inside its transaction, each
 * replacing its series' saved one; MDX_EINVAL for an empty or oversized
 * state (detector_state.c).
 */
int mdx_sq_detector_states_write(struct sq *h, const struct mdx_batch *b);
/*
 * Applies the effect of stored event 'ev' of device 'device_id' (inside
 * the batch's transaction; catalog.c).
 */
int mdx_sq_event_apply(struct sq *h, int64_t device_id, const struct mdx_event *ev);

#endif
