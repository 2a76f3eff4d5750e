/* SPDX-License-Identifier: Apache-2.0 */
/*
 * archive.c - the PostgreSQL store's side of the archive (store_archive.h):
 * retention overrides, the (device, day) partitions of raw points, their
 * export and deletion, and the records of archived objects.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/status.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"

#define RETENTION_DAYS_MAX 36500 /* retention at most 100 years */

static int pg_export_points(void *impl, const char *tenant, const char *device, int64_t from_ms,
                            int64_t to_ms, mdx_sensor_point_fn fn, void *arg)
{
    struct pg *h = impl;
    char ids[24];
    const char *v[1] = {ids};
    PGresult *res;
    int64_t dev;
    int rc;

    rc = mdx_pg_device_id(h, tenant, device, &dev);
    if (rc != MDX_OK || from_ms >= to_ms) {
        return rc;
    }
    mdx_pg_fmt(ids, dev);
    rc = mdx_pg_exec(h, PG_SERIES_OF_DEVICE, 1, v, &res);
    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        rc = mdx_pg_series_points(h, mdx_pg_i64(res, i, 0), from_ms, to_ms - 1, 0, NULL, fn,
                                  PQgetvalue(res, i, 1), arg);
    }
    PQclear(res);
    return rc;
}

static int pg_retention_get(void *impl, const char *tenant, struct mdx_retention *out)
{
    PGresult *res;
    int rc = mdx_pg_exec_tenant_row(impl, PG_RETENTION_GET, tenant, &res);

    if (rc == MDX_OK) {
        out->archive_after_days = mdx_pg_i64(res, 0, 0);
        out->expire_after_days = mdx_pg_i64(res, 0, 1);
    }
    PQclear(res);
    return rc;
}

static int pg_retention_set(void *impl, const char *tenant, const struct mdx_retention *r)
{
    char a[24], e[24];
    const char *v[3] = {tenant, mdx_pg_fmt(a, r->archive_after_days),
                        mdx_pg_fmt(e, r->expire_after_days)};

    if (!mdx_pg_valid_name(tenant)) {
        return MDX_ENOTFOUND;
    }
    /* Objects must not expire before their points would have been archived. */
    if (r->archive_after_days < 1 || r->archive_after_days > RETENTION_DAYS_MAX ||
        r->expire_after_days < r->archive_after_days ||
        r->expire_after_days > RETENTION_DAYS_MAX) {
        return MDX_EINVAL;
    }
    return mdx_pg_exec_change(impl, PG_RETENTION_SET, 3, v);
}

static int pg_archive_partitions(void *impl, const char *tenant, int64_t before_ms,
                                 mdx_partition_fn fn, void *arg)
{
    char b[24];
    const char *v[2] = {tenant, mdx_pg_fmt(b, before_ms)};
    PGresult *res;
    int rc;

    if (!mdx_pg_valid_name(tenant)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_pg_exec(impl, PG_PARTITIONS, 2, v, &res);
    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        rc = fn(arg, tenant, PQgetvalue(res, i, 0), mdx_pg_i64(res, i, 1));
    }
    PQclear(res);
    return rc;
}

static int pg_delete_points(void *impl, const char *tenant, const char *device, int64_t from_ms,
                            int64_t to_ms, int64_t expect, int64_t *deleted)
{
    struct pg *h = impl;
    char s[4][24];
    const char *v[4] = {s[0], s[1], s[2], s[3]};
    PGresult *res;
    int64_t dev;
    int rc;

    *deleted = 0;
    rc = mdx_pg_device_id(h, tenant, device, &dev);
    if (rc != MDX_OK || from_ms >= to_ms) {
        return rc;
    }
    mdx_pg_fmt(s[0], dev);
    mdx_pg_fmt(s[1], from_ms);
    mdx_pg_fmt(s[2], to_ms);
    mdx_pg_fmt(s[3], expect);
    rc = mdx_pg_exec(h, PG_DELETE, 4, v, &res);
    if (rc == MDX_OK && PQntuples(res) > 0) {
        *deleted = mdx_pg_i64(res, 0, 0);
        if (expect >= 0 && mdx_pg_i64(res, 0, 1) != expect) {
            rc = MDX_EAGAIN; /* the statement deleted nothing: a point arrived since the count */
        }
    }
    PQclear(res);
    return rc;
}

static int pg_archive_obj_put(void *impl, const struct mdx_archive_obj *obj)
{
    char s[7][24];
    const char *v[10] = {obj->key,  obj->tenant, obj->device, mdx_pg_fmt(s[0], obj->day_ms),
                         mdx_pg_fmt(s[1], obj->seq), mdx_pg_fmt(s[2], obj->size), obj->sha256,
                         mdx_pg_fmt(s[3], obj->points), mdx_pg_fmt(s[4], obj->state),
                         mdx_pg_fmt(s[5], obj->created_ms)};
    PGresult *res;
    int rc;

    if (obj->key[0] == '\0' || !mdx_pg_valid_name(obj->tenant) ||
        !mdx_pg_valid_name(obj->device)) {
        return MDX_EINVAL;
    }
    rc = mdx_pg_exec(impl, PG_ARCHIVE_PUT, 10, v, &res);
    PQclear(res);
    return rc;
}

static int pg_archive_obj_list(void *impl, const char *tenant, int state, int64_t before_day_ms,
                               mdx_archive_obj_fn fn, void *arg)
{
    char st[24], bd[24];
    const char *v[3] = {tenant, mdx_pg_fmt(st, state < 0 ? -1 : state),
                        mdx_pg_fmt(bd, before_day_ms)};
    struct mdx_archive_obj *o;
    PGresult *res;
    int rc;

    o = mdx_malloc(sizeof(*o));
    if (o == NULL) {
        return MDX_ENOMEM;
    }
    rc = mdx_pg_exec(impl, PG_ARCHIVE_LIST, 3, v, &res);
    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        memset(o, 0, sizeof(*o));
        snprintf(o->key, sizeof(o->key), "%s", PQgetvalue(res, i, 0));
        snprintf(o->tenant, sizeof(o->tenant), "%s", PQgetvalue(res, i, 1));
        snprintf(o->device, sizeof(o->device), "%s", PQgetvalue(res, i, 2));
        o->day_ms = mdx_pg_i64(res, i, 3);
        o->seq = mdx_pg_i64(res, i, 4);
        o->size = mdx_pg_i64(res, i, 5);
        snprintf(o->sha256, sizeof(o->sha256), "%s", PQgetvalue(res, i, 6));
        o->points = mdx_pg_i64(res, i, 7);
        o->state = (int)mdx_pg_i64(res, i, 8);
        o->created_ms = mdx_pg_i64(res, i, 9);
        rc = fn(arg, o);
    }
    PQclear(res);
    mdx_free(o);
    return rc;
}

static int pg_archive_obj_delete(void *impl, const char *key)
{
    const char *v[1] = {key};
    PGresult *res;
    int rc = mdx_pg_exec(impl, PG_ARCHIVE_DELETE, 1, v, &res);

    PQclear(res);
    return rc;
}

const struct mdx_store_archive_ops mdx_pg_archive = {
    .retention_get = pg_retention_get,
    .retention_set = pg_retention_set,
    .archive_partitions = pg_archive_partitions,
    .export_points = pg_export_points,
    .delete_points = pg_delete_points,
    .archive_obj_put = pg_archive_obj_put,
    .archive_obj_list = pg_archive_obj_list,
    .archive_obj_delete = pg_archive_obj_delete,
};
