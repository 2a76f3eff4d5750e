/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lease.c - the PostgreSQL store's named leases (store_lease.h): one
 * INSERT ... ON CONFLICT that only wins for the holder itself or over an
 * expired row; the unique key serialises two takers.
 */
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "modax/status.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"

/* Who holds lease 'name' now, for the caller's message. */
static int lease_current(struct pg *h, const char *name, struct mdx_lease *current)
{
    const char *v[1] = {name};
    PGresult *res;
    int rc = mdx_pg_run_row(h, 0, "SELECT holder, expires_ms FROM leases WHERE name = $1", 1, v,
                            &res);

    if (rc == MDX_OK) {
        snprintf(current->holder, sizeof(current->holder), "%s", PQgetvalue(res, 0, 0));
        current->expires_ms = mdx_pg_i64(res, 0, 1);
    }
    PQclear(res);
    return rc;
}

static int pg_lease_take(void *impl, const char *name, const char *holder, int64_t now_ms,
                         int64_t expires_ms, struct mdx_lease *current)
{
    char expires[24], now[24];
    const char *v[4] = {name, holder, mdx_pg_fmt(expires, expires_ms), mdx_pg_fmt(now, now_ms)};
    int rc = mdx_pg_run_change(impl,
                               "INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, $3)"
                               " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                               " expires_ms = excluded.expires_ms"
                               " WHERE leases.holder = excluded.holder"
                               " OR leases.expires_ms <= $4::bigint",
                               4, v);

    if (rc != MDX_ENOTFOUND) {
        return rc;
    }
    rc = lease_current(impl, name, current);
    return rc == MDX_OK ? MDX_EEXIST : rc;
}

static int pg_lease_release(void *impl, const char *name, const char *holder)
{
    const char *v[2] = {name, holder};

    return mdx_pg_run_change(impl, "DELETE FROM leases WHERE name = $1 AND holder = $2", 2, v);
}

const struct mdx_store_lease_ops mdx_pg_lease = {
    .lease_take = pg_lease_take,
    .lease_release = pg_lease_release,
};
