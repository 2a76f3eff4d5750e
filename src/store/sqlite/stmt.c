/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stmt.c - the statement helpers of the SQLite store: result codes as
 * MDX_* statuses, preparing and stepping statements, copying columns, and
 * the lookups every concern needs (a tenant's id, a list of names). The
 * files above it (sqlite.c, write.c, rollup.c and the concern files) run
 * their statements through these; it calls none of them.
 */
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/sqlite/stmt.h"

int mdx_sq_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return MDX_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return MDX_EBUSY;
    case SQLITE_FULL:
        return MDX_EFULL;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return MDX_EIO;
    case SQLITE_NOMEM:
        return MDX_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return MDX_ECORRUPT;
    default:
        return MDX_ESTORE;
    }
}

int mdx_sq_name_valid(const char *s)
{
    return s != NULL && mdx_valid_segment(s, strnlen(s, MDX_NAME_MAX + 1));
}

int mdx_sq_prepare(struct sq *h, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(h->db, sql, -1, st, NULL);

    if (rc != SQLITE_OK) {
        *st = NULL;
        return mdx_sq_status(rc);
    }
    return MDX_OK;
}

int mdx_sq_step_row(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    return rc == SQLITE_ROW ? MDX_OK : rc == SQLITE_DONE ? MDX_ENOTFOUND : mdx_sq_status(rc);
}

int mdx_sq_prepare_keys(struct sq *h, const char *sql, const char *key1, const char *key2,
                        sqlite3_stmt **st)
{
    int rc = mdx_sq_prepare(h, sql, st);

    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(*st, 1, key1, -1, SQLITE_STATIC);
    if (key2 != NULL) {
        sqlite3_bind_text(*st, 2, key2, -1, SQLITE_STATIC);
    }
    return MDX_OK;
}

int mdx_sq_find(struct sq *h, const char *sql, const char *key1, const char *key2,
                sqlite3_stmt **st)
{
    int rc = mdx_sq_prepare_keys(h, sql, key1, key2, st);

    if (rc != MDX_OK) {
        return rc;
    }
    rc = mdx_sq_step_row(*st);
    if (rc != MDX_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
    }
    return rc;
}

int mdx_sq_tenant_find(struct sq *h, const char *sql, const char *tenant, sqlite3_stmt **st)
{
    if (!mdx_sq_name_valid(tenant)) {
        *st = NULL;
        return MDX_ENOTFOUND;
    }
    return mdx_sq_find(h, sql, tenant, NULL, st);
}

int mdx_sq_find_rec(struct sq *h, const char *sql, const char *key1, const char *key2,
                    const struct mdx_row_layout *layout, void *rec)
{
    sqlite3_stmt *st;
    int rc = mdx_sq_find(h, sql, key1, key2, &st);

    if (rc == MDX_OK) {
        mdx_sq_row_map(st, layout, rec);
        sqlite3_finalize(st);
    }
    return rc;
}

int mdx_sq_prepare_tenant(struct sq *h, const char *sql, const char *tenant, int col,
                          sqlite3_stmt **st)
{
    int64_t tid;
    int rc = mdx_sq_tenant_id(h, tenant, &tid);

    *st = NULL;
    if (rc == MDX_OK) {
        rc = mdx_sq_prepare(h, sql, st);
    }
    if (rc == MDX_OK) {
        sqlite3_bind_int64(*st, col, tid);
    }
    return rc;
}

int mdx_sq_find_id_rec(struct sq *h, const char *sql, int64_t id, const char *tenant,
                       const struct mdx_row_layout *layout, void *rec)
{
    sqlite3_stmt *st;
    int rc = mdx_sq_prepare(h, sql, &st);

    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    if (tenant != NULL) {
        sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
    }
    rc = mdx_sq_step_row(st);
    if (rc == MDX_OK) {
        mdx_sq_row_map(st, layout, rec);
    }
    sqlite3_finalize(st);
    return rc;
}

int mdx_sq_run_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
}

int mdx_sq_run_change(struct sq *h, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return mdx_sq_status(rc);
    }
    return sqlite3_changes(h->db) > 0 ? MDX_OK : MDX_ENOTFOUND;
}

int mdx_sq_run_insert(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    return (rc & 0xff) == SQLITE_CONSTRAINT ? MDX_EEXIST : mdx_sq_status(rc);
}

int mdx_sq_update_key(struct sq *h, const char *sql, const char *key, int64_t value)
{
    sqlite3_stmt *st;
    int rc = mdx_sq_prepare_keys(h, sql, key, NULL, &st);

    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 2, value);
    return mdx_sq_run_change(h, st);
}

