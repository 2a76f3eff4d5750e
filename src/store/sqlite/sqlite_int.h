/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_int.h - the SQLite store's handle and the helpers its files
 * share: sqlite.c (open, statements), write.c (the batch writer and its
 * caches), rollup.c and one file per concern. Internal to src/store/sqlite.
 */
#ifndef MODAX_STORE_SQLITE_INT_H
#define MODAX_STORE_SQLITE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/chunk.h"
#include "base/htab.h"
#include "modax/status.h"
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
    struct sq_series *lru_prev;
    struct sq_series *lru_next;
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

struct sq_rollup;             /* rollup.c */

struct sq {
    sqlite3 *db;
    sqlite3_stmt *st[SQ_STMT_COUNT];
    uint32_t chunk_points;
    size_t cache_series;
    int64_t deadletter_max;

    struct mdx_htab devices;
    struct mdx_htab series;
    struct sq_series lru;     /* sentinel: lru.lru_next is the most recent */
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
    sqlite3_stmt *epoch_get;  /* prepared on first use */

    /* device_epoch row the cached device and series ids match (see mdx_sq_write). */
    int64_t device_epoch;
    size_t refused;           /* dead letters the batch's writer added for unknown devices */

    /* Rollups: the batch's deltas, flushed before its commit. */
    struct sq_racc racc;      /* the minute being accumulated */
    struct sq_rollup *rollup;
};

/* MDX_* status for an SQLite result code. */
int mdx_sq_status(int rc);
/* Copies column 'col' as text into 'buf' (size 'len'), truncating. */
void mdx_sq_column_copy(sqlite3_stmt *st, int col, char *buf, size_t len);
/* Tenant, device and identity names: [A-Za-z0-9_-]{1,64}. */
int mdx_sq_name_valid(const char *s);
/* Prepares 'sql' into *st: MDX_OK, or the error with *st NULL. */
int mdx_sq_prepare(struct sq *h, const char *sql, sqlite3_stmt **st);
/* Steps a statement that returns at most one row, leaving it on the row to read:
 * MDX_OK if there was one, MDX_ENOTFOUND if not, else the error. The caller finalizes. */
int mdx_sq_step_row(sqlite3_stmt *st);
/*
 * Runs 'sql' with ?1 = key1 (and ?2 = key2 unless NULL) for at most one row:
 * MDX_OK with *st on the row (the caller reads it and finalizes *st),
 * MDX_ENOTFOUND if none, else the error; without a row *st is finalized.
 */
int mdx_sq_find(struct sq *h, const char *sql, const char *key1, const char *key2,
                sqlite3_stmt **st);
/* Steps a statement that returns no rows and finalizes it: MDX_OK or the error. */
int mdx_sq_run_done(sqlite3_stmt *st);
/* Steps a statement that changes rows and finalizes it: MDX_OK, MDX_ENOTFOUND if none changed. */
int mdx_sq_run_change(struct sq *h, sqlite3_stmt *st);
/* Resets kept statement 'st' after a listing and turns its last step result 'rc' into a status. */
int mdx_sq_finish(sqlite3_stmt *st, int rc);
/* Calls fn with column 0 (borrowed) of each row of kept statement 'st', then resets it:
 * MDX_OK, fn's stop value, or the error. */
int mdx_sq_each_name(sqlite3_stmt *st, mdx_name_fn fn, void *arg);
/* Id of tenant 'tenant' into *id: MDX_OK, MDX_ENOTFOUND (also for an invalid name) or an error. */
int mdx_sq_tenant_id(struct sq *h, const char *tenant, int64_t *id);

/* The concern tables of store.h. */
extern const struct mdx_store_series_ops mdx_sq_series;     /* series.c, write.c, rollup.c */
extern const struct mdx_store_catalog_ops mdx_sq_catalog;   /* catalog.c */
extern const struct mdx_store_alerts_ops mdx_sq_alerts;     /* alerts.c */
extern const struct mdx_store_access_ops mdx_sq_access;     /* access.c */
extern const struct mdx_store_archive_ops mdx_sq_archive;   /* archive.c */
extern const struct mdx_store_commands_ops mdx_sq_commands; /* commands.c */
extern const struct mdx_store_rul_ops mdx_sq_rul;           /* rul.c */

/* The batch writer (write.c). */
int mdx_sq_cache_init(struct sq *h);
/* Drops every cached device and series (after a failed batch). */
void mdx_sq_cache_clear(struct sq *h);
void mdx_sq_cache_fini(struct sq *h);
int mdx_sq_write(void *impl, const struct mdx_batch *batch, struct mdx_batch_result *res);
/* Bytes held by the series cache: entries plus chunk buffers. */
size_t mdx_sq_cache_bytes(const struct sq *h, size_t *n_series);
/*
 * Raw points deleted by the archiver (archive.c) make cached heads stale,
 * also those of another connection. Inside a write transaction,
 * mdx_sq_heads_sync() reads the delete_epoch row and, if it moved, drops
 * every cached head so that it is reloaded from the database.
 */
int mdx_sq_heads_sync(struct sq *h);
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
 * Applies the effect of stored event 'ev' of device 'device_id' (inside
 * the batch's transaction; catalog.c).
 */
int mdx_sq_event_apply(struct sq *h, int64_t device_id, const struct mdx_event *ev);

/*
 * Rollups (rollup.c). Every point the writer stores (not a
 * duplicate) goes through mdx_sq_rollup_add() inside the batch's
 * transaction; mdx_sq_rollup_flush() upserts the batch's deltas into
 * rollup_1m and rollup_1h before the commit.
 */
/* Prepares the rollup statements and rolls up points stored before migration 2. */
int mdx_sq_rollup_open(struct sq *h);
/* Accepts a half-opened handle. */
void mdx_sq_rollup_close(struct sq *h);
/* Forgets the deltas of a batch (at its start, and after a failure). */
void mdx_sq_rollup_reset(struct sq *h);
/* Moves h->racc into the batch's deltas; writes them out when the buffer is full. */
int mdx_sq_rollup_push(struct sq *h);
/* Writes the batch's deltas into the rollup tables (inside the transaction). */
int mdx_sq_rollup_flush(struct sq *h);
int mdx_sq_query_buckets(void *impl, const struct mdx_query *q, int64_t step_ms,
                         mdx_bucket_fn fn, void *arg);
int mdx_sq_latest(void *impl, const char *tenant, const char *device, mdx_sensor_point_fn fn,
                  void *arg);

/* Adds one stored point to the rollup deltas: O(1) while the minute stays the same. */
static inline int mdx_sq_rollup_add(struct sq *h, int64_t series_id, int64_t ts_ms, double v)
{
    struct sq_racc *a = &h->racc;
    int64_t r = ts_ms % MDX_ROLLUP_MINUTE_MS;
    int64_t bucket = ts_ms - (r < 0 ? r + MDX_ROLLUP_MINUTE_MS : r);

    if (a->count == 0 || a->bucket_ms != bucket || a->series_id != series_id) {
        if (a->count > 0) {
            int rc = mdx_sq_rollup_push(h);
            if (rc != MDX_OK) {
                return rc;
            }
        }
        a->series_id = series_id;
        a->bucket_ms = bucket;
        a->min = a->max = a->sum = v;
        a->count = 1;
        return MDX_OK;
    }
    a->min = v < a->min ? v : a->min;
    a->max = v > a->max ? v : a->max;
    a->sum += v;
    a->count++;
    return MDX_OK;
}

#endif
