/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_pgsql_apikey.c - the PostgreSQL store's API keys (issue 5); the
 * same semantics as store_sqlite_apikey.c. The SHA-256 of the secret is a
 * 32-byte bytea, sent in binary and read back as hex.
 */
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/pgsql/pgsql_int.h"

#define KEY_COLS                                                                                   \
    "SELECT k.id, COALESCE(t.name, ''), k.role, encode(k.hash, 'hex'), k.label, k.created_ms,"    \
    " k.revoked_ms FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id"

/* A key id: 1 to MDX_APIKEY_ID_LEN characters of [A-Za-z0-9_-]. */
static int valid_id(const char *id)
{
    size_t n = id != NULL ? strnlen(id, MDX_APIKEY_ID_LEN + 1) : 0;

    return n > 0 && n <= MDX_APIKEY_ID_LEN && mdx_valid_segment(id, n);
}

static int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void key_row(const PGresult *res, int i, struct mdx_apikey *out)
{
    const char *hex = PQgetvalue(res, i, 3);

    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(res, i, 0));
    snprintf(out->tenant, sizeof(out->tenant), "%s", PQgetvalue(res, i, 1));
    out->role = (int)mdx_pg_i64(res, i, 2);
    if (strlen(hex) == 2 * sizeof(out->hash)) {
        for (size_t k = 0; k < sizeof(out->hash); k++) {
            int hi = hex_val(hex[2 * k]), lo = hex_val(hex[2 * k + 1]);
            out->hash[k] = hi < 0 || lo < 0 ? 0 : (uint8_t)(hi << 4 | lo);
        }
    }
    snprintf(out->label, sizeof(out->label), "%s", PQgetvalue(res, i, 4));
    out->created_ms = mdx_pg_i64(res, i, 5);
    out->revoked_ms = mdx_pg_i64(res, i, 6);
}

/* The tenant's id as text into buf (24 bytes); MDX_ENOTFOUND if unknown. */
static int tenant_lookup(struct pg *h, const char *tenant, char *buf)
{
    const char *v[1] = {tenant};
    PGresult *res;
    int rc;

    if (!mdx_pg_valid_name(tenant)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_pg_run_row(h, 0, "SELECT id FROM tenants WHERE name = $1", 1, v, &res);
    if (rc == MDX_OK) {
        snprintf(buf, 24, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

int mdx_pg_apikey_add(void *impl, const struct mdx_apikey *key)
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

    if (!valid_id(key->id) || key->role < MDX_ROLE_VIEWER || key->role > MDX_ROLE_PLATFORM ||
        platform != (key->role == MDX_ROLE_PLATFORM) ||
        strnlen(key->label, sizeof(key->label)) >= sizeof(key->label)) {
        return MDX_EINVAL;
    }
    if (!platform) {
        rc = tenant_lookup(h, key->tenant, tid);
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

int mdx_pg_apikey_get(void *impl, const char *id, struct mdx_apikey *out)
{
    const char *v[1] = {id};
    PGresult *res;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!valid_id(id)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_pg_run_row(impl, 0, KEY_COLS " WHERE k.id = $1", 1, v, &res);
    if (rc == MDX_OK) {
        key_row(res, 0, out);
    }
    PQclear(res);
    return rc;
}

int mdx_pg_apikey_list(void *impl, const char *tenant, mdx_apikey_fn fn, void *arg)
{
    struct pg *h = impl;
    struct mdx_apikey key;
    char tid[24];
    const char *v[1] = {tid};
    PGresult *res;
    int rc;

    if (tenant != NULL && tenant[0] != '\0') {
        rc = tenant_lookup(h, tenant, tid);
        if (rc != MDX_OK) {
            return rc;
        }
        rc = mdx_pg_run(h, 0, KEY_COLS " WHERE k.tenant_id = $1 ORDER BY k.created_ms, k.id", 1,
                        v, &res);
    } else if (tenant != NULL) {
        rc = mdx_pg_run(h, 0, KEY_COLS " WHERE k.tenant_id IS NULL ORDER BY k.created_ms, k.id",
                        0, NULL, &res);
    } else {
        rc = mdx_pg_run(h, 0, KEY_COLS " ORDER BY k.created_ms, k.id", 0, NULL, &res);
    }
    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        key_row(res, i, &key);
        rc = fn(arg, &key);
    }
    PQclear(res);
    return rc;
}

int mdx_pg_apikey_revoke(void *impl, const char *id, int64_t now_ms)
{
    char now[24];
    const char *v[2] = {id, mdx_pg_fmt(now, now_ms)};
    struct mdx_apikey key;
    PGresult *res;
    int rc, changed;

    if (now_ms <= 0) {
        return MDX_EINVAL; /* revoked_ms 0 means valid */
    }
    if (!valid_id(id)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_pg_run(impl, 0,
                    "UPDATE api_keys SET revoked_ms = $2::bigint WHERE id = $1 AND revoked_ms = 0",
                    2, v, &res);
    changed = rc == MDX_OK && strcmp(PQcmdTuples(res), "0") != 0;
    PQclear(res);
    if (rc != MDX_OK || changed) {
        return rc;
    }
    rc = mdx_pg_apikey_get(impl, id, &key);
    return rc == MDX_OK ? MDX_EEXIST : rc; /* revoked already, or no such key */
}
