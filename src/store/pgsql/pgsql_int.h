/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pgsql_int.h - the PostgreSQL store's handle, its statements and caches,
 * and the functions of the batch writer (write.c) and of the concern
 * files that other files of the back end call. The connection and the
 * helpers that run statements are in conn.h. Internal to src/store/pgsql.
 */
#ifndef MODAX_STORE_PGSQL_INT_H
#define MODAX_STORE_PGSQL_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "base/htab.h"
#include "net/azure_creds.h"
#include "modax/store.h"

/* Prepared statements, prepared on every new connection (conn.c). */
enum pg_stmt {
    PG_TENANT_ADD,
    PG_TENANT_ID,
    PG_TENANT_LIST,
    PG_DEVICE_ADD,
    PG_DEVICE_GET,
    PG_DEVICE_LIST,
    PG_DEVICE_IDS,
    PG_SENSOR_LIST,
    PG_SERIES_ADD,
    PG_SERIES_GET,
    PG_SERIES_FIND,
    PG_ENSURE_PARTITION,
    PG_APPLY,
    PG_APPLY_NEW,
    PG_DEVICES_SEEN,
    PG_POINTS_RANGE,
    PG_POINTS_TENANT,
    PG_POINTS_ALL,
    PG_EVENT_ADD,
    PG_EVENT_LIST,
    PG_DL_ADD,
    PG_DL_EVICT,
    PG_DL_COUNT_BUMP,
    PG_DL_LIST,
    PG_DL_COUNTS,
    PG_CKPT_SET,
    PG_CKPT_GET,
    PG_BUCKETS_RAW,
    PG_BUCKETS_1M,
    PG_BUCKETS_1H,
    PG_LATEST,
    PG_RETENTION_GET,
    PG_RETENTION_SET,
    PG_PARTITIONS,
    PG_SERIES_OF_DEVICE,
    PG_DELETE,
    PG_ARCHIVE_PUT,
    PG_ARCHIVE_LIST,
    PG_ARCHIVE_DELETE,
    PG_DEVICE_STATUS,
    PG_DEVICE_SAFETY,
    PG_COMMAND_ACK,
    PG_DEVICE_EPOCH,
    PG_STMT_COUNT
};

/* A cache entry: key bytes -> (id, parent id). */
struct pg_entry {
    struct mdx_hnode node;    /* first: a node pointer is the entry */
    int64_t id;
    int64_t parent;           /* device: tenant id; series: device id */
    size_t key_len;
    char key[];
};

/* A bounded map; cleared as a whole when it reaches 'max'. */
struct pg_map {
    struct mdx_htab t;
    size_t max;               /* entries before it is emptied */
};

/* A point of the batch, resolved to its series, for sorting and COPY. */
struct pg_row {
    int64_t ts_ms;
    double value;
    int32_t series_id;
    uint32_t idx;             /* arrival order: the first of equal (series, ts) wins */
    int32_t device;           /* index into pg->batch_dev */
    uint8_t flags;
};

/* A device touched by the batch. */
struct pg_batch_dev {
    int64_t id;
    int64_t tenant_id;
    int64_t seen_ms;
};

struct pg {
    PGconn *conn;
    int ready;                /* connected, migrated, statements prepared */
    int timescale;            /* points is a TimescaleDB hypertable */
    char where[400];          /* "host=.. port=.. dbname=.. user=..", for messages */

    /* Connection parameters (PQconnectdbParams), owned. */
    char *url;
    char *password;           /* wiped at close */
    struct mdx_azure_creds *wi; /* azure-workload-identity: the Entra ID tokens used as the
                                   password of each new connection; NULL with a password */
    char *sslmode;
    char timeout[24];         /* connect_timeout, s */
    char lock_timeout[24];    /* store.busy_timeout_ms */
    int64_t days_ahead;
    int64_t deadletter_max;
    size_t cache_max;

    struct pg_map devices;    /* "tenant\0device" -> device id, tenant id */
    struct pg_map series;     /* device id (8 bytes) + sensor -> series id */
    int64_t *days;            /* UTC days known to have a partition, unsorted */
    size_t n_days, cap_days;
    int64_t ahead_day;        /* partitions exist up to this day (ahead) */

    /* Writer scratch, reused between batches. */
    struct pg_row *rows;
    size_t cap_rows;
    struct pg_batch_dev *dev;
    size_t n_dev, cap_dev;
    uint8_t *copy;            /* binary COPY buffer */
    size_t copy_len, copy_cap;
    char *arr[2];             /* text arrays for the devices update */
    size_t arr_cap[2];
    char *agg;                /* text arrays of PG_APPLY_NEW, NUL-separated */
    size_t agg_cap;
    int general_left;         /* batches left on PG_APPLY after a redelivered point */
    int64_t device_epoch;     /* device_epoch row the cached ids match (write.c) */
    size_t *refused;          /* groups of the batch whose device is not registered */
    size_t n_refused, cap_refused;
    size_t n_refused_events;  /* events of the batch refused the same way */
};

/* The concern tables of store.h, one file each. */
extern const struct mdx_store_series_ops mdx_pg_series;     /* series.c, write.c */
extern const struct mdx_store_catalog_ops mdx_pg_catalog;   /* catalog.c */
extern const struct mdx_store_alerts_ops mdx_pg_alerts;     /* alerts.c */
extern const struct mdx_store_access_ops mdx_pg_access;     /* access.c */
extern const struct mdx_store_archive_ops mdx_pg_archive;   /* archive.c */
extern const struct mdx_store_commands_ops mdx_pg_commands; /* commands.c */
extern const struct mdx_store_rul_ops mdx_pg_rul;           /* rul.c */
extern const struct mdx_store_lease_ops mdx_pg_lease;       /* lease.c */
extern const struct mdx_store_detector_ops mdx_pg_detector; /* detector_state.c */

/* The batch writer (write.c). */
int mdx_pg_cache_init(struct pg *h);
void mdx_pg_cache_clear(struct pg *h);
void mdx_pg_cache_fini(struct pg *h);
int mdx_pg_write(void *impl, const struct mdx_batch *batch, struct mdx_batch_result *res);

/*
 * Calls fn (or, when fn is NULL, sfn with 'sensor') for the points of
 * series 'id' in [from, to] in time order, at most 'limit' (0: all),
 * fetched a page at a time (series.c; the archive's export uses it).
 */
int mdx_pg_series_points(struct pg *h, int64_t id, int64_t from, int64_t to, int64_t limit,
                         mdx_point_fn fn, mdx_sensor_point_fn sfn, const char *sensor, void *arg);

/*
 * Writes the batch's alert changes inside its transaction: inserts the new
 * ones (their ids negated until mdx_store_alerts_settle(), see
 * store_alert_int.h) and updates the others; MDX_ENOTFOUND for an update
 * of an unknown alert or an unknown tenant (alerts.c).
 */
int mdx_pg_alerts_write(struct pg *h, const struct mdx_batch *b);
/*
 * Writes the batch's detector states inside its transaction, in one
 * statement, each replacing its series' saved one; MDX_EINVAL for an
 * empty or oversized state (detector_state.c).
 */
int mdx_pg_detector_states_write(struct pg *h, const struct mdx_batch *b);
/*
 * Applies the effect of stored event 'ev' of device 'device_id' (inside
 * the batch's transaction; catalog.c).
 */
int mdx_pg_event_apply(struct pg *h, int64_t device_id, const struct mdx_event *ev);

#endif
