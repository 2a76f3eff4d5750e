/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access.c - the SQLite store's access (store_access.h): API keys,
 * devices' broker credentials and broker identities.
 *
 * An API key row holds the public id, tenant (NULL for a platform key),
 * role, the SHA-256 of the secret as a 32-byte blob, label and times. The
 * secret itself is never stored, nor are broker secrets: only their
 * argon2id hashes.
 *
 * A device's broker credentials are its secret hash and certificate
 * fingerprint (device_creds, one row per device, its id unique across
 * tenants); the broker identities that are not devices are in
 * broker_identities. Identity names and device ids share the broker's
 * user name space; the checks that keep them apart run inside one write
 * transaction (BEGIN IMMEDIATE), so two processes cannot both take a name.
 */
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"
#include "store/store_access_int.h"

#define KEY_COLS                                                                                   \
    "SELECT k.id, COALESCE(t.name, ''), k.role, k.hash, k.label, k.created_ms, k.revoked_ms"      \
    " FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id"

static int sq_apikey_add(void *impl, const struct mdx_apikey *key)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int64_t tid = 0;
    int platform = key->tenant[0] == '\0';
    int rc;

    if (!mdx_store_apikey_ok(key)) {
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
    return mdx_sq_run_insert(st);
}

static int sq_apikey_get(void *impl, const char *id, struct mdx_apikey *out)
{
    struct sq *h = impl;

    memset(out, 0, sizeof(*out));
    if (!mdx_store_apikey_id_valid(id)) {
        return MDX_ENOTFOUND;
    }
    return mdx_sq_find_rec(h, KEY_COLS " WHERE k.id = ?1", id, NULL, &mdx_row_apikey, out);
}

MDX_SQ_LISTER(key_list, struct mdx_apikey, mdx_row_apikey, mdx_apikey_fn)

static int sq_apikey_list(void *impl, const char *tenant, mdx_apikey_fn fn, void *arg)
{
    /* By the filter: all keys, platform keys, one tenant's keys. */
    static const char *const sql[] = {
        KEY_COLS " ORDER BY k.created_ms, k.id",
        KEY_COLS " WHERE k.tenant_id IS NULL ORDER BY k.created_ms, k.id",
        KEY_COLS " WHERE k.tenant_id = ?1 ORDER BY k.created_ms, k.id",
    };
    struct key_list list = {fn, arg};
    int which = tenant == NULL ? 0 : tenant[0] == '\0' ? 1 : 2;

    return mdx_sq_tenant_list(impl, which == 2 ? tenant : NULL, sql[which], key_list_row, &list);
}

static int sq_apikey_revoke(void *impl, const char *id, int64_t now_ms)
{
    return mdx_sq_update_key(impl,
                             "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms = 0",
                             id, now_ms);
}

/* Id of device (tenant, device) into *id; MDX_ENOTFOUND if unknown. */
static int device_id(struct sq *h, const char *tenant, const char *device, int64_t *id)
{
    sqlite3_stmt *st;
    int rc = mdx_sq_find(h,
                         "SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                         " WHERE t.name = ?1 AND d.name = ?2",
                         tenant, device, &st);

    if (rc == MDX_OK) {
        *id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return rc;
}

/* MDX_OK if 'sql' with ?1 = name finds a row, MDX_ENOTFOUND if not. */
static int name_used(struct sq *h, const char *sql, const char *name)
{
    sqlite3_stmt *st;
    int rc = mdx_sq_find(h, sql, name, NULL, &st);

    if (rc == MDX_OK) {
        sqlite3_finalize(st);
    }
    return rc;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL) {
        sqlite3_bind_null(st, i);
    } else {
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    }
}

/* The arguments of cred_set. */
struct cred {
    const char *tenant, *device, *secret_hash, *cert_fingerprint;
    int64_t now_ms;
};

/* The body of cred_set, inside the transaction. */
static int cred_upsert(struct sq *h, const void *ctx)
{
    const struct cred *c = ctx;
    sqlite3_stmt *st;
    int64_t id = 0;
    int rc = device_id(h, c->tenant, c->device, &id);

    if (rc != MDX_OK) {
        return rc;
    }
    rc = name_used(h, "SELECT 1 FROM broker_identities WHERE name = ?1", c->device);
    if (rc != MDX_ENOTFOUND) {
        return rc == MDX_OK ? MDX_EEXIST : rc;
    }
    rc = mdx_sq_prepare(h,
                        "INSERT INTO device_creds (device_id, name, secret_hash,"
                        " cert_fingerprint, revoked_ms, updated_ms)"
                        " VALUES (?1, ?2, COALESCE(?3, ''), COALESCE(?4, ''), 0, ?5)"
                        " ON CONFLICT (device_id) DO UPDATE SET"
                        " secret_hash = COALESCE(?3, secret_hash),"
                        " cert_fingerprint = COALESCE(?4, cert_fingerprint),"
                        " revoked_ms = 0, updated_ms = ?5",
                        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, c->device, -1, SQLITE_STATIC);
    bind_opt(st, 3, c->secret_hash);
    bind_opt(st, 4, c->cert_fingerprint);
    sqlite3_bind_int64(st, 5, c->now_ms);
    return mdx_sq_run_insert(st); /* EEXIST: another tenant's device has this id and credentials */
}

