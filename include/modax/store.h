/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h - the store interface: registry, time series, events, dead letters.
 *
 * One interface, several back ends (store_sqlite.c now, store_pgsql.c
 * next), chosen by "store.backend" from the table in store.c. A store
 * handle is used by one thread at a time; open one per thread.
 *
 * Points are logically (tenant, device, sensor, ts_ms) -> value, unique on
 * the key: writing a point that exists changes nothing and is counted as a
 * duplicate. mdx_store_write() applies a whole batch (points, events,
 * dead letters and the spool checkpoint) in one transaction, so a batch is
 * either stored completely or not at all.
 */
#ifndef MODAX_STORE_H
#define MODAX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "modax/conf.h"
#include "modax/msg.h"

struct mdx_store_conf {
    char *backend;            /* "sqlite" or "postgresql" */
    char *sqlite_path;        /* database file */
    int64_t busy_timeout_ms;  /* how long one statement waits for a lock */
    int64_t chunk_points;     /* points per stored chunk */
    int64_t cache_series;     /* series whose open chunk stays in memory */
    int64_t deadletter_max;   /* dead letters kept; oldest evicted */
    int synchronous_full;     /* fsync every commit (else at WAL checkpoints) */
    char *pgsql_url;          /* libpq conninfo, without the password */
    char *pgsql_password;     /* secret: environment or *_FILE only */
    char *pgsql_sslmode;      /* libpq sslmode: disable ... verify-full */
    int64_t pgsql_partition_days_ahead; /* daily partitions created ahead of today */
    int64_t pgsql_connect_timeout_s;    /* libpq connect_timeout */
};

/* Config keys of the store ("store.*"). */
extern const struct mdx_conf_key mdx_store_conf_keys[];

/* Where the store's batches have reached in the spool (see spool.h). */
struct mdx_spool_pos {
    uint64_t segment;
    uint64_t offset;
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
};

struct mdx_batch_result {
    uint64_t points_written;
    uint64_t points_duplicate;
};

struct mdx_device_info {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    char type[MDX_NAME_MAX + 1];   /* device type, "" if none (rules can target types) */
    int64_t created_ms;
    int64_t last_seen_ms;     /* 0 if never seen */
    int auto_registered;
};

struct mdx_query {
    const char *tenant;
    const char *device;
    const char *sensor;
    int64_t from_ms;          /* inclusive */
    int64_t to_ms;            /* inclusive */
    int64_t limit;            /* 0 = no limit */
};

/* Aggregates of a time bucket. Rollups keep min, max, sum and count per series. */
enum mdx_agg { MDX_AGG_AVG = 0, MDX_AGG_MIN, MDX_AGG_MAX, MDX_AGG_COUNT };

#define MDX_ROLLUP_MINUTE_MS 60000LL
#define MDX_ROLLUP_HOUR_MS 3600000LL
#define MDX_DAY_MS 86400000LL

struct mdx_bucket {
    int64_t start_ms;         /* floor(ts / step) * step */
    double min, max, sum;
    int64_t count;
};

/* Retention of a tenant's raw points (days); the store keeps per-tenant overrides. */
struct mdx_retention {
    int64_t archive_after_days; /* raw points older than this move to object storage */
    int64_t expire_after_days;  /* archived objects older than this are deleted */
};

enum mdx_archive_state {
    MDX_ARCHIVE_PENDING = 0,  /* key chosen, upload may or may not have happened */
    MDX_ARCHIVE_VERIFIED,     /* read back and checked; raw rows may now be deleted */
    MDX_ARCHIVE_DONE          /* raw rows deleted */
};

/* One archived object: the points of one device for one UTC day (one of possibly several). */
struct mdx_archive_obj {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    int64_t day_ms;           /* start of the UTC day */
    int64_t seq;              /* 1, 2, ... for later objects of the same day */
    char key[512];            /* object key */
    int64_t size;             /* bytes */
    char sha256[65];          /* hex */
    int64_t points;
    int state;                /* enum mdx_archive_state */
    int64_t created_ms;
};

