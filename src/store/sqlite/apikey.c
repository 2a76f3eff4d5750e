/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sqlite_apikey.c - the SQLite store's API keys (issue 5): the public
 * id, tenant (NULL for a platform key), role, the SHA-256 of the secret
 * as a 32-byte blob, label and times. The secret itself is never stored.
 */
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/sqlite/sqlite_int.h"

#define KEY_COLS                                                                                   \
    "SELECT k.id, COALESCE(t.name, ''), k.role, k.hash, k.label, k.created_ms, k.revoked_ms"      \
    " FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id"

/* A key id: 1 to MDX_APIKEY_ID_LEN characters of [A-Za-z0-9_-]. */
static int valid_id(const char *id)
{
    size_t n = id != NULL ? strnlen(id, MDX_APIKEY_ID_LEN + 1) : 0;

    return n > 0 && n <= MDX_APIKEY_ID_LEN && mdx_valid_segment(id, n);
}

static void key_row(sqlite3_stmt *st, struct mdx_apikey *out)
{
    const void *hash = sqlite3_column_blob(st, 3);

    memset(out, 0, sizeof(*out));
    mdx_sq_column_copy(st, 0, out->id, sizeof(out->id));
    mdx_sq_column_copy(st, 1, out->tenant, sizeof(out->tenant));
    out->role = sqlite3_column_int(st, 2);
    if (hash != NULL && sqlite3_column_bytes(st, 3) == (int)sizeof(out->hash)) {
        memcpy(out->hash, hash, sizeof(out->hash));
    }
    mdx_sq_column_copy(st, 4, out->label, sizeof(out->label));
    out->created_ms = sqlite3_column_int64(st, 5);
    out->revoked_ms = sqlite3_column_int64(st, 6);
}

int mdx_sq_apikey_add(void *impl, const struct mdx_apikey *key)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int64_t tid = 0;
    int platform = key->tenant[0] == '\0';
    int rc;

    if (!valid_id(key->id) || key->role < MDX_ROLE_VIEWER || key->role > MDX_ROLE_PLATFORM ||
        platform != (key->role == MDX_ROLE_PLATFORM) ||
        strnlen(key->label, sizeof(key->label)) >= sizeof(key->label)) {
        return MDX_EINVAL;
    }
    if (!platform) {
        if (!mdx_valid_segment(key->tenant, strnlen(key->tenant, MDX_NAME_MAX + 1))) {
            return MDX_ENOTFOUND;
        }
        rc = mdx_sq_tenant_id(h, key->tenant, &tid);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    rc = mdx_sq_prepare(h,
                        "INSERT INTO api_keys (id, tenant_id, role, hash, label, created_ms,"
                        " revoked_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, key->id, -1, SQLITE_STATIC);
    if (platform) {
        sqlite3_bind_null(st, 2);
    } else {
        sqlite3_bind_int64(st, 2, tid);
    }
    sqlite3_bind_int(st, 3, key->role);
    sqlite3_bind_blob(st, 4, key->hash, (int)sizeof(key->hash), SQLITE_STATIC);
    sqlite3_bind_text(st, 5, key->label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, key->created_ms);
    sqlite3_bind_int64(st, 7, key->revoked_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        return MDX_EEXIST;
    }
    return mdx_sq_status(rc);
}

int mdx_sq_apikey_get(void *impl, const char *id, struct mdx_apikey *out)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!valid_id(id)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_sq_find(h, KEY_COLS " WHERE k.id = ?1", id, NULL, &st);
    if (rc == MDX_OK) {
        key_row(st, out);
        sqlite3_finalize(st);
    }
    return rc;
}

int mdx_sq_apikey_list(void *impl, const char *tenant, mdx_apikey_fn fn, void *arg)
{
    /* By the filter: all keys, platform keys, one tenant's keys. */
    static const char *const sql[] = {
        KEY_COLS " ORDER BY k.created_ms, k.id",
        KEY_COLS " WHERE k.tenant_id IS NULL ORDER BY k.created_ms, k.id",
        KEY_COLS " WHERE k.tenant_id = ?1 ORDER BY k.created_ms, k.id",
    };
    struct sq *h = impl;
    struct mdx_apikey key;
    sqlite3_stmt *st;
    int64_t tid = 0;
    int which = tenant == NULL ? 0 : tenant[0] == '\0' ? 1 : 2;
    int rc, ret = MDX_OK;

    if (which == 2) {
        if (!mdx_valid_segment(tenant, strnlen(tenant, MDX_NAME_MAX + 1))) {
            return MDX_ENOTFOUND;
        }
        rc = mdx_sq_tenant_id(h, tenant, &tid);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    rc = mdx_sq_prepare(h, sql[which], &st);
    if (rc != MDX_OK) {
        return rc;
    }
    if (which == 2) {
        sqlite3_bind_int64(st, 1, tid);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        key_row(st, &key);
        ret = fn(arg, &key);
        if (ret != MDX_OK) {
            break;
        }
    }
    sqlite3_finalize(st);
    return ret != MDX_OK ? ret : mdx_sq_status(rc);
}

int mdx_sq_apikey_revoke(void *impl, const char *id, int64_t now_ms)
{
    struct sq *h = impl;
    struct mdx_apikey key;
    sqlite3_stmt *st;
    int rc;

    if (now_ms <= 0) {
        return MDX_EINVAL; /* revoked_ms 0 means valid */
    }
    if (!valid_id(id)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_sq_prepare(h, "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms = 0",
                        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return mdx_sq_status(rc);
    }
    if (sqlite3_changes(h->db) > 0) {
        return MDX_OK;
    }
    rc = mdx_sq_apikey_get(h, id, &key);
    return rc == MDX_OK ? MDX_EEXIST : rc; /* revoked already, or no such key */
}