static int sq_device_cred_set(void *impl, const char *tenant, const char *device,
                              const char *secret_hash, const char *cert_fingerprint, int64_t now_ms)
{
    struct cred c = {tenant, device, secret_hash, cert_fingerprint, now_ms};

    if (!mdx_sq_name_valid(tenant) || !mdx_sq_name_valid(device)) {
        return MDX_ENOTFOUND;
    }
    if (!mdx_store_cred_values_ok(secret_hash, cert_fingerprint)) {
        return MDX_EINVAL;
    }
    return mdx_sq_in_tx(impl, cred_upsert, &c);
}

static int sq_device_cred_get(void *impl, const char *device, struct mdx_device_cred *out)
{
    struct sq *h = impl;

    memset(out, 0, sizeof(*out));
    if (!mdx_sq_name_valid(device)) {
        return MDX_ENOTFOUND;
    }
    return mdx_sq_find_rec(h, MDX_SELECT_CRED " WHERE c.name = ?1", device, NULL, &mdx_row_cred,
                           out);
}

static int sq_device_revoke(void *impl, const char *tenant, const char *device, int64_t now_ms)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int64_t id = 0;
    int rc;

    if (now_ms <= 0) {
        return MDX_EINVAL; /* revoked_ms 0 means valid */
    }
    if (!mdx_sq_name_valid(tenant) || !mdx_sq_name_valid(device)) {
        return MDX_ENOTFOUND;
    }
    rc = device_id(h, tenant, device, &id);
    if (rc != MDX_OK) {
        return rc;
    }
    /* The first revocation time stays; a device without credentials has no access to revoke. */
    rc = mdx_sq_prepare(h,
                        "UPDATE device_creds SET revoked_ms = ?2, updated_ms = ?2"
                        " WHERE device_id = ?1 AND revoked_ms = 0",
                        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_ms);
    return mdx_sq_run_done(st);
}

/* The body of identity_add, inside the transaction. */
static int identity_insert(struct sq *h, const void *ctx)
{
    const struct mdx_broker_identity *id = ctx;
    sqlite3_stmt *st;
    int64_t tid = 0;
    int rc = name_used(h, "SELECT 1 FROM devices WHERE name = ?1 LIMIT 1", id->name);

    if (rc != MDX_ENOTFOUND) {
        return rc == MDX_OK ? MDX_EEXIST : rc;
    }
    if (id->kind == MDX_IDENTITY_OPERATOR) {
        rc = mdx_sq_tenant_id(h, id->tenant, &tid);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    rc = mdx_sq_prepare(h,
                        "INSERT INTO broker_identities (name, kind, tenant_id, secret_hash,"
                        " created_ms, revoked_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, id->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, id->kind);
    if (id->kind == MDX_IDENTITY_OPERATOR) {
        sqlite3_bind_int64(st, 3, tid);
    } else {
        sqlite3_bind_null(st, 3);
    }
    sqlite3_bind_text(st, 4, id->secret_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, id->created_ms);
    sqlite3_bind_int64(st, 6, id->revoked_ms);
    return mdx_sq_run_insert(st);
}

static int sq_identity_add(void *impl, const struct mdx_broker_identity *id)
{
    if (!mdx_store_identity_ok(id)) {
        return MDX_EINVAL;
    }
    return mdx_sq_in_tx(impl, identity_insert, id);
}

MDX_SQ_LISTER(identity_list, struct mdx_broker_identity, mdx_row_identity, mdx_identity_fn)

static int sq_identity_get(void *impl, const char *name, struct mdx_broker_identity *out)
{
    struct sq *h = impl;

    memset(out, 0, sizeof(*out));
    if (!mdx_sq_name_valid(name)) {
        return MDX_ENOTFOUND;
    }
    return mdx_sq_find_rec(h, MDX_SELECT_IDENTITY " WHERE i.name = ?1", name, NULL,
                           &mdx_row_identity, out);
}

static int sq_identity_list(void *impl, mdx_identity_fn fn, void *arg)
{
    struct identity_list list = {fn, arg};

    return mdx_sq_list(impl, MDX_SELECT_IDENTITY " ORDER BY i.name", identity_list_row, &list);
}

static int sq_identity_revoke(void *impl, const char *name, int64_t now_ms)
{
    return mdx_sq_update_key(impl,
                             "UPDATE broker_identities SET revoked_ms = ?2"
                             " WHERE name = ?1 AND revoked_ms = 0",
                             name, now_ms);
}

const struct mdx_store_access_ops mdx_sq_access = {
    .apikey_add = sq_apikey_add,
    .apikey_get = sq_apikey_get,
    .apikey_list = sq_apikey_list,
    .apikey_revoke = sq_apikey_revoke,
    .device_cred_set = sq_device_cred_set,
    .device_cred_get = sq_device_cred_get,
    .device_revoke = sq_device_revoke,
    .identity_add = sq_identity_add,
    .identity_get = sq_identity_get,
    .identity_list = sq_identity_list,
    .identity_revoke = sq_identity_revoke,
};
