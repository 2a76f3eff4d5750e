/* SPDX-License-Identifier: Apache-2.0 */
/*
 * write.c - the PostgreSQL store's batch writer and its caches (the write
 * of store_series.h).
 *
 * A batch: its series are resolved to ids (bounded in-memory maps; a new
 * series is inserted on its own, outside the batch, so a rolled-back batch
 * never leaves the cache pointing at a missing row); the points are sorted
 * by (series, ts) and repeats inside the batch dropped (the first arrival
 * wins); a partition is created for each day that lacks one (its own short
 * statement, idempotent). Then one transaction: the points (binary COPY
 * straight into points when none of them is stored yet, else through a
 * temporary staging table and one statement that inserts the new ones),
 * the rollups, latest values and tenants' counters fed from exactly the
 * new points (PG_APPLY_NEW, PG_APPLY; see write_points()), the devices'
 * last-seen times, events, dead letters, alerts and the spool checkpoint.
 * Any failure rolls it all back; a lost connection gives MDX_ECONN and the
 * next call reconnects. A retried batch gives the same content: (series,
 * ts) is unique, events are unique, and the checkpoint is an upsert.
 *
 * A device deleted since the ingest checked it (catalog.c) is
 * not registered when its batch is written: its points and events are
 * refused as dead letters "unknown device" (topic kept, payload not), and
 * the rest of the batch is stored. Failing the batch instead would make
 * the ingest retry it for ever. Every batch first reads device_epoch and
 * drops the cached ids when a device was deleted since they were read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"
#include "store/store_alert_int.h"
#include "store/store_event_int.h"
#include "store/device_key.h"
#include "store/nodes.h"
#include "store/store_batch_int.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"

#define MOD "store"
#define MAP_MIN_BUCKETS 1024

/* ---- bounded maps ---- */

static int map_init(struct pg_map *m, size_t max)
{
    m->max = max;
    return mdx_htab_init(&m->t, MAP_MIN_BUCKETS);
}

static void map_clear(struct pg_map *m)
{
    mdx_store_nodes_free(&m->t);
}

