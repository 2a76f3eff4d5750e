/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commands.c - the PostgreSQL store's record of operators' commands to
 * devices (store_commands.h); the same semantics as sqlite/commands.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"

static int pg_command_put(void *impl, struct mdx_command *cmd)
{
    char value[32], state[24], created[24], updated[24], id[24];
    const char *v[9] = {cmd->tenant, cmd->device, mdx_pg_fmt(state, cmd->state), cmd->detail,
                        mdx_pg_fmt(updated, cmd->updated_ms), NULL, NULL, NULL, NULL};
    int insert = cmd->id == 0;
    PGresult *res;
    int rc;

    if (cmd->id < 0 || cmd->state < MDX_COMMAND_SENT || cmd->state > MDX_COMMAND_FAILED ||
        strnlen(cmd->detail, sizeof(cmd->detail)) >= sizeof(cmd->detail)) {
        return MDX_EINVAL;
    }
    if (!mdx_pg_valid_name(cmd->tenant) || !mdx_pg_valid_name(cmd->device)) {
        return MDX_ENOTFOUND;
    }
    if (insert && (!mdx_pg_valid_name(cmd->name) || !isfinite(cmd->value) ||
                   strnlen(cmd->issued_by, sizeof(cmd->issued_by)) >= sizeof(cmd->issued_by))) {
        return MDX_EINVAL;
    }
    if (!insert) {
        v[5] = mdx_pg_fmt(id, cmd->id);
        /* No row changed: no such device, or no such command of it. */
        return mdx_pg_run_change(impl,
                                 "UPDATE commands SET state = $3::smallint, detail = $4,"
                                 " updated_ms = $5::bigint WHERE id = $6::bigint AND device_id ="
                                 " (SELECT d.id FROM devices d JOIN tenants t"
                                 " ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2)",
                                 6, v);
    }
    snprintf(value, sizeof(value), "%.17g", cmd->value);
    v[5] = cmd->name;
    v[6] = value;
    v[7] = cmd->issued_by;
    v[8] = mdx_pg_fmt(created, cmd->created_ms);
    rc = mdx_pg_run_row(impl, 0,
                        "INSERT INTO commands (device_id, name, value, state, detail, issued_by,"
                        " created_ms, updated_ms)"
                        " SELECT d.id, $6, $7::double precision, $3::smallint, $4, $8,"
                        " $9::bigint, $5::bigint FROM devices d JOIN tenants t"
                        " ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2 RETURNING id",
                        9, v, &res);
    if (rc == MDX_OK) {
        cmd->id = mdx_pg_i64(res, 0, 0);
    }
    PQclear(res);
    return rc;
}

static int pg_command_get(void *impl, const char *tenant, int64_t id, struct mdx_command *out)
{
    char ids[24];
    const char *v[2] = {mdx_pg_fmt(ids, id), tenant};

    memset(out, 0, sizeof(*out));
    if (!mdx_pg_valid_name(tenant) || id <= 0) {
        return MDX_ENOTFOUND;
    }
    return mdx_pg_run_rec(impl, MDX_SELECT_COMMAND " WHERE c.id = $1::bigint AND t.name = $2", 2, v,
                          &mdx_row_command, out);
}

MDX_PG_LISTER(command_list, struct mdx_command, mdx_row_command, mdx_command_fn)

static int pg_command_list(void *impl, const char *tenant, const char *device, int64_t limit,
                           mdx_command_fn fn, void *arg)
{
    struct command_list list = {fn, arg};

    return mdx_pg_device_list(impl, tenant, device, limit,
                              MDX_SELECT_COMMAND " WHERE t.name = $1"
                                                 " ORDER BY c.created_ms DESC, c.id DESC"
                                                 " LIMIT $2::bigint",
                              MDX_SELECT_COMMAND " WHERE t.name = $1 AND d.name = $3"
                                                 " ORDER BY c.created_ms DESC, c.id DESC"
                                                 " LIMIT $2::bigint",
                              command_list_row, &list);
}

const struct mdx_store_commands_ops mdx_pg_commands = {
    .command_put = pg_command_put,
    .command_get = pg_command_get,
    .command_list = pg_command_list,
};