typedef int (*mdx_name_fn)(void *arg, const char *name);
typedef int (*mdx_device_fn)(void *arg, const struct mdx_device_info *dev);
typedef int (*mdx_point_fn)(void *arg, int64_t ts_ms, double value, unsigned flags);
typedef int (*mdx_deadletter_fn)(void *arg, const struct mdx_deadletter *dl);
typedef int (*mdx_count_fn)(void *arg, const char *name, int64_t count);
typedef int (*mdx_bucket_fn)(void *arg, const struct mdx_bucket *b);
/* A point with its sensor: latest values, exports. */
typedef int (*mdx_sensor_point_fn)(void *arg, const char *sensor, int64_t ts_ms, double value,
                                   unsigned flags);
/* A (tenant, device, UTC day) partition of raw points. */
typedef int (*mdx_partition_fn)(void *arg, const char *tenant, const char *device, int64_t day_ms);
typedef int (*mdx_archive_obj_fn)(void *arg, const struct mdx_archive_obj *obj);

struct mdx_rule;
struct mdx_alert;
struct mdx_alert_filter;
typedef int (*mdx_rule_fn)(void *arg, const struct mdx_rule *rule);
typedef int (*mdx_alert_fn)(void *arg, const struct mdx_alert *alert);
/* Callbacks return MDX_OK to go on, anything else stops the walk and is returned. */

/* What each back end implements. 'impl' is the back end's own handle. */
struct mdx_store_ops {
    const char *name;
    int (*open)(const struct mdx_store_conf *conf, void **impl);
    void (*close)(void *impl);
    int (*tenant_add)(void *impl, const char *tenant);
    int (*tenant_list)(void *impl, mdx_name_fn fn, void *arg);
    int (*tenant_exists)(void *impl, const char *tenant);
    int (*device_add)(void *impl, const char *tenant, const char *device, int auto_registered);
    int (*device_get)(void *impl, const char *tenant, const char *device,
                      struct mdx_device_info *out);
    int (*device_list)(void *impl, const char *tenant, mdx_device_fn fn, void *arg);
    int (*sensor_list)(void *impl, const char *tenant, const char *device, mdx_name_fn fn,
                       void *arg);
    int (*write)(void *impl, const struct mdx_batch *batch, struct mdx_batch_result *res);
    int (*checkpoint_get)(void *impl, const char *owner, struct mdx_spool_pos *pos);
    int (*query_points)(void *impl, const struct mdx_query *q, mdx_point_fn fn, void *arg);
    int (*point_count)(void *impl, const char *tenant, int64_t *count);
    int (*deadletter_list)(void *impl, int64_t limit, mdx_deadletter_fn fn, void *arg);
    int (*deadletter_counts)(void *impl, mdx_count_fn fn, void *arg);
    int (*event_list)(void *impl, const char *tenant, const char *device, int64_t limit,
                      int (*fn)(void *arg, const struct mdx_event *ev), void *arg);
    /* Rollups and latest values (issue 3). */
    int (*query_buckets)(void *impl, const struct mdx_query *q, int64_t step_ms, mdx_bucket_fn fn,
                         void *arg);
    int (*latest)(void *impl, const char *tenant, const char *device, mdx_sensor_point_fn fn,
                  void *arg);
    /* Retention and archive (issue 3). */
    int (*retention_get)(void *impl, const char *tenant, struct mdx_retention *out);
    int (*retention_set)(void *impl, const char *tenant, const struct mdx_retention *r);
    int (*archive_partitions)(void *impl, const char *tenant, int64_t before_ms,
                              mdx_partition_fn fn, void *arg);
    int (*export_points)(void *impl, const char *tenant, const char *device, int64_t from_ms,
                         int64_t to_ms, mdx_sensor_point_fn fn, void *arg);
    int (*delete_points)(void *impl, const char *tenant, const char *device, int64_t from_ms,
                         int64_t to_ms, int64_t expect, int64_t *deleted);
    int (*archive_obj_put)(void *impl, const struct mdx_archive_obj *obj);
    int (*archive_obj_list)(void *impl, const char *tenant, int state, int64_t before_day_ms,
                            mdx_archive_obj_fn fn, void *arg);
    int (*archive_obj_delete)(void *impl, const char *key);
    /* Devices' types, rules and alerts (issue 4). */
    int (*device_set_type)(void *impl, const char *tenant, const char *device, const char *type);
    int (*rule_put)(void *impl, struct mdx_rule *rule);
    int (*rule_list)(void *impl, const char *tenant, mdx_rule_fn fn, void *arg);
    int (*rule_delete)(void *impl, const char *tenant, int64_t id);
    int (*alert_put)(void *impl, struct mdx_alert *alert);
    int (*alert_get)(void *impl, const char *tenant, int64_t id, struct mdx_alert *out);
    int (*alert_list)(void *impl, const struct mdx_alert_filter *f, mdx_alert_fn fn, void *arg);
};

