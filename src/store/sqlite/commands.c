/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commands.c - the SQLite store's record of operators' commands to devices
 * (store_commands.h): inserted when sent, updated by the API (failed to
 * publish) and by the device's command_ack events inside the write
 * batches (catalog.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

MDX_SQ_LISTER(command_list, struct mdx_command, mdx_row_command, mdx_command_fn)

static int sq_command_put(void *impl, struct mdx_command *cmd)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int insert = cmd->id == 0;
    int rc;

    if (cmd->id < 0 || cmd->state < MDX_COMMAND_SENT || cmd->state > MDX_COMMAND_FAILED ||
        strnlen(cmd->detail, sizeof(cmd->detail)) >= sizeof(cmd->detail)) {
        return MDX_EINVAL;
    }
    if (!mdx_sq_name_valid(cmd->tenant) || !mdx_sq_name_valid(cmd->device)) {
        return MDX_ENOTFOUND;
    }
    if (insert && (!mdx_sq_name_valid(cmd->name) || !isfinite(cmd->value) ||
                   strnlen(cmd->issued_by, sizeof(cmd->issued_by)) >= sizeof(cmd->issued_by))) {
        return MDX_EINVAL;
    }
    rc = mdx_sq_prepare_keys(
        h,
        insert ? "INSERT INTO commands (device_id, name, value, state, detail, issued_by,"
                 " created_ms, updated_ms)"
                 " SELECT d.id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM devices d JOIN tenants t"
                 " ON t.id = d.tenant_id WHERE t.name = ?1 AND d.name = ?2"
               : "UPDATE commands SET state = ?5, detail = ?6, updated_ms = ?9"
                 " WHERE id = ?10 AND device_id = (SELECT d.id FROM devices d JOIN tenants t"
                 " ON t.id = d.tenant_id WHERE t.name = ?1 AND d.name = ?2)",
        cmd->tenant, cmd->device, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int(st, 5, cmd->state);
    sqlite3_bind_text(st, 6, cmd->detail, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, cmd->updated_ms);
    if (insert) {
        sqlite3_bind_text(st, 3, cmd->name, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 4, cmd->value);
        sqlite3_bind_text(st, 7, cmd->issued_by, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, cmd->created_ms);
    } else {
        sqlite3_bind_int64(st, 10, cmd->id);
    }
    /* MDX_ENOTFOUND: no such device, or no such command of it. */
    rc = mdx_sq_run_change(h, st);
    if (rc == MDX_OK && insert) {
        cmd->id = sqlite3_last_insert_rowid(h->db);
    }
    return rc;
}

static int sq_command_get(void *impl, const char *tenant, int64_t id, struct mdx_command *out)
{
    memset(out, 0, sizeof(*out));
    if (!mdx_sq_name_valid(tenant) || id <= 0) {
        return MDX_ENOTFOUND;
    }
    return mdx_sq_find_id_rec(impl, MDX_SELECT_COMMAND " WHERE c.id = ?1 AND t.name = ?2", id,
                              tenant, &mdx_row_command, out);
}

static int sq_command_list(void *impl, const char *tenant, const char *device, int64_t limit,
                           mdx_command_fn fn, void *arg)
{
    struct command_list list = {fn, arg};

    return mdx_sq_device_list(impl, tenant, device, limit,
                              MDX_SELECT_COMMAND " WHERE d.tenant_id = ?1"
                                                 " ORDER BY c.created_ms DESC, c.id DESC LIMIT ?3",
                              MDX_SELECT_COMMAND " WHERE d.tenant_id = ?1 AND d.name = ?2"
                                                 " ORDER BY c.created_ms DESC, c.id DESC LIMIT ?3",
                              command_list_row, &list);
}

const struct mdx_store_commands_ops mdx_sq_commands = {
    .command_put = sq_command_put,
    .command_get = sq_command_get,
    .command_list = sq_command_list,
};
