/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h - the store: one handle, several back ends, a few concerns.
 *
 * A back end (SQLite, PostgreSQL) is chosen by "store.backend" from the
 * table in store.c. It implements one small table of functions per
 * concern, each declared with that concern's types and public functions:
 *
 *   store_series.h    batch writes, points, rollups, events, dead letters, checkpoints
 *   store_catalog.h   tenants, devices, device type and configuration
 *   store_alerts.h    threshold rules and alerts
 *   store_access.h    API keys, broker credentials and identities
 *   store_archive.h   retention, export and deletion of raw points, archive records
 *   store_commands.h  commands to devices
 *   store_rul.h       RUL models and predictions
 *   store_detector.h  saved anomaly detector states
 *
 * This header includes them all, so callers include store.h alone.
 *
 * Rules every mdx_store_* function follows:
 * - A handle is used by one thread at a time; open one per thread.
 * - Functions return MDX_OK or a negative MDX_E* code (status.h); the
 *   comment of each function names the codes that mean something there.
 *   MDX_ECONN (PostgreSQL down), MDX_EBUSY (locked) and MDX_EIO may come
 *   from any of them.
 * - Strings and structs passed in stay the caller's; the store copies what
 *   it keeps. An 'out' struct is the caller's and is filled on MDX_OK.
 * - List functions call a callback once per item. Whatever the callback is
 *   handed by pointer (strings, structs, payloads) is borrowed for that
 *   call only: it points into the back end's row buffers, so a callback
 *   copies what it keeps. A callback returns MDX_OK to go on; anything
 *   else stops the walk and is returned by the list function. A callback
 *   may call other functions of the same handle, but not the same listing
 *   again (SQLite keeps the listing's statement open while it runs).
 */
#ifndef MODAX_STORE_H
#define MODAX_STORE_H

#include <stdint.h>

#include "modax/conf.h"
#include "modax/store_access.h"
#include "modax/store_alerts.h"
#include "modax/store_archive.h"
#include "modax/store_catalog.h"
#include "modax/store_commands.h"
#include "modax/store_detector.h"
#include "modax/store_lease.h"
#include "modax/store_rul.h"
#include "modax/store_series.h"

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
    char *pgsql_credentials;  /* "password" (default) or "azure-workload-identity": an Entra ID
                                 token as the password, fresh at each connection */
    char *pgsql_sslmode;      /* libpq sslmode: disable ... verify-full */
    int64_t pgsql_partition_days_ahead; /* daily partitions created ahead of today */
    int64_t pgsql_connect_timeout_s;    /* libpq connect_timeout */
};

/* Config keys of the store ("store.*"). */
extern const struct mdx_conf_key mdx_store_conf_keys[];

/* The store handle; opaque. */
struct mdx_store;

/*
 * Opens the back end named by conf->backend (conf is read during the call
 * only) and migrates its schema to the newest version. Returns the handle,
 * which the caller closes, or NULL with the reason in *err.
 */
struct mdx_store *mdx_store_open(const struct mdx_store_conf *conf, int *err);
/* Closes the handle; accepts NULL. */
void mdx_store_close(struct mdx_store *st);

/*
 * A back end: its name for "store.backend", open and close of its own
 * handle ('impl'), and its table for each concern. A table, or a function
 * in it, left NULL makes the store function answer MDX_EINVAL.
 */
struct mdx_store_backend {
    const char *name;
    int (*open)(const struct mdx_store_conf *conf, void **impl);
    void (*close)(void *impl);
    const struct mdx_store_series_ops *series;
    const struct mdx_store_catalog_ops *catalog;
    const struct mdx_store_alerts_ops *alerts;
    const struct mdx_store_access_ops *access;
    const struct mdx_store_archive_ops *archive;
    const struct mdx_store_commands_ops *commands;
    const struct mdx_store_rul_ops *rul;
    const struct mdx_store_lease_ops *lease;
    const struct mdx_store_detector_ops *detector;
};

extern const struct mdx_store_backend mdx_store_sqlite;
extern const struct mdx_store_backend mdx_store_pgsql;

#endif