struct mdx_store {
    const struct mdx_store_ops *ops;
    void *impl;
};

/*
 * Opens the back end named by conf->backend and migrates its schema to the
 * newest version. Returns the handle, or NULL (the reason in *err).
 */
struct mdx_store *mdx_store_open(const struct mdx_store_conf *conf, int *err);
void mdx_store_close(struct mdx_store *st);

/* The functions below forward to the back end; see struct mdx_store_ops. */
/* MDX_EEXIST if the tenant exists; MDX_EINVAL for an invalid name. */
int mdx_store_tenant_add(struct mdx_store *st, const char *tenant);
int mdx_store_tenant_list(struct mdx_store *st, mdx_name_fn fn, void *arg);
/* MDX_OK if it exists, MDX_ENOTFOUND if not. */
int mdx_store_tenant_exists(struct mdx_store *st, const char *tenant);
/* MDX_ENOTFOUND if the tenant does not exist, MDX_EEXIST if the device does. */
int mdx_store_device_add(struct mdx_store *st, const char *tenant, const char *device,
                         int auto_registered);
/* MDX_ENOTFOUND if unknown. */
int mdx_store_device_get(struct mdx_store *st, const char *tenant, const char *device,
                         struct mdx_device_info *out);
int mdx_store_device_list(struct mdx_store *st, const char *tenant, mdx_device_fn fn, void *arg);
int mdx_store_sensor_list(struct mdx_store *st, const char *tenant, const char *device,
                          mdx_name_fn fn, void *arg);
/*
 * Applies 'batch' atomically. Tenants and devices of its groups and events
 * must be registered (the engine checks). Returns MDX_OK, or MDX_EBUSY /
 * MDX_EFULL / MDX_EIO for failures the caller retries (nothing was
 * stored), or another code.
 */
int mdx_store_write(struct mdx_store *st, const struct mdx_batch *batch,
                    struct mdx_batch_result *res);
/* Spool position of the last batch 'owner' (an ingest worker) wrote; {0,0} if none. */
int mdx_store_checkpoint_get(struct mdx_store *st, const char *owner, struct mdx_spool_pos *pos);
/* Calls fn for each point of q, in time order. */
int mdx_store_query_points(struct mdx_store *st, const struct mdx_query *q, mdx_point_fn fn,
                           void *arg);
/* Total points stored for 'tenant' (NULL: all tenants). */
int mdx_store_point_count(struct mdx_store *st, const char *tenant, int64_t *count);
/* Newest dead letters first. */
int mdx_store_deadletter_list(struct mdx_store *st, int64_t limit, mdx_deadletter_fn fn,
                              void *arg);
/* Refusals counted per reason since the store was created. */
int mdx_store_deadletter_counts(struct mdx_store *st, mdx_count_fn fn, void *arg);
/* Newest events of a device first. */
int mdx_store_event_list(struct mdx_store *st, const char *tenant, const char *device,
                         int64_t limit, int (*fn)(void *arg, const struct mdx_event *ev),
                         void *arg);

/*
 * Aggregates of q's series in buckets of 'step_ms' aligned to the epoch,
 * oldest first, only buckets that have points. Served from the hour rollup
 * when step_ms is a multiple of an hour, from the minute rollup when it is
 * a multiple of a minute, else from raw points. q->limit bounds buckets.
 * MDX_EINVAL for step_ms <= 0.
 */
int mdx_store_query_buckets(struct mdx_store *st, const struct mdx_query *q, int64_t step_ms,
                            mdx_bucket_fn fn, void *arg);
/* The newest point of each sensor of a device, sensors in name order. */
int mdx_store_latest(struct mdx_store *st, const char *tenant, const char *device,
                     mdx_sensor_point_fn fn, void *arg);
