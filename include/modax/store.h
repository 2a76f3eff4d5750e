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
    char *backend;            /* "sqlite" */
    char *sqlite_path;        /* database file */
    int64_t busy_timeout_ms;  /* how long one statement waits for a lock */
    int64_t chunk_points;     /* points per stored chunk */
    int64_t cache_series;     /* series whose open chunk stays in memory */
    int64_t deadletter_max;   /* dead letters kept; oldest evicted */
    int synchronous_full;     /* fsync every commit (else at WAL checkpoints) */
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

typedef int (*mdx_name_fn)(void *arg, const char *name);
typedef int (*mdx_device_fn)(void *arg, const struct mdx_device_info *dev);
typedef int (*mdx_point_fn)(void *arg, int64_t ts_ms, double value, unsigned flags);
typedef int (*mdx_deadletter_fn)(void *arg, const struct mdx_deadletter *dl);
typedef int (*mdx_count_fn)(void *arg, const char *name, int64_t count);
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

extern const struct mdx_store_ops mdx_store_sqlite;

#endif