int mdx_sq_in_tx(struct sq *h, int (*body)(struct sq *h, const void *ctx), const void *ctx)
{
    int rc = mdx_sq_status(sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL));

    if (rc != MDX_OK) {
        return rc;
    }
    rc = body(h, ctx);
    if (rc == MDX_OK) {
        rc = mdx_sq_status(sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL));
    }
    if (rc != MDX_OK) {
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

int mdx_sq_each_kept(sqlite3_stmt *st, mdx_sq_row_fn row, void *ctx)
{
    int rc, ret;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = row(st, ctx);
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    return mdx_sq_finish(st, rc);
}

int mdx_sq_each_row(sqlite3_stmt *st, mdx_sq_row_fn row, void *ctx)
{
    int rc = mdx_sq_each_kept(st, row, ctx);

    sqlite3_finalize(st);
    return rc;
}

/* MDX_OK if device (tenant, device) exists, MDX_ENOTFOUND if not. */
static int device_known(struct sq *h, const char *tenant, const char *device)
{
    sqlite3_stmt *st = h->st[SQ_DEVICE_GET];
    int rc;

    if (!mdx_sq_name_valid(tenant) || !mdx_sq_name_valid(device)) {
        return MDX_ENOTFOUND;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    rc = mdx_sq_step_row(st);
    sqlite3_reset(st);
    return rc;
}

int mdx_sq_device_list(struct sq *h, const char *tenant, const char *device, int64_t limit,
                       const char *by_tenant, const char *by_device, mdx_sq_row_fn row, void *ctx)
{
    sqlite3_stmt *st;
    int64_t tid = 0;
    int rc;

    if (limit < 0) {
        return MDX_EINVAL;
    }
    rc = mdx_sq_tenant_id(h, tenant, &tid);
    if (rc == MDX_OK && device != NULL) {
        rc = device_known(h, tenant, device);
    }
    if (rc == MDX_OK) {
        rc = mdx_sq_prepare(h, device != NULL ? by_device : by_tenant, &st);
    }
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, tid);
    if (device != NULL) {
        sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    return mdx_sq_each_row(st, row, ctx);
}

int mdx_sq_list(struct sq *h, const char *sql, mdx_sq_row_fn row, void *ctx)
{
    sqlite3_stmt *st;
    int rc = mdx_sq_prepare(h, sql, &st);

    return rc != MDX_OK ? rc : mdx_sq_each_row(st, row, ctx);
}

int mdx_sq_tenant_list(struct sq *h, const char *tenant, const char *sql, mdx_sq_row_fn row,
                       void *ctx)
{
    sqlite3_stmt *st;
    int64_t tid = 0;
    int rc = MDX_OK;

    if (tenant != NULL) {
        rc = mdx_sq_tenant_id(h, tenant, &tid);
    }
    if (rc == MDX_OK) {
        rc = mdx_sq_prepare(h, sql, &st);
    }
    if (rc != MDX_OK) {
        return rc;
    }
    if (tenant != NULL) {
        sqlite3_bind_int64(st, 1, tid);
    }
    return mdx_sq_each_row(st, row, ctx);
}

int mdx_sq_finish(sqlite3_stmt *st, int rc)
{
    sqlite3_reset(st);
    return mdx_sq_status(rc);
}

int mdx_sq_step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return mdx_sq_status(rc);
}

int mdx_sq_insert_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return (rc & 0xff) == SQLITE_CONSTRAINT ? MDX_EEXIST : mdx_sq_status(rc);
}

void mdx_sq_column_copy(sqlite3_stmt *st, int col, char *buf, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);

    if (t == NULL) {
        n = 0;
    }
    if (n >= len) {
        n = len - 1;
    }
    if (n > 0) {
        memcpy(buf, t, n);
    }
    buf[n] = '\0';
}

static void sq_text(void *src, int col, char *buf, size_t len)
{
    mdx_sq_column_copy(src, col, buf, len);
}

static int64_t sq_i64(void *src, int col)
{
    return sqlite3_column_int64(src, col);
}

static double sq_dbl(void *src, int col)
{
    return sqlite3_column_double(src, col);
}

static int sq_is_null(void *src, int col)
{
    return sqlite3_column_type(src, col) == SQLITE_NULL;
}

static void sq_bytes(void *src, int col, unsigned char *buf, size_t len)
{
    const void *blob = sqlite3_column_blob(src, col);

    if (blob != NULL && sqlite3_column_bytes(src, col) == (int)len) {
        memcpy(buf, blob, len);
    }
}

static const struct mdx_row_reader sq_reader = {sq_text, sq_i64, sq_dbl, sq_is_null, sq_bytes};

void mdx_sq_row_map(sqlite3_stmt *st, const struct mdx_row_layout *layout, void *rec)
{
    mdx_row_fill(layout, rec, &sq_reader, st);
}

int mdx_sq_chunk_iter(sqlite3_stmt *st, int start_col, struct mdx_chunk_iter *it)
{
    const uint8_t *data = sqlite3_column_blob(st, 3);
    size_t len = (size_t)sqlite3_column_bytes(st, 3);

    return mdx_chunk_iter_init(it, data, len, sqlite3_column_int64(st, start_col));
}

int mdx_sq_tenant_id(struct sq *h, const char *tenant, int64_t *id)
{
    sqlite3_stmt *st = h->st[SQ_TENANT_ID];
    int rc;

    if (!mdx_sq_name_valid(tenant)) {
        return MDX_ENOTFOUND;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    rc = mdx_sq_step_row(st);
    if (rc == MDX_OK) {
        *id = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc;
}

int mdx_sq_each_name(sqlite3_stmt *st, mdx_name_fn fn, void *arg)
{
    int rc, ret;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = fn(arg, (const char *)sqlite3_column_text(st, 0));
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    return mdx_sq_finish(st, rc);
}
