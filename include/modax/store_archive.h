/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_archive.h - what the archiver needs of the store: per-tenant
 * retention, the (device, day) partitions of raw points, their export and
 * deletion, and the records of the objects written to object storage.
 *
 * Included by store.h; see there for the handle and the rules every store
 * function follows (returns, callbacks, ownership).
 */
#ifndef MODAX_STORE_ARCHIVE_H
#define MODAX_STORE_ARCHIVE_H

#include <stdint.h>

#include "modax/msg.h"
#include "modax/store_series.h"

struct mdx_store;

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

/* A (tenant, device, UTC day) partition of raw points; the strings are borrowed for the call. */
typedef int (*mdx_partition_fn)(void *arg, const char *tenant, const char *device, int64_t day_ms);
/* An archive record; borrowed for the call only: copy what you keep. */
typedef int (*mdx_archive_obj_fn)(void *arg, const struct mdx_archive_obj *obj);

/*
 * The tenant's override into *out: MDX_OK, MDX_ENOTFOUND if it has none
 * (the archiver then uses its config).
 */
int mdx_store_retention_get(struct mdx_store *st, const char *tenant, struct mdx_retention *out);
/* Sets the tenant's override: MDX_OK; MDX_ENOTFOUND for an unknown tenant. */
int mdx_store_retention_set(struct mdx_store *st, const char *tenant,
                            const struct mdx_retention *r);
/*
 * Calls fn for each (device, UTC day) of 'tenant' that holds raw points
 * and ends at or before 'before_ms', oldest day first. MDX_OK, fn's stop
 * value, or an error.
 */
int mdx_store_archive_partitions(struct mdx_store *st, const char *tenant, int64_t before_ms,
                                 mdx_partition_fn fn, void *arg);
/*
 * Calls fn for the raw points of a device in [from_ms, to_ms), ordered by
 * sensor name, then time. MDX_OK, fn's stop value, or an error.
 */
int mdx_store_export_points(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t from_ms, int64_t to_ms, mdx_sensor_point_fn fn, void *arg);
/*
 * Deletes raw points of a device in [from_ms, to_ms) (rollups stay); *deleted
 * counts them. With expect >= 0 the delete happens only if the range holds
 * exactly 'expect' points at that moment (atomically); otherwise nothing is
 * deleted and MDX_EAGAIN returned: a point arrived after they were counted.
 * MDX_OK, MDX_EAGAIN, or an error.
 */
int mdx_store_delete_points(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t from_ms, int64_t to_ms, int64_t expect, int64_t *deleted);
/* Inserts or replaces the record of obj->key. MDX_OK or an error. */
int mdx_store_archive_obj_put(struct mdx_store *st, const struct mdx_archive_obj *obj);
/*
 * Calls fn for the archive records of 'tenant' (NULL: all) in 'state' (-1:
 * any) whose day is before 'before_day_ms' (<= 0: any), oldest day first,
 * then seq. MDX_OK, fn's stop value, or an error.
 */
int mdx_store_archive_obj_list(struct mdx_store *st, const char *tenant, int state,
                               int64_t before_day_ms, mdx_archive_obj_fn fn, void *arg);
/* Deletes the record of 'key'. MDX_OK (also when there was none) or an error. */
int mdx_store_archive_obj_delete(struct mdx_store *st, const char *key);

/* What a back end implements for the archive. 'impl' is its own handle. */
struct mdx_store_archive_ops {
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
};

#endif
