/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access.c - the PostgreSQL store's access (store_access.h): API keys,
 * devices' broker credentials and broker identities; the same semantics
 * as sqlite/access.c. The SHA-256 of an API key's secret is a 32-byte
 * bytea, sent in binary and read back as hex.
 *
 * The checks that keep identity names and device ids apart read one table
 * and write the other, so they run in a transaction holding one advisory
 * lock: two processes cannot both take a name.
 */
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"
#include "store/store_access_int.h"

#define KEY_COLS                                                                                   \
    "SELECT k.id, COALESCE(t.name, ''), k.role, encode(k.hash, 'hex'), k.label, k.created_ms,"    \
    " k.revoked_ms FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id"

static int pg_apikey_add(void *impl, const struct mdx_apikey *key)
{
    struct pg *h = impl;
    char tid[24], role[24], created[24], revoked[24];
    int platform = key->tenant[0] == '\0';
    const char *v[7] = {key->id, platform ? NULL : tid, mdx_pg_fmt(role, key->role),
                        (const char *)key->hash, key->label,
                        mdx_pg_fmt(created, key->created_ms), mdx_pg_fmt(revoked, key->revoked_ms)};
    int lens[7] = {0, 0, 0, (int)sizeof(key->hash), 0, 0, 0};
    int fmts[7] = {0, 0, 0, 1, 0, 0, 0};
    PGresult *res;
    int rc;

    if (!mdx_store_apikey_ok(key)) {
        return MDX_EINVAL;
    }
    if (!platform) {
        rc = mdx_pg_tenant_text(h, key->tenant, tid);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    rc = mdx_pg_ensure(h);
    if (rc != MDX_OK) {
        return rc;
    }
    res = PQexecParams(h->conn,
                       "INSERT INTO api_keys (id, tenant_id, role, hash, label, created_ms,"
                       " revoked_ms) VALUES ($1, $2::integer, $3::smallint, $4::bytea, $5,"
                       " $6::bigint, $7::bigint)",
                       7, NULL, v, lens, fmts, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = mdx_pg_status(h, res); /* MDX_EEXIST for a taken id */
    }
    PQclear(res);
    return rc;
}

static int pg_apikey_get(void *impl, const char *id, struct mdx_apikey *out)
{
    const char *v[1] = {id};

    memset(out, 0, sizeof(*out));
    if (!mdx_store_apikey_id_valid(id)) {
        return MDX_ENOTFOUND;
    }
    return mdx_pg_run_rec(impl, KEY_COLS " WHERE k.id = $1", 1, v, &mdx_row_apikey, out);
}

MDX_PG_LISTER(key_list, struct mdx_apikey, mdx_row_apikey, mdx_apikey_fn)

static int pg_apikey_list(void *impl, const char *tenant, mdx_apikey_fn fn, void *arg)
{
    struct pg *h = impl;
    struct key_list list = {fn, arg};

    if (tenant != NULL && tenant[0] != '\0') {
        return mdx_pg_tenant_list(h, tenant,
                                  KEY_COLS " WHERE k.tenant_id = $1 ORDER BY k.created_ms, k.id",
                                  key_list_row, &list);
    }
    return mdx_pg_list(h,
                       tenant != NULL
                           ? KEY_COLS " WHERE k.tenant_id IS NULL ORDER BY k.created_ms, k.id"
                           : KEY_COLS " ORDER BY k.created_ms, k.id",
                       0, NULL, key_list_row, &list);
}

static int pg_apikey_revoke(void *impl, const char *id, int64_t now_ms)
{
    char now[24];
    const char *v[2] = {id, mdx_pg_fmt(now, now_ms)};

    return mdx_pg_run_change(
        impl, "UPDATE api_keys SET revoked_ms = $2::bigint WHERE id = $1 AND revoked_ms = 0", 2, v);
}

/* pg_advisory_xact_lock key of the broker's user name space: "MDXC" as a 32-bit number */
#define NAMES_LOCK "SELECT pg_advisory_xact_lock(1296324675)"

/* Runs 'sql' inside the transaction; MDX_OK if it returned a row (first column into buf). */
static int one_row(struct pg *h, const char *sql, int n, const char *const *v, char *buf,
                   size_t len)
{
    PGresult *res;
    int rc = mdx_pg_run_row(h, 1, sql, n, v, &res);

    if (rc == MDX_OK && buf != NULL) {
        snprintf(buf, len, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

static int begin_locked(struct pg *h)
{
    PGresult *res;
    int rc = mdx_pg_begin(h);

    if (rc != MDX_OK) {
        return rc;
    }
    rc = mdx_pg_run(h, 1, NAMES_LOCK, 0, NULL, &res);
    PQclear(res);
    return rc;
}

static int cred_upsert(struct pg *h, const char *tenant, const char *device,
                       const char *secret_hash, const char *cert_fingerprint, int64_t now_ms)
{
    char id[24], now[24];
    const char *dv[2] = {tenant, device};
    const char *nv[1] = {device};
    const char *v[5] = {id, device, secret_hash, cert_fingerprint, mdx_pg_fmt(now, now_ms)};
    PGresult *res;
    int rc;

    rc = one_row(h,
                 "SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                 " WHERE t.name = $1 AND d.name = $2",
                 2, dv, id, sizeof(id));
    if (rc != MDX_OK) {
        return rc;
    }
    rc = one_row(h, "SELECT 1 FROM broker_identities WHERE name = $1", 1, nv, NULL, 0);
    if (rc != MDX_ENOTFOUND) {
        return rc == MDX_OK ? MDX_EEXIST : rc;
    }
    /* A unique violation on name (another tenant's device) is MDX_EEXIST. */
    rc = mdx_pg_run(h, 1,
                    "INSERT INTO device_creds AS c (device_id, name, secret_hash,"
                    " cert_fingerprint, revoked_ms, updated_ms)"
                    " VALUES ($1::integer, $2, COALESCE($3::text, ''), COALESCE($4::text, ''),"
                    " 0, $5::bigint)"
                    " ON CONFLICT (device_id) DO UPDATE SET"
                    " secret_hash = COALESCE($3::text, c.secret_hash),"
                    " cert_fingerprint = COALESCE($4::text, c.cert_fingerprint),"
                    " revoked_ms = 0, updated_ms = $5::bigint",
                    5, v, &res);
    PQclear(res);
    return rc;
}

static int pg_device_cred_set(void *impl, const char *tenant, const char *device,
                              const char *secret_hash, const char *cert_fingerprint, int64_t now_ms)
{
    struct pg *h = impl;
    int rc;

    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    if (!mdx_store_cred_values_ok(secret_hash, cert_fingerprint)) {
        return MDX_EINVAL;
    }
    rc = begin_locked(h);
    if (rc != MDX_OK) {
        return mdx_pg_end(h, rc);
    }
    return mdx_pg_end(h, cred_upsert(h, tenant, device, secret_hash, cert_fingerprint, now_ms));
}

static int pg_device_cred_get(void *impl, const char *device, struct mdx_device_cred *out)
{
    const char *v[1] = {device};

    memset(out, 0, sizeof(*out));
    if (!mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    return mdx_pg_run_rec(impl, MDX_SELECT_CRED " WHERE c.name = $1", 1, v, &mdx_row_cred, out);
}

static int pg_device_revoke(void *impl, const char *tenant, const char *device, int64_t now_ms)
{
    char now[24];
    const char *v[3] = {tenant, device, mdx_pg_fmt(now, now_ms)};
    PGresult *res;
    int rc;

    if (now_ms <= 0) {
        return MDX_EINVAL; /* revoked_ms 0 means valid */
    }
    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    /* The first revocation time stays; a device without credentials has no access to revoke. */
    rc = mdx_pg_run(impl, 0,
                    "WITH dev AS (SELECT d.id FROM devices d JOIN tenants t"
                    " ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2),"
                    " upd AS (UPDATE device_creds SET revoked_ms = $3::bigint,"
                    " updated_ms = $3::bigint WHERE device_id IN (SELECT id FROM dev)"
                    " AND revoked_ms = 0 RETURNING 1)"
                    " SELECT (SELECT count(*) FROM dev), (SELECT count(*) FROM upd)",
                    3, v, &res);
    if (rc == MDX_OK) {
        rc = mdx_pg_i64(res, 0, 0) > 0 ? MDX_OK : MDX_ENOTFOUND;
    }
    PQclear(res);
    return rc;
}

static int identity_insert(struct pg *h, const struct mdx_broker_identity *id)
{
    char tid[24], kind[24], created[24], revoked[24];
    int op = id->kind == MDX_IDENTITY_OPERATOR;
    const char *nv[1] = {id->name};
    const char *tv[1] = {id->tenant};
    const char *v[6] = {id->name,        mdx_pg_fmt(kind, id->kind),
                        op ? tid : NULL, id->secret_hash,
                        mdx_pg_fmt(created, id->created_ms), mdx_pg_fmt(revoked, id->revoked_ms)};
    PGresult *res;
    int rc;

    rc = one_row(h, "SELECT 1 FROM devices WHERE name = $1 LIMIT 1", 1, nv, NULL, 0);
    if (rc != MDX_ENOTFOUND) {
        return rc == MDX_OK ? MDX_EEXIST : rc;
    }
    if (op) {
        rc = one_row(h, "SELECT id FROM tenants WHERE name = $1", 1, tv, tid, sizeof(tid));
        if (rc != MDX_OK) {
            return rc;
        }
    }
    rc = mdx_pg_run(h, 1,
                    "INSERT INTO broker_identities (name, kind, tenant_id, secret_hash,"
                    " created_ms, revoked_ms) VALUES ($1, $2::smallint, $3::integer, $4,"
                    " $5::bigint, $6::bigint)",
                    6, v, &res);
    PQclear(res);
    return rc; /* MDX_EEXIST for a taken name */
}

static int pg_identity_add(void *impl, const struct mdx_broker_identity *id)
{
    struct pg *h = impl;
    int rc;

    if (!mdx_store_identity_ok(id)) {
        return MDX_EINVAL;
    }
    rc = begin_locked(h);
    if (rc != MDX_OK) {
        return mdx_pg_end(h, rc);
    }
    return mdx_pg_end(h, identity_insert(h, id));
}

static int pg_identity_get(void *impl, const char *name, struct mdx_broker_identity *out)
{
    const char *v[1] = {name};

    memset(out, 0, sizeof(*out));
    if (!mdx_pg_valid_name(name)) {
        return MDX_ENOTFOUND;
    }
    return mdx_pg_run_rec(impl, MDX_SELECT_IDENTITY " WHERE i.name = $1", 1, v, &mdx_row_identity,
                          out);
}

MDX_PG_LISTER(identity_list, struct mdx_broker_identity, mdx_row_identity, mdx_identity_fn)

static int pg_identity_list(void *impl, mdx_identity_fn fn, void *arg)
{
    struct identity_list list = {fn, arg};

    return mdx_pg_list(impl, MDX_SELECT_IDENTITY " ORDER BY i.name", 0, NULL, identity_list_row,
                       &list);
}

static int pg_identity_revoke(void *impl, const char *name, int64_t now_ms)
{
    char now[24];
    const char *v[2] = {name, mdx_pg_fmt(now, now_ms)};

    return mdx_pg_run_change(impl,
                             "UPDATE broker_identities SET revoked_ms = $2::bigint"
                             " WHERE name = $1 AND revoked_ms = 0",
                             2, v);
}

const struct mdx_store_access_ops mdx_pg_access = {
    .apikey_add = pg_apikey_add,
    .apikey_get = pg_apikey_get,
    .apikey_list = pg_apikey_list,
    .apikey_revoke = pg_apikey_revoke,
    .device_cred_set = pg_device_cred_set,
    .device_cred_get = pg_device_cred_get,
    .device_revoke = pg_device_revoke,
    .identity_add = pg_identity_add,
    .identity_get = pg_identity_get,
    .identity_list = pg_identity_list,
    .identity_revoke = pg_identity_revoke,
};
