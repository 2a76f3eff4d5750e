/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lease.c - the SQLite store's named leases (store_lease.h): one upsert
 * that only wins for the holder itself or over an expired row.
 */
#include <stdint.h>

#include <sqlite3.h>

#include "modax/status.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

/* Who holds lease 'name' now, for the caller's message. */
static int lease_current(struct sq *h, const char *name, struct mdx_lease *current)
{
    sqlite3_stmt *st;
    int rc = mdx_sq_find(h, "SELECT holder, expires_ms FROM leases WHERE name = ?1", name, NULL,
                         &st);

    if (rc != MDX_OK) {
        return rc;
    }
    mdx_sq_column_copy(st, 0, current->holder, sizeof(current->holder));
    current->expires_ms = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    return MDX_OK;
}

static int sq_lease_take(void *impl, const char *name, const char *holder, int64_t now_ms,
                         int64_t expires_ms, struct mdx_lease *current)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    rc = mdx_sq_prepare_keys(h,
                             "INSERT INTO leases (name, holder, expires_ms) VALUES (?1, ?2, ?3)"
                             " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                             " expires_ms = excluded.expires_ms"
                             " WHERE leases.holder = excluded.holder OR leases.expires_ms <= ?4",
                             name, holder, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 3, expires_ms);
    sqlite3_bind_int64(st, 4, now_ms);
    rc = mdx_sq_run_change(h, st);
    if (rc != MDX_ENOTFOUND) {
        return rc;
    }
    rc = lease_current(h, name, current);
    return rc == MDX_OK ? MDX_EEXIST : rc;
}

static int sq_lease_release(void *impl, const char *name, const char *holder)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc = mdx_sq_prepare_keys(h, "DELETE FROM leases WHERE name = ?1 AND holder = ?2", name,
                                 holder, &st);

    if (rc != MDX_OK) {
        return rc;
    }
    return mdx_sq_run_change(h, st);
}

const struct mdx_store_lease_ops mdx_sq_lease = {
    .lease_take = sq_lease_take,
    .lease_release = sq_lease_release,
};