static struct pg_entry *map_find(const struct pg_map *m, const void *key, size_t len,
                                 uint64_t hash)
{
    for (struct mdx_hnode *n = mdx_htab_bucket(&m->t, hash); n != NULL; n = n->next) {
        struct pg_entry *e = (struct pg_entry *)n;
        if (n->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Adds key -> (id, parent). A full map is emptied first: entries are only a cache. */
static int map_add(struct pg_map *m, const void *key, size_t len, uint64_t hash, int64_t id,
                   int64_t parent)
{
    struct pg_entry *e;

    if (m->t.count >= m->max) {
        map_clear(m);
    }
    e = mdx_malloc(sizeof(*e) + len);
    if (e == NULL) {
        return MDX_ENOMEM;
    }
    e->node.hash = hash;
    e->id = id;
    e->parent = parent;
    e->key_len = len;
    memcpy(e->key, key, len);
    mdx_htab_insert(&m->t, &e->node);
    return MDX_OK;
}

int mdx_pg_cache_init(struct pg *h)
{
    if (map_init(&h->devices, h->cache_max > 0 ? h->cache_max : 100000) != MDX_OK ||
        map_init(&h->series, h->cache_max > 0 ? h->cache_max : 100000) != MDX_OK) {
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

void mdx_pg_cache_clear(struct pg *h)
{
    map_clear(&h->devices);
    map_clear(&h->series);
    h->n_days = 0;
}

void mdx_pg_cache_fini(struct pg *h)
{
    mdx_pg_cache_clear(h);
    mdx_htab_fini(&h->devices.t);
    mdx_htab_fini(&h->series.t);
    MDX_FREE(h->days);
    MDX_FREE(h->rows);
    MDX_FREE(h->dev);
    MDX_FREE(h->copy);
    MDX_FREE(h->arr[0]);
    MDX_FREE(h->arr[1]);
    MDX_FREE(h->agg);
    MDX_FREE(h->refused);
}

/* ---- resolving devices and series ---- */

static int device_resolve(struct pg *h, const char *tenant, const char *device, int64_t *id,
                          int64_t *tenant_id)
{
    char key[MDX_DEVICE_KEY_MAX];
    const char *v[2] = {tenant, device};
    struct pg_entry *e;
    PGresult *res;
    size_t klen;
    uint64_t hash;
    int rc = mdx_store_device_key(tenant, device, key, &klen, &hash);

    if (rc != MDX_OK) {
        return rc;
    }
    e = map_find(&h->devices, key, klen, hash);
    if (e != NULL) {
        *id = e->id;
        *tenant_id = e->parent;
        return MDX_OK;
    }
    rc = mdx_pg_exec_row(h, PG_DEVICE_IDS, 2, v, &res);
    if (rc == MDX_OK) {
        *id = mdx_pg_i64(res, 0, 0);
        *tenant_id = mdx_pg_i64(res, 0, 1);
        rc = map_add(&h->devices, key, klen, hash, *id, *tenant_id);
    }
    PQclear(res);
    return rc;
}

/* Drops every cached device and series id if a device was deleted since they were read. */
static int devices_sync(struct pg *h)
{
    PGresult *res;
    int rc = mdx_pg_exec(h, PG_DEVICE_EPOCH, 0, NULL, &res);

    if (rc == MDX_OK) {
        int64_t n = PQntuples(res) > 0 ? mdx_pg_i64(res, 0, 0) : -1;
        if (n != h->device_epoch) {
            mdx_pg_cache_clear(h);
            h->device_epoch = n;
        }
    }
    PQclear(res);
    return rc;
}

/*
 * Records a message of a device that is not registered (any more) as a
 * dead letter "unknown device" (inside the batch's transaction). 'payload'
 * may be NULL.
 */
static int refuse_unknown(struct pg *h, const char *tenant, const char *device, int kind,
                          int64_t recv_ms, const char *payload)
{
    char topic[2 * MDX_NAME_MAX + 32], recv[24], orig[24];
    size_t len = payload != NULL ? strnlen(payload, MDX_DEADLETTER_PAYLOAD_MAX) : 0;
    const char *v[5] = {mdx_pg_fmt(recv, recv_ms), MDX_REASON_UNKNOWN_DEVICE, topic,
                        payload != NULL ? payload : "", mdx_pg_fmt(orig, (int64_t)len)};
    int lens[5] = {0, 0, 0, (int)len, 0};
    int fmts[5] = {0, 0, 0, 1, 0};
    const char *cv[2] = {MDX_REASON_UNKNOWN_DEVICE, "1"};
    PGresult *res;
    int rc;

    mdx_store_event_topic(tenant, device, kind, topic, sizeof(topic));
    rc = mdx_pg_exec_bin(h, PG_DL_ADD, 5, v, lens, fmts, &res);
    PQclear(res);
    if (rc == MDX_OK) {
        rc = mdx_pg_exec(h, PG_DL_COUNT_BUMP, 2, cv, &res);
        PQclear(res);
    }
    return rc;
}

/* Finds or creates the series (device, sensor), committed on its own. */
static int series_resolve(struct pg *h, int64_t device_id, const char *sensor, size_t len,
                          int32_t *out)
{
    char key[8 + MDX_NAME_MAX], ids[24], name[MDX_NAME_MAX + 1];
    const char *v[2] = {mdx_pg_fmt(ids, device_id), name};
    struct pg_entry *e;
    PGresult *res;
    uint64_t hash;
    int rc;

    if (len == 0 || len > MDX_NAME_MAX) {
        return MDX_EINVAL;
    }
    memcpy(key, &device_id, 8);
    memcpy(key + 8, sensor, len);
    hash = mdx_hash_bytes(0, key, 8 + len);
    e = map_find(&h->series, key, 8 + len, hash);
    if (e != NULL) {
        *out = (int32_t)e->id;
        return MDX_OK;
    }
    memcpy(name, sensor, len);
    name[len] = '\0';
    rc = mdx_pg_exec(h, PG_SERIES_ADD, 2, v, &res);
    if (rc == MDX_OK && PQntuples(res) == 0) {
        PQclear(res); /* it exists already (another writer, or a cache eviction) */
        rc = mdx_pg_exec(h, PG_SERIES_GET, 2, v, &res);
        if (rc == MDX_OK && PQntuples(res) == 0) {
            rc = MDX_ESTORE;
        }
    }
    if (rc == MDX_OK) {
        *out = (int32_t)mdx_pg_i64(res, 0, 0);
        rc = map_add(&h->series, key, 8 + len, hash, *out, device_id);
    }
    PQclear(res);
    return rc;
}

/* mdx_grow() of the array at *p: MDX_OK or MDX_ENOMEM (*p and *cap untouched). */
static int grow(void **p, size_t *cap, size_t want, size_t size)
{
    void *n = want <= *cap ? *p : mdx_grow(*p, cap, want, size, 256);

    if (n == NULL && want > *cap) {
        return MDX_ENOMEM;
    }
    *p = n;
    return MDX_OK;
}

/* Index of the batch device 'id' in h->dev, adding it. */
static int batch_device(struct pg *h, int64_t id, int64_t tenant_id, int32_t *idx)
{
    for (size_t i = h->n_dev; i > 0; i--) {
        if (h->dev[i - 1].id == id) {
            *idx = (int32_t)(i - 1);
            return MDX_OK;
        }
    }
    if (grow((void **)&h->dev, &h->cap_dev, h->n_dev + 1, sizeof(*h->dev)) != MDX_OK) {
        return MDX_ENOMEM;
    }
    h->dev[h->n_dev].id = id;
    h->dev[h->n_dev].tenant_id = tenant_id;
    h->dev[h->n_dev].seen_ms = 0;
    *idx = (int32_t)h->n_dev++;
    return MDX_OK;
}

static int cmp_row(const void *a, const void *b)
{
    const struct pg_row *x = a, *y = b;

    if (x->series_id != y->series_id) {
        return x->series_id < y->series_id ? -1 : 1;
    }
    if (x->ts_ms != y->ts_ms) {
        return x->ts_ms < y->ts_ms ? -1 : 1;
    }
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Resolves, sorts and de-duplicates the batch's points into h->rows; *n_rows kept. */
static int collect(struct pg *h, const struct mdx_batch *b, size_t total, size_t *n_rows)
{
    size_t k = 0, out = 0;
    int rc;

    rc = grow((void **)&h->rows, &h->cap_rows, total, sizeof(*h->rows));
    if (rc != MDX_OK) {
        return rc;
    }
    for (size_t g = 0; g < b->n_groups; g++) {
        const struct mdx_point_group *grp = &b->groups[g];
        int64_t dev, tid;
        int32_t di;

        rc = device_resolve(h, grp->tenant, grp->device, &dev, &tid);
        if (rc == MDX_ENOTFOUND) {
            /* Refused inside the transaction (write_refused()). */
            if (grow((void **)&h->refused, &h->cap_refused, h->n_refused + 1,
                     sizeof(*h->refused)) != MDX_OK) {
                return MDX_ENOMEM;
            }
            h->refused[h->n_refused++] = g;
            continue;
        }
        if (rc == MDX_OK) {
            rc = batch_device(h, dev, tid, &di);
        }
        for (size_t i = 0; i < grp->n && rc == MDX_OK; i++) {
            const struct mdx_point *p = &grp->points[i];
            struct pg_row *r = &h->rows[k];

            rc = series_resolve(h, dev, p->sensor, strnlen(p->sensor, MDX_NAME_MAX + 1),
                                &r->series_id);
            r->ts_ms = p->ts_ms;
            r->value = p->value;
            r->flags = p->flags & MDX_POINT_TS_SUBSTITUTED;
            r->idx = (uint32_t)k;
            r->device = di;
            if (p->ts_ms > h->dev[di].seen_ms) {
                h->dev[di].seen_ms = p->ts_ms;
            }
            k++;
        }
        if (rc != MDX_OK) {
            return rc;
        }
    }
    if (k > 1) {
        qsort(h->rows, k, sizeof(*h->rows), cmp_row);
    }
    for (size_t i = 0; i < k; i++) {
        if (out > 0 && h->rows[out - 1].series_id == h->rows[i].series_id &&
            h->rows[out - 1].ts_ms == h->rows[i].ts_ms) {
            continue;
        }
        h->rows[out++] = h->rows[i];
    }
    *n_rows = out;
    return MDX_OK;
}

/* Partitions for every day of the batch (and ahead of today), before the transaction. */
static int batch_partitions(struct pg *h, size_t n_rows)
{
    int64_t last = INT64_MIN;
    int rc = mdx_pg_partitions_ahead(h);

    for (size_t i = 0; i < n_rows && rc == MDX_OK; i++) {
        int64_t day = mdx_floor_div(h->rows[i].ts_ms, MDX_DAY_MS) * MDX_DAY_MS;
        if (day != last) {
            rc = mdx_pg_partition_ensure(h, day); /* conn.c */
            last = day;
        }
    }
    return rc;
}

/* ---- binary COPY ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

#define COPY_HEADER 19 /* signature, flags, extension length */
#define COPY_ROW 40    /* 4 fields with their lengths */

/* Encodes h->rows[0..n_rows) as binary COPY data in h->copy; h->copy_len its size. */
static int copy_build(struct pg *h, size_t n_rows)
{
    static const uint8_t sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    size_t len = COPY_HEADER + n_rows * COPY_ROW + 2;
    uint8_t *p;
    int rc;

    rc = grow((void **)&h->copy, &h->copy_cap, len, 1);
    if (rc != MDX_OK) {
        return rc;
    }
    p = h->copy;
    memcpy(p, sig, sizeof(sig));
    put32(p + 11, 0);
    put32(p + 15, 0);
    p += COPY_HEADER;
    for (size_t i = 0; i < n_rows; i++) {
        const struct pg_row *r = &h->rows[i];
        uint64_t bits;

        memcpy(&bits, &r->value, 8);
        put16(p, 4);
        put32(p + 2, 4);
        put32(p + 6, (uint32_t)r->series_id);
        put32(p + 10, 8);
        put64(p + 14, (uint64_t)r->ts_ms);
        put32(p + 22, 8);
        put64(p + 26, bits);
        put32(p + 34, 2);
        put16(p + 38, r->flags);
        p += COPY_ROW;
    }
    put16(p, 0xffff);
    h->copy_len = len;
    return MDX_OK;
}

/* Sends h->copy straight into points ('to_points') or into the staging table. */
static int copy_send(struct pg *h, int to_points)
{
    const char *sql = to_points ? "COPY points (series_id, ts_ms, value, flags)"
                                  " FROM STDIN (FORMAT binary)"
                                : "COPY mdx_staging (series_id, ts_ms, value, flags)"
                                  " FROM STDIN (FORMAT binary)";
    PGresult *res;
    int rc;

    res = PQexec(h->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = mdx_pg_status(h, res);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    if (PQputCopyData(h->conn, (const char *)h->copy, (int)h->copy_len) != 1 ||
        PQputCopyEnd(h->conn, NULL) != 1) {
        h->ready = 0;
        return MDX_ECONN;
    }
    rc = MDX_OK;
    while ((res = PQgetResult(h->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == MDX_OK) {
            rc = mdx_pg_status(h, res);
        }
        PQclear(res);
    }
    return rc;
}

/* ---- the points of a batch ---- */

#define GENERAL_BATCHES 16 /* batches on PG_APPLY after one had a point stored already */
#define NUM_TEXT 26        /* an array element: "%.17g" of a double or an int64, and ',' */

/* A minute of a series, summed over the batch. */
struct minute {
    int64_t bucket_ms;
    double min, max, sum;
    int64_t count;
    int32_t series_id;
};

/* Sums h->rows (sorted by series and time) per series and minute into m; the count. */
static size_t sum_minutes(const struct pg *h, size_t n_rows, struct minute *m)
{
    size_t n = 0;

    for (size_t i = 0; i < n_rows; i++) {
        const struct pg_row *r = &h->rows[i];
        int64_t bucket = mdx_floor_div(r->ts_ms, 60000) * 60000;

        if (n > 0 && m[n - 1].series_id == r->series_id && m[n - 1].bucket_ms == bucket) {
            struct minute *c = &m[n - 1];
            c->min = r->value < c->min ? r->value : c->min;
            c->max = r->value > c->max ? r->value : c->max;
            c->sum += r->value;
            c->count++;
            continue;
        }
        m[n].series_id = r->series_id;
        m[n].bucket_ms = bucket;
        m[n].min = m[n].max = m[n].sum = r->value;
        m[n].count = 1;
        n++;
    }
    return n;
}

/* Appends element i of column 'col' (0..5 a minute's, 6..9 a last point's) to s. */
static int put_elem(char *s, size_t room, const struct minute *m, const struct pg_row *r, int col)
{
    switch (col) {
    case 0:
        return snprintf(s, room, "%d", (int)m->series_id);
    case 1:
        return snprintf(s, room, "%lld", (long long)m->bucket_ms);
    case 2:
        return snprintf(s, room, "%.17g", m->min);
    case 3:
        return snprintf(s, room, "%.17g", m->max);
    case 4:
        return snprintf(s, room, "%.17g", m->sum);
    case 5:
        return snprintf(s, room, "%lld", (long long)m->count);
    case 6:
        return snprintf(s, room, "%d", (int)r->series_id);
    case 7:
        return snprintf(s, room, "%lld", (long long)r->ts_ms);
    case 8:
        return snprintf(s, room, "%.17g", r->value);
    default:
        return snprintf(s, room, "%d", (int)r->flags);
    }
}

/*
 * The parameters of PG_APPLY_NEW in h->agg: the batch's minutes (series,
 * bucket, min, max, sum, count) and the last point of each series, as ten
 * text arrays.
 */
static int new_params(struct pg *h, size_t n_rows, const char *v[10])
{
    struct minute *m = mdx_malloc(n_rows * sizeof(*m));
    size_t n_min, n_last = 0, used = 0, off[10];
    int rc = MDX_OK;

    if (m == NULL) {
        return MDX_ENOMEM;
    }
    n_min = sum_minutes(h, n_rows, m);
    for (size_t i = 0; i < n_rows; i++) {
        n_last += i + 1 == n_rows || h->rows[i + 1].series_id != h->rows[i].series_id;
    }
    rc = grow((void **)&h->agg, &h->agg_cap, (6 * n_min + 4 * n_last) * NUM_TEXT + 10 * 3, 1);
    for (int col = 0; col < 10 && rc == MDX_OK; col++) {
        off[col] = used;
        h->agg[used++] = '{';
        if (col < 6) {
            for (size_t i = 0; i < n_min; i++) {
                used += (size_t)put_elem(h->agg + used, h->agg_cap - used, &m[i], NULL, col);
                h->agg[used++] = ',';
            }
        } else {
            for (size_t i = 0; i < n_rows; i++) {
                if (i + 1 == n_rows || h->rows[i + 1].series_id != h->rows[i].series_id) {
                    used += (size_t)put_elem(h->agg + used, h->agg_cap - used, NULL,
                                             &h->rows[i], col);
                    h->agg[used++] = ',';
                }
            }
        }
        used -= h->agg[used - 1] == ','; /* the last comma, unless the array is empty */
        h->agg[used++] = '}';
        h->agg[used++] = '\0';
    }
    mdx_free(m);
    for (int col = 0; col < 10 && rc == MDX_OK; col++) {
        v[col] = h->agg + off[col];
    }
    return rc;
}

/*
 * Stores the collected points and feeds the rollups, latest values and
 * tenant counters from exactly those that were new. First in the batch's
 * transaction: it may roll the transaction back and begin it again.
 *
 * Most batches only hold new points, so they are copied straight into
 * points and PG_APPLY_NEW does the rest from sums made here: a third less
 * WAL and half the time of staging them for INSERT ... ON CONFLICT. A
 * point that is stored already (a redelivery) makes the primary key refuse
 * the COPY; the batch is then redone through the staging table with
 * PG_APPLY, which skips such points, and so are the next GENERAL_BATCHES,
 * as redeliveries come in runs. (PostgreSQL logs each refusal as a
 * duplicate key error.)
 */
static int write_points(struct pg *h, size_t n_rows, int64_t *written, int64_t t[4])
{
    const char *v[10];
    PGresult *res;
    int rc;

    rc = copy_build(h, n_rows);
    if (rc == MDX_OK && h->general_left == 0) {
        rc = copy_send(h, 1);
        t[0] = mdx_mono_us();
        if (rc == MDX_OK) {
            rc = new_params(h, n_rows, v);
        }
        if (rc == MDX_OK) {
            rc = mdx_pg_exec(h, PG_APPLY_NEW, 10, v, &res);
            if (rc == MDX_OK) {
                *written = PQntuples(res) > 0 ? mdx_pg_i64(res, 0, 0) : 0;
            }
            PQclear(res);
        }
        if (rc != MDX_EEXIST) {
            return rc;
        }
        h->general_left = GENERAL_BATCHES;
        mdx_log_debug(MOD, "batch holds stored points; redone with the conflict check",
                      MDX_F_INT("points", n_rows));
        rc = mdx_pg_simple(h, "ROLLBACK");
        if (rc == MDX_OK) {
            rc = mdx_pg_simple(h, "BEGIN");
        }
    } else if (h->general_left > 0) {
        h->general_left--;
    }
    if (rc == MDX_OK) {
        rc = copy_send(h, 0);
        t[0] = mdx_mono_us();
    }
    if (rc == MDX_OK) {
        rc = mdx_pg_exec(h, PG_APPLY, 0, NULL, &res);
        if (rc == MDX_OK) {
            *written = PQntuples(res) > 0 ? mdx_pg_i64(res, 0, 0) : 0;
        }
        PQclear(res);
    }
    return rc;
}

/* ---- the rest of a batch ---- */

/* Appends the decimal text of v to a growing "{a,b,...}" array in h->arr[which]. */
static int arr_build(struct pg *h, int which, int field)
{
    size_t need = 2 + h->n_dev * 22 + 1, used = 0;
    char *s;

    if (grow((void **)&h->arr[which], &h->arr_cap[which], need, 1) != MDX_OK) {
        return MDX_ENOMEM;
    }
    s = h->arr[which];
    s[used++] = '{';
    for (size_t i = 0; i < h->n_dev; i++) {
        int64_t v = field == 0 ? h->dev[i].id : h->dev[i].seen_ms;
        int n = snprintf(s + used, need - used, "%s%lld", i > 0 ? "," : "", (long long)v);
        used += n > 0 ? (size_t)n : 0;
    }
    snprintf(s + used, need - used, "}");
    return MDX_OK;
}

static int write_events(struct pg *h, const struct mdx_batch *b)
{
    for (size_t i = 0; i < b->n_events; i++) {
        const struct mdx_event_rec *er = &b->events[i];
        const struct mdx_event *ev = er->event;
        char s[5][24], body[MDX_EVENT_BODY_MAX + 1];
        const char *v[6] = {s[0], s[1], s[2], s[3], s[4], body};
        int64_t dev, tid;
        int32_t di;
        PGresult *res;
        int rc = device_resolve(h, er->tenant, er->device, &dev, &tid);

        if (rc == MDX_ENOTFOUND) {
            rc = refuse_unknown(h, er->tenant, er->device, (int)ev->kind, er->recv_ms, ev->body);
            if (rc != MDX_OK) {
                return rc;
            }
            h->n_refused_events++;
            continue;
        }
        if (rc == MDX_OK) {
            rc = batch_device(h, dev, tid, &di);
        }
        if (rc != MDX_OK) {
            return rc;
        }
        if (er->recv_ms > h->dev[di].seen_ms) {
            h->dev[di].seen_ms = er->recv_ms;
        }
        mdx_pg_fmt(s[0], dev);
        mdx_pg_fmt(s[1], (int64_t)ev->kind);
        mdx_pg_fmt(s[2], ev->ts_ms);
        mdx_pg_fmt(s[3], er->recv_ms);
        mdx_pg_fmt(s[4], ev->flags);
        snprintf(body, sizeof(body), "%.*s", (int)strnlen(ev->body, MDX_EVENT_BODY_MAX),
                 ev->body);
        rc = mdx_pg_exec(h, PG_EVENT_ADD, 6, v, &res);
        PQclear(res);
        if (rc == MDX_OK) {
            rc = mdx_pg_event_apply(h, dev, ev); /* catalog.c */
        }
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return MDX_OK;
}

static int write_devices(struct pg *h, const struct mdx_batch *b)
{
    const char *v[2];
    PGresult *res;
    int rc;

    (void)b;
    if (h->n_dev == 0) {
        return MDX_OK;
    }
    if (arr_build(h, 0, 0) != MDX_OK || arr_build(h, 1, 1) != MDX_OK) {
        return MDX_ENOMEM;
    }
    v[0] = h->arr[0];
    v[1] = h->arr[1];
    rc = mdx_pg_exec(h, PG_DEVICES_SEEN, 2, v, &res);
    PQclear(res);
    return rc;
}

static int write_dead(struct pg *h, const struct mdx_batch *b)
{
    char max[24];
    const char *ev[1] = {mdx_pg_fmt(max, h->deadletter_max)};
    PGresult *res;
    int rc;

    for (size_t i = 0; i < b->n_dead; i++) {
        const struct mdx_deadletter *dl = &b->dead[i];
        const char *reason = dl->reason != NULL ? dl->reason : "";
        size_t len = dl->payload_len;
        char recv[24], orig[24];
        const char *v[5] = {mdx_pg_fmt(recv, dl->recv_ms), reason,
                            dl->topic != NULL ? dl->topic : "",
                            dl->payload != NULL ? (const char *)dl->payload : "",
                            mdx_pg_fmt(orig, (int64_t)dl->orig_len)};
        int lens[5] = {0, 0, 0, 0, 0};
        int fmts[5] = {0, 0, 0, 1, 0};
        const char *cv[2] = {reason, "1"};

        if (len > MDX_DEADLETTER_PAYLOAD_MAX) {
            len = MDX_DEADLETTER_PAYLOAD_MAX;
        }
        lens[3] = dl->payload != NULL ? (int)len : 0;
        rc = mdx_pg_exec_bin(h, PG_DL_ADD, 5, v, lens, fmts, &res);
        PQclear(res);
        if (rc == MDX_OK) {
            rc = mdx_pg_exec(h, PG_DL_COUNT_BUMP, 2, cv, &res);
            PQclear(res);
        }
        if (rc != MDX_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < h->n_refused; i++) {
        const struct mdx_point_group *grp = &b->groups[h->refused[i]];

        rc = refuse_unknown(h, grp->tenant, grp->device, MDX_MSG_SENSOR_DATA, mdx_now_ms(), NULL);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    if (b->n_dead == 0 && h->n_refused == 0 && h->n_refused_events == 0) {
        return MDX_OK;
    }
    rc = mdx_pg_exec(h, PG_DL_EVICT, 1, ev, &res);
    PQclear(res);
    return rc;
}

static int write_position(void *impl, const char *owner, const struct mdx_spool_pos *pos)
{
    struct pg *h = impl;
    char seg[24], off[24];
    const char *v[3] = {mdx_pg_fmt(seg, (int64_t)pos->segment),
                        mdx_pg_fmt(off, (int64_t)pos->offset), owner};
    PGresult *res;
    int rc;

    rc = mdx_pg_exec(h, PG_CKPT_SET, 3, v, &res);
    PQclear(res);
    return rc;
}

/* The spool checkpoint and a pull source's positions, in the batch's transaction. */
static int write_checkpoint(struct pg *h, const struct mdx_batch *b)
{
    return mdx_store_batch_positions(b, write_position, h);
}

/* What a batch writes after its points, in this order. */
static int (*const after_points[])(struct pg *h, const struct mdx_batch *b) = {
    write_events, write_devices, write_dead, mdx_pg_alerts_write /* alerts.c */,
    mdx_pg_detector_states_write /* detector_state.c */, write_checkpoint,
};

/* The transaction of a batch whose rows are collected; t[] gets phase end times (us). */
static int apply(struct pg *h, const struct mdx_batch *b, size_t n_rows, int64_t *written,
                 int64_t t[4])
{
    int rc;

    rc = mdx_pg_simple(h, "BEGIN");
    if (rc != MDX_OK) {
        return rc;
    }
    if (n_rows > 0) {
        rc = write_points(h, n_rows, written, t);
    }
    t[1] = mdx_mono_us();
    for (size_t i = 0; i < sizeof(after_points) / sizeof(after_points[0]) && rc == MDX_OK; i++) {
        rc = after_points[i](h, b);
    }
    t[2] = mdx_mono_us();
    if (rc == MDX_OK) {
        rc = mdx_pg_simple(h, "COMMIT");
    }
    t[3] = mdx_mono_us();
    if (rc != MDX_OK && h->conn != NULL && PQstatus(h->conn) == CONNECTION_OK) {
        PQclear(PQexec(h->conn, "ROLLBACK"));
    }
    return rc;
}

int mdx_pg_write(void *impl, const struct mdx_batch *b, struct mdx_batch_result *res)
{
    struct pg *h = impl;
    size_t total = 0, n_rows = 0;
    int64_t written = 0, t0 = mdx_mono_us(), t1 = 0, t2 = 0, t[4] = {0, 0, 0, 0};
    int rc;

    if (res != NULL) {
        res->points_written = 0;
        res->points_duplicate = 0;
    }
    for (size_t g = 0; g < b->n_groups; g++) {
        total += b->groups[g].n;
    }
    if (total >= UINT32_MAX / 2) {
        return MDX_EINVAL;
    }
    rc = mdx_pg_ensure(h);
    if (rc != MDX_OK) {
        return rc;
    }
    h->n_dev = 0;
    h->n_refused = 0;
    h->n_refused_events = 0;
    rc = devices_sync(h);
    if (rc == MDX_OK) {
        rc = collect(h, b, total, &n_rows);
    }
    t1 = mdx_mono_us();
    if (rc == MDX_OK) {
        rc = batch_partitions(h, n_rows);
    }
    t2 = mdx_mono_us();
    if (rc == MDX_OK) {
        t[0] = t2;
        rc = apply(h, b, n_rows, &written, t);
    }
    mdx_store_alerts_settle(b, rc == MDX_OK);
    if (rc != MDX_OK) {
        if (rc == MDX_ECONN) {
            mdx_log_warn(MOD, "PostgreSQL connection lost during a batch; it will be retried",
                         MDX_F_STR("server", h->where));
        }
        return rc;
    }
    /* Per-phase times, to see where a batch's time goes. */
    mdx_log_debug(MOD, "batch written", MDX_F_INT("points", total), MDX_F_INT("new", written),
                  MDX_F_INT("collect_us", t1 - t0), MDX_F_INT("copy_us", t[0] - t2),
                  MDX_F_INT("apply_us", t[1] - t[0]), MDX_F_INT("rest_us", t[2] - t[1]),
                  MDX_F_INT("commit_us", t[3] - t[2]));
    if (res != NULL) {
        res->points_written = (uint64_t)written;
        res->points_duplicate = (uint64_t)(total - (size_t)written);
    }
    return MDX_OK;
}