/* The tenant's override, MDX_ENOTFOUND if it has none (the archiver then uses its config). */
int mdx_store_retention_get(struct mdx_store *st, const char *tenant, struct mdx_retention *out);
/* Sets the tenant's override; MDX_ENOTFOUND for an unknown tenant. */
int mdx_store_retention_set(struct mdx_store *st, const char *tenant,
                            const struct mdx_retention *r);
/*
 * Calls fn for each (device, UTC day) of 'tenant' that holds raw points
 * and ends at or before 'before_ms', oldest day first.
 */
int mdx_store_archive_partitions(struct mdx_store *st, const char *tenant, int64_t before_ms,
                                 mdx_partition_fn fn, void *arg);
/* Raw points of a device in [from_ms, to_ms), ordered by sensor name, then time. */
int mdx_store_export_points(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t from_ms, int64_t to_ms, mdx_sensor_point_fn fn, void *arg);
/*
 * Deletes raw points of a device in [from_ms, to_ms) (rollups stay); *deleted
 * counts them. With expect >= 0 the delete happens only if the range holds
 * exactly 'expect' points at that moment (atomically); otherwise nothing is
 * deleted and MDX_EAGAIN returned: a point arrived after they were counted.
 */
int mdx_store_delete_points(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t from_ms, int64_t to_ms, int64_t expect, int64_t *deleted);
/* Inserts or replaces the record of obj->key. */
int mdx_store_archive_obj_put(struct mdx_store *st, const struct mdx_archive_obj *obj);
/*
 * Archive records of 'tenant' (NULL: all) in 'state' (-1: any) whose day is
 * before 'before_day_ms' (<= 0: any), oldest day first, then seq.
 */
int mdx_store_archive_obj_list(struct mdx_store *st, const char *tenant, int state,
                               int64_t before_day_ms, mdx_archive_obj_fn fn, void *arg);
int mdx_store_archive_obj_delete(struct mdx_store *st, const char *key);

/* Sets a device's type ("" clears it); MDX_ENOTFOUND for an unknown device. */
int mdx_store_device_set_type(struct mdx_store *st, const char *tenant, const char *device,
                              const char *type);
/*
 * Stores a rule: inserts it (rule->id set) or, when the tenant already has a
 * rule with the same (name, device_type, device), replaces that one (its id
 * is kept and set). MDX_ENOTFOUND for an unknown tenant, MDX_EINVAL for bad
 * names. A new tenant gets the default rules (see struct mdx_rule).
 */
int mdx_store_rule_put(struct mdx_store *st, struct mdx_rule *rule);
/* The tenant's rules (NULL: all tenants), by name then specificity. */
int mdx_store_rule_list(struct mdx_store *st, const char *tenant, mdx_rule_fn fn, void *arg);
/* MDX_ENOTFOUND if the tenant has no rule 'id'. */
int mdx_store_rule_delete(struct mdx_store *st, const char *tenant, int64_t id);
/*
 * Inserts (alert->id == 0; the id is set) or updates an alert (state,
 * updated/resolved times, value, score, summary). Outside a batch: for
 * operators' acknowledge and resolve. MDX_ENOTFOUND for an unknown id.
 */
int mdx_store_alert_put(struct mdx_store *st, struct mdx_alert *alert);
/* Alert 'id' of 'tenant' (NULL: any tenant); MDX_ENOTFOUND otherwise, also for another tenant's. */
int mdx_store_alert_get(struct mdx_store *st, const char *tenant, int64_t id,
                        struct mdx_alert *out);
int mdx_store_alert_list(struct mdx_store *st, const struct mdx_alert_filter *f, mdx_alert_fn fn,
                         void *arg);

/* Parses "avg", "min", "max", "count"; MDX_EINVAL otherwise. */
int mdx_agg_parse(const char *name, enum mdx_agg *out);
/* The value of 'agg' for bucket 'b'. */
double mdx_bucket_value(const struct mdx_bucket *b, enum mdx_agg agg);

extern const struct mdx_store_ops mdx_store_sqlite;
extern const struct mdx_store_ops mdx_store_pgsql;

#endif
