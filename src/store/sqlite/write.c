/* SPDX-License-Identifier: Apache-2.0 */
/*
 * write.c - the SQLite store's batch writer and its caches (the write of
 * store_series.h).
 *
 * A batch is one transaction. Its points are first grouped per series
 * (ids come from in-memory caches), then each series is applied to its
 * head chunk: a point newer than the head is appended in O(1); a point
 * inside the head's range is merged (a point whose ts exists is a
 * duplicate and changes nothing); an older point is merged into the stored
 * chunk that covers it. Dirty heads are written once per batch. Chunks of
 * a series never overlap, and t_start is always the first point's ts.
 *
 * If anything fails the transaction is rolled back and every cache is
 * dropped, so memory never disagrees with the database: the retried batch
 * starts from what is stored and gives the same result.
 *
 * A device deleted since the ingest checked it (catalog.c)
 * is not registered when its batch is written: its points and events are
 * refused as dead letters "unknown device" (topic kept, payload not),
 * and the rest of the batch is stored. Failing the batch instead would
 * make the ingest retry it for ever.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "store/store_alert_int.h"
#include "store/store_event_int.h"
#include "store/device_key.h"
#include "store/nodes.h"
#include "store/store_batch_int.h"
#include "store/sqlite/rollup.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

#define NO_LINK UINT32_MAX
#define HTAB_BUCKETS 1024 /* to start with; the tables grow */
/* Room kept after a head between batches: about 32 appends without realloc. */
#define HEAD_SLACK (32 * 8)

/* ---- caches ---- */

/* The series whose LRU link is 'l' (the links form a ring through sq->lru, not an mdx_list). */
static struct sq_series *lru_series(struct mdx_link *l)
{
    return MDX_LINK_ENTRY(l, struct sq_series, lru);
}

static void lru_unlink(struct sq_series *s)
{
    s->lru.prev->next = s->lru.next;
    s->lru.next->prev = s->lru.prev;
}

static void lru_push_front(struct sq *h, struct sq_series *s)
{
    s->lru.prev = &h->lru;
    s->lru.next = h->lru.next;
    h->lru.next->prev = &s->lru;
    h->lru.next = &s->lru;
}

static void series_free(struct sq_series *s)
{
    mdx_chunk_fini(&s->head);
    mdx_free(s);
}

int mdx_sq_cache_init(struct sq *h)
{
    h->lru.next = h->lru.prev = &h->lru;
    mdx_chunk_init(&h->tmp);
    if (mdx_htab_init(&h->devices, HTAB_BUCKETS) != MDX_OK ||
        mdx_htab_init(&h->series, HTAB_BUCKETS) != MDX_OK) {
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

void mdx_sq_cache_clear(struct sq *h)
{
    mdx_store_nodes_free(&h->devices);
    if (h->lru.next == NULL) {
        return;
    }
    while (h->lru.next != &h->lru) {
        struct sq_series *s = lru_series(h->lru.next);
        lru_unlink(s);
        mdx_htab_remove(&h->series, &s->node);
        series_free(s);
    }
    h->batch_series = NULL;
    h->batch_devices = NULL;
}

void mdx_sq_cache_fini(struct sq *h)
{
    mdx_sq_cache_clear(h);
    mdx_htab_fini(&h->devices);
    mdx_htab_fini(&h->series);
    MDX_FREE(h->refs);
    MDX_FREE(h->links);
    MDX_FREE(h->slow);
    MDX_FREE(h->old.v);
    MDX_FREE(h->in.v);
    MDX_FREE(h->merged.v);
    mdx_chunk_fini(&h->tmp);
    sqlite3_finalize(h->epoch_get);
    h->epoch_get = NULL;
    sqlite3_finalize(h->writer_set);
    h->writer_set = NULL;
}

void mdx_sq_heads_forget(struct sq *h)
{
    for (struct mdx_link *l = h->lru.next; l != NULL && l != &h->lru; l = l->next) {
        struct sq_series *s = lru_series(l);

        mdx_chunk_reset(&s->head);
        s->head_loaded = 0;
    }
}

void mdx_sq_head_forget(struct sq *h, int64_t device_id, const char *sensor)
{
    size_t len = strnlen(sensor, MDX_NAME_MAX + 1);
    uint64_t hash = mdx_hash_bytes((uint64_t)device_id * 0x9e3779b97f4a7c15ull, sensor, len);

    for (struct mdx_hnode *n = mdx_htab_bucket(&h->series, hash); n != NULL; n = n->next) {
        struct sq_series *s = (struct sq_series *)n;

        if (n->hash == hash && s->device_id == device_id && s->sensor_len == len &&
            memcmp(s->sensor, sensor, len) == 0) {
            mdx_chunk_reset(&s->head);
            s->head_loaded = 0;
        }
    }
}

/* Claims points_writer for this connection, inside the caller's transaction. */
static int writer_claim(struct sq *h)
{
    int rc;

    while (h->writer_token == 0) {
        sqlite3_randomness(sizeof(h->writer_token), &h->writer_token);
        h->writer_token &= INT64_MAX;
    }
    if (h->writer_set == NULL) {
        rc = sqlite3_prepare_v3(h->db, "UPDATE points_writer SET token = ?1 WHERE id = 1", -1,
                                SQLITE_PREPARE_PERSISTENT, &h->writer_set, NULL);
        if (rc != SQLITE_OK) {
            return mdx_sq_status(rc);
        }
    }
    sqlite3_bind_int64(h->writer_set, 1, h->writer_token);
    rc = sqlite3_step(h->writer_set);
    sqlite3_reset(h->writer_set);
    return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
}

int mdx_sq_heads_sync(struct sq *h, int claim)
{
    int64_t n = 0, writer = 0;
    int rc;

    if (h->epoch_get == NULL) {
        rc = sqlite3_prepare_v3(h->db,
                                "SELECT (SELECT n FROM delete_epoch WHERE id = 1),"
                                " (SELECT token FROM points_writer WHERE id = 1)",
                                -1, SQLITE_PREPARE_PERSISTENT, &h->epoch_get, NULL);
        if (rc != SQLITE_OK) {
            return mdx_sq_status(rc);
        }
    }
    rc = sqlite3_step(h->epoch_get);
    if (rc == SQLITE_ROW) {
        n = sqlite3_column_int64(h->epoch_get, 0);
        writer = sqlite3_column_int64(h->epoch_get, 1);
    }
    sqlite3_reset(h->epoch_get);
    rc = rc == SQLITE_ROW ? MDX_OK : mdx_sq_status(rc);
    if (rc == MDX_OK && (n != h->delete_epoch || writer != h->writer_token)) {
        mdx_sq_heads_forget(h);
        h->delete_epoch = n;
    }
    if (rc == MDX_OK && claim && (h->writer_token == 0 || writer != h->writer_token)) {
        rc = writer_claim(h);
    }
    return rc;
}

size_t mdx_sq_cache_bytes(const struct sq *h, size_t *n_series)
{
    size_t bytes = 0, n = 0;

    for (struct mdx_link *l = h->lru.next; l != &h->lru; l = l->next) {
        const struct sq_series *s = lru_series(l);

        bytes += sizeof(*s) + s->sensor_len + 1 + s->head.cap;
        n++;
    }
    bytes += (h->series.mask + 1) * sizeof(*h->series.b);
    if (n_series != NULL) {
        *n_series = n;
    }
    return bytes;
}

/* Drops least recently used series beyond cache_series; all are clean between batches. */
static void series_evict(struct sq *h)
{
    while (h->series.count > h->cache_series && h->lru.prev != &h->lru) {
        struct sq_series *s = lru_series(h->lru.prev);
        lru_unlink(s);
        mdx_htab_remove(&h->series, &s->node);
        series_free(s);
    }
}

static int grow_pts(struct sq_pts *p, size_t want)
{
    struct mdx_chunk_point *v;

    if (want <= p->cap) {
        return MDX_OK;
    }
    v = mdx_grow(p->v, &p->cap, want, sizeof(*v), 256);
    if (v == NULL) {
        return MDX_ENOMEM;
    }
    p->v = v;
    return MDX_OK;
}

/* Grows the three scratch arrays of a batch together; batch_cap changes only when all grew. */
static int grow_batch(struct sq *h, size_t n)
{
    size_t cap_refs = h->batch_cap, cap_links = h->batch_cap, cap_slow = h->batch_cap;
    const struct mdx_point **refs;
    uint32_t *links;
    struct sq_slow *slow;

    if (n <= h->batch_cap) {
        return MDX_OK;
    }
    refs = mdx_grow(h->refs, &cap_refs, n, sizeof(*refs), 1024);
    h->refs = refs != NULL ? refs : h->refs;
    links = mdx_grow(h->links, &cap_links, n, sizeof(*links), 1024);
    h->links = links != NULL ? links : h->links;
    slow = mdx_grow(h->slow, &cap_slow, n, sizeof(*slow), 1024);
    h->slow = slow != NULL ? slow : h->slow;
    if (refs == NULL || links == NULL || slow == NULL) {
        return MDX_ENOMEM;
    }
    h->batch_cap = cap_slow;
    return MDX_OK;
}

/* ---- statements ---- */

/* Resets 'st' and turns a step result into a status. */
static int step_done(sqlite3_stmt *st, int rc)
{
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW || rc == SQLITE_OK) {
        return MDX_OK;
    }
    return mdx_sq_status(rc);
}

static int exec_stmt(struct sq *h, enum sq_stmt id)
{
    sqlite3_stmt *st = h->st[id];

    return step_done(st, sqlite3_step(st));
}

/*
 * Drops every cached device and series id if a device was deleted since
 * they were read (device_epoch moved). Inside the write transaction, at
 * its start.
 */
static int devices_sync(struct sq *h)
{
    sqlite3_stmt *st = h->st[SQ_DEVICE_EPOCH];
    int64_t n = 0;
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    rc = rc == SQLITE_ROW ? MDX_OK : rc == SQLITE_DONE ? MDX_ESTORE : mdx_sq_status(rc);
    if (rc == MDX_OK && n != h->device_epoch) {
        mdx_sq_cache_clear(h);
        h->device_epoch = n;
    }
    return rc;
}

/*
 * Records a message of a device that is not registered (any more) as a
 * dead letter "unknown device" of the batch. 'payload' may be NULL.
 */
static int refuse_unknown(struct sq *h, const char *tenant, const char *device, int kind,
                          int64_t recv_ms, const char *payload)
{
    sqlite3_stmt *st = h->st[SQ_DL_ADD];
    size_t len = payload != NULL ? strnlen(payload, MDX_DEADLETTER_PAYLOAD_MAX) : 0;
    char topic[2 * MDX_NAME_MAX + 32];
    int rc;

    mdx_store_event_topic(tenant, device, kind, topic, sizeof(topic));
    sqlite3_bind_int64(st, 1, recv_ms);
    sqlite3_bind_text(st, 2, MDX_REASON_UNKNOWN_DEVICE, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, topic, -1, SQLITE_TRANSIENT);
    if (len > 0) {
        sqlite3_bind_blob(st, 4, payload, (int)len, SQLITE_STATIC);
    } else {
        sqlite3_bind_zeroblob(st, 4, 0);
    }
    sqlite3_bind_int64(st, 5, (int64_t)len);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        return mdx_sq_status(rc);
    }
    st = h->st[SQ_DL_COUNT_BUMP];
    sqlite3_bind_text(st, 1, MDX_REASON_UNKNOWN_DEVICE, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    h->refused++;
    return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
}

/* Resolves (tenant, device) to the cached device; MDX_ENOTFOUND if not registered. */
static int device_resolve(struct sq *h, const char *tenant, const char *device,
                          struct sq_device **out)
{
    char key[MDX_DEVICE_KEY_MAX];
    size_t klen;
    uint64_t hash;
    struct sq_device *d;
    sqlite3_stmt *st = h->st[SQ_DEVICE_IDS];
    int rc = mdx_store_device_key(tenant, device, key, &klen, &hash);

    if (rc != MDX_OK) {
        return rc;
    }
    for (struct mdx_hnode *n = mdx_htab_bucket(&h->devices, hash); n != NULL; n = n->next) {
        d = (struct sq_device *)n;
        if (n->hash == hash && d->key_len == klen && memcmp(d->key, key, klen) == 0) {
            *out = d;
            return MDX_OK;
        }
    }
    d = mdx_calloc(1, sizeof(*d) + klen + 1);
    if (d == NULL) {
        return MDX_ENOMEM;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    rc = mdx_sq_step_row(st);
    if (rc == MDX_OK) {
        d->id = sqlite3_column_int64(st, 0);
        d->tenant_id = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != MDX_OK) {
        mdx_free(d);
        return rc;
    }
    d->node.hash = hash;
    d->key_len = klen;
    memcpy(d->key, key, klen);
    mdx_htab_insert(&h->devices, &d->node);
    *out = d;
    return MDX_OK;
}

static void device_touch(struct sq *h, struct sq_device *d)
{
    if (d->batch != h->batch_seq) {
        d->batch = h->batch_seq;
        d->seen_ms = 0;
        d->written = 0;
        d->batch_next = h->batch_devices;
        h->batch_devices = d;
    }
}

/* Finds or creates the series (device, sensor). */
static int series_resolve(struct sq *h, const struct sq_device *dev, const char *sensor,
                          struct sq_series **out)
{
    size_t len = strnlen(sensor, MDX_NAME_MAX + 1);
    uint64_t hash;
    struct sq_series *s;
    sqlite3_stmt *st;
    int rc;

    if (len == 0 || len > MDX_NAME_MAX) {
        return MDX_EINVAL;
    }
    hash = mdx_hash_bytes((uint64_t)dev->id * 0x9e3779b97f4a7c15ull, sensor, len);
    for (struct mdx_hnode *n = mdx_htab_bucket(&h->series, hash); n != NULL; n = n->next) {
        s = (struct sq_series *)n;
        if (n->hash == hash && s->device_id == dev->id && s->sensor_len == len &&
            memcmp(s->sensor, sensor, len) == 0) {
            *out = s;
            return MDX_OK;
        }
    }
    s = mdx_calloc(1, sizeof(*s) + len + 1);
    if (s == NULL) {
        return MDX_ENOMEM;
    }
    mdx_chunk_init(&s->head);
    s->device_id = dev->id;
    s->sensor_len = (uint8_t)len;
    memcpy(s->sensor, sensor, len);

    st = h->st[SQ_SERIES_GET];
    sqlite3_bind_int64(st, 1, dev->id);
    sqlite3_bind_text(st, 2, sensor, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->id = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) {
        st = h->st[SQ_SERIES_ADD];
        sqlite3_bind_int64(st, 1, dev->id);
        sqlite3_bind_text(st, 2, sensor, (int)len, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) {
            s->id = sqlite3_last_insert_rowid(h->db);
            s->head_loaded = 1; /* a new series has no chunk */
            rc = SQLITE_ROW;
        }
    }
    if (rc != SQLITE_ROW) {
        series_free(s);
        return mdx_sq_status(rc);
    }
    s->node.hash = hash;
    mdx_htab_insert(&h->series, &s->node);
    lru_push_front(h, s);
    *out = s;
    return MDX_OK;
}

/* ---- chunks in the database ---- */

static int chunk_put(struct sq *h, int64_t series_id, const struct mdx_chunk *c)
{
    sqlite3_stmt *st = h->st[SQ_CHUNK_PUT];

    sqlite3_bind_int64(st, 1, series_id);
    sqlite3_bind_int64(st, 2, c->t_start);
    sqlite3_bind_int64(st, 3, c->t_end);
    sqlite3_bind_int64(st, 4, c->n);
    sqlite3_bind_blob(st, 5, c->data, (int)c->len, SQLITE_STATIC);
    return step_done(st, sqlite3_step(st));
}

/* Loads the newest stored chunk of 's' as its head. */
static int head_load(struct sq *h, struct sq_series *s)
{
    sqlite3_stmt *st = h->st[SQ_CHUNK_HEAD];
    int rc;

    mdx_chunk_reset(&s->head);
    sqlite3_bind_int64(st, 1, s->id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t t_start = sqlite3_column_int64(st, 0);
        int64_t t_end = sqlite3_column_int64(st, 1);
        int64_t n = sqlite3_column_int64(st, 2);
        const void *data = sqlite3_column_blob(st, 3);
        size_t len = (size_t)sqlite3_column_bytes(st, 3);

        rc = mdx_chunk_load(&s->head, t_start, data, len);
        if (rc == MDX_OK && (s->head.n != n || s->head.t_start != t_start ||
                             s->head.t_end != t_end || n == 0)) {
            rc = MDX_ECORRUPT;
        }
        sqlite3_reset(st);
    } else {
        rc = step_done(st, rc);
    }
    if (rc != MDX_OK) {
        mdx_chunk_reset(&s->head);
        return rc;
    }
    s->head_loaded = 1;
    return MDX_OK;
}

/* Decodes one chunk into 'out', checking it against its row. */
static int decode_into(struct sq_pts *out, int64_t t_start, int64_t t_end, int64_t n,
                       const void *data, size_t len)
{
    size_t got;
    int rc;

    if (n <= 0 || grow_pts(out, (size_t)n) != MDX_OK) {
        return n <= 0 ? MDX_ECORRUPT : MDX_ENOMEM;
    }
    rc = mdx_chunk_decode(data, len, t_start, out->v, (size_t)n, &got);
    if (rc == MDX_EFULL || (rc == MDX_OK && (got != (size_t)n || out->v[0].ts_ms != t_start ||
                                             out->v[got - 1].ts_ms != t_end))) {
        rc = MDX_ECORRUPT;
    }
    out->n = rc == MDX_OK ? got : 0;
    return rc;
}

/*
 * Merges the sorted, distinct points b[0..nb) of 's' and h->old into
 * h->merged (room for both). A ts present in h->old keeps the stored
 * point. *added gets the points added, which also go to the rollups.
 */
static int merge_in(struct sq *h, const struct sq_series *s, const struct mdx_chunk_point *b,
                    size_t nb, size_t *added)
{
    const struct mdx_chunk_point *a = h->old.v;
    size_t na = h->old.n, i = 0, j = 0, k = 0;
    struct mdx_chunk_point *m = h->merged.v;
    int rc = MDX_OK;

    *added = 0;
    while (i < na || j < nb) {
        if (j == nb || (i < na && a[i].ts_ms < b[j].ts_ms)) {
            m[k++] = a[i++];
        } else if (i == na || b[j].ts_ms < a[i].ts_ms) {
            if (rc == MDX_OK) {
                rc = mdx_sq_rollup_add(h, s->id, b[j].ts_ms, b[j].value);
            }
            m[k++] = b[j++];
            (*added)++;
        } else {
            m[k++] = a[i++];
            j++;
        }
    }
    h->merged.n = k;
    return rc;
}

static int encode(struct mdx_chunk *c, const struct mdx_chunk_point *p, size_t n)
{
    mdx_chunk_reset(c);
    for (size_t i = 0; i < n; i++) {
        int rc = mdx_chunk_append(c, p[i].ts_ms, p[i].value, p[i].flags);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return MDX_OK;
}

/*
 * Writes h->merged as chunks of 's': one chunk, or even pieces of about
 * chunk_points when it has more than 'limit' points. With 'to_head' the
 * last piece becomes the (dirty) head instead of being written.
 */
static int store_merged(struct sq *h, struct sq_series *s, size_t limit, int to_head)
{
    size_t n = h->merged.n, cp = h->chunk_points;
    size_t pieces = n > limit ? (n + cp - 1) / cp : 1;
    size_t at = 0;
    int rc = MDX_OK;

    for (size_t p = 0; p < pieces && rc == MDX_OK; p++) {
        size_t cnt = (n - at) / (pieces - p);
        int last = p + 1 == pieces;

        if (last && to_head) {
            rc = encode(&s->head, h->merged.v + at, cnt);
            s->dirty = 1;
        } else {
            rc = encode(&h->tmp, h->merged.v + at, cnt);
            if (rc == MDX_OK) {
                rc = chunk_put(h, s->id, &h->tmp);
            }
        }
        at += cnt;
    }
    return rc;
}

/* Merges h->in (all before the head) into the stored chunks that cover them. */
static int merge_old(struct sq *h, struct sq_series *s, struct mdx_batch_result *res)
{
    const struct mdx_chunk_point *all = h->in.v;
    size_t n_all = h->in.n, i = 0;
    int rc = MDX_OK;

    while (i < n_all && rc == MDX_OK) {
        int64_t ts0 = all[i].ts_ms, bound = s->head.t_start;
        sqlite3_stmt *st = h->st[SQ_CHUNK_NEXT];
        int found = 0;
        size_t j, added;

        /* The next chunk after ts0 bounds the points that go into one chunk. */
        sqlite3_bind_int64(st, 1, s->id);
        sqlite3_bind_int64(st, 2, ts0);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) < bound) {
            bound = sqlite3_column_int64(st, 0);
        }
        rc = step_done(st, rc);
        if (rc != MDX_OK) {
            break;
        }
        /* The stored chunk with the greatest t_start <= ts0, if any. */
        h->old.n = 0;
        st = h->st[SQ_CHUNK_AT];
        sqlite3_bind_int64(st, 1, s->id);
        sqlite3_bind_int64(st, 2, ts0);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            found = 1;
            rc = decode_into(&h->old, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                             sqlite3_column_int64(st, 2), sqlite3_column_blob(st, 3),
                             (size_t)sqlite3_column_bytes(st, 3));
            sqlite3_reset(st);
        } else {
            rc = step_done(st, rc);
        }
        if (rc != MDX_OK) {
            break;
        }
        for (j = i; j < n_all && all[j].ts_ms < bound; j++) {
        }
        rc = grow_pts(&h->merged, h->old.n + (j - i));
        if (rc == MDX_OK) {
            rc = merge_in(h, s, all + i, j - i, &added);
        }
        if (rc == MDX_OK) {
            res->points_written += added;
            res->points_duplicate += (j - i) - added;
            s->dev->written += (int64_t)added;
            if (added > 0) {
                rc = store_merged(h, s, found ? 2 * (size_t)h->chunk_points : h->chunk_points,
                                  0);
            }
        }
        i = j;
    }
    return rc;
}

static int cmp_slow(const void *a, const void *b)
{
    const struct sq_slow *x = a, *y = b;

    if (x->ts_ms != y->ts_ms) {
        return x->ts_ms < y->ts_ms ? -1 : 1;
    }
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/*
 * Points of 's' that are not after its head: h->slow[0..n). Sorted by ts
 * (the first arrival wins among equal ts), then merged into the head or
 * into older stored chunks.
 */
static int apply_slow(struct sq *h, struct sq_series *s, size_t n, struct mdx_batch_result *res)
{
    struct sq_pts *in = &h->in;
    size_t k = 0, n_old = 0, added;
    int rc;

    rc = grow_pts(in, n);
    if (rc != MDX_OK) {
        return rc;
    }
    qsort(h->slow, n, sizeof(*h->slow), cmp_slow);
    for (size_t i = 0; i < n; i++) {
        const struct mdx_point *p = h->refs[h->slow[i].idx];

        if (k > 0 && in->v[k - 1].ts_ms == p->ts_ms) {
            res->points_duplicate++;
            continue;
        }
        in->v[k].ts_ms = p->ts_ms;
        in->v[k].value = p->value;
        in->v[k].flags = p->flags & MDX_POINT_TS_SUBSTITUTED;
        k++;
    }
    in->n = k;
    while (n_old < k && in->v[n_old].ts_ms < s->head.t_start) {
        n_old++;
    }
    if (n_old > 0) {
        in->n = n_old;
        rc = merge_old(h, s, res);
        if (rc != MDX_OK) {
            return rc;
        }
        memmove(in->v, in->v + n_old, (k - n_old) * sizeof(*in->v));
        in->n = k - n_old;
    }
    if (in->n == 0) {
        return MDX_OK;
    }
    /* The rest lies inside the head's range. */
    rc = decode_into(&h->old, s->head.t_start, s->head.t_end, s->head.n, s->head.data,
                     s->head.len);
    if (rc == MDX_OK) {
        rc = grow_pts(&h->merged, h->old.n + in->n);
    }
    if (rc == MDX_OK) {
        rc = merge_in(h, s, in->v, in->n, &added);
    }
    if (rc != MDX_OK) {
        return rc;
    }
    res->points_written += added;
    res->points_duplicate += in->n - added;
    s->dev->written += (int64_t)added;
    if (added == 0) {
        return MDX_OK;
    }
    return store_merged(h, s, 2 * (size_t)h->chunk_points, 1);
}

/* Applies this batch's points of 's'. */
static int series_apply(struct sq *h, struct sq_series *s, struct mdx_batch_result *res)
{
    struct mdx_chunk *head = &s->head;
    size_t n_slow = 0;
    int rc;

    if (!s->head_loaded) {
        rc = head_load(h, s);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    for (uint32_t i = s->first; i != NO_LINK; i = h->links[i]) {
        const struct mdx_point *p = h->refs[i];

        if (head->n > 0 && p->ts_ms <= head->t_end) {
            h->slow[n_slow].ts_ms = p->ts_ms;
            h->slow[n_slow].idx = i;
            n_slow++;
            continue;
        }
        if (head->n >= h->chunk_points) {
            if (s->dirty) {
                rc = chunk_put(h, s->id, head);
                if (rc != MDX_OK) {
                    return rc;
                }
                s->dirty = 0;
            }
            mdx_chunk_reset(head);
        }
        rc = mdx_chunk_append(head, p->ts_ms, p->value, p->flags & MDX_POINT_TS_SUBSTITUTED);
        if (rc == MDX_OK) {
            rc = mdx_sq_rollup_add(h, s->id, p->ts_ms, p->value);
        }
        if (rc != MDX_OK) {
            return rc;
        }
        s->dirty = 1;
        res->points_written++;
        s->dev->written++;
    }
    return n_slow > 0 ? apply_slow(h, s, n_slow, res) : MDX_OK;
}

/*
 * The device of a batch's row (message 'kind' received at *recv_ms, NULL:
 * now, with 'body'), touched by the batch: MDX_OK with *dev, MDX_ENOTFOUND
 * when it is unknown (the row is then a dead letter), else the error.
 */
static int row_device(struct sq *h, const char *tenant, const char *device, int kind,
                      const int64_t *recv_ms, const char *body, struct sq_device **dev)
{
    int rc = device_resolve(h, tenant, device, dev);

    if (rc == MDX_ENOTFOUND) {
        rc = refuse_unknown(h, tenant, device, kind, recv_ms != NULL ? *recv_ms : mdx_now_ms(),
                            body);
        return rc == MDX_OK ? MDX_ENOTFOUND : rc;
    }
    if (rc == MDX_OK) {
        device_touch(h, *dev);
    }
    return rc;
}

/* ---- the rest of a batch ---- */

static int write_events(struct sq *h, const struct mdx_batch *b)
{
    sqlite3_stmt *st = h->st[SQ_EVENT_ADD];

    for (size_t i = 0; i < b->n_events; i++) {
        const struct mdx_event_rec *er = &b->events[i];
        const struct mdx_event *ev = er->event;
        struct sq_device *dev = NULL;
        int rc =
            row_device(h, er->tenant, er->device, (int)ev->kind, &er->recv_ms, ev->body, &dev);

        if (rc == MDX_ENOTFOUND) {
            continue;
        }
        if (rc != MDX_OK) {
            return rc;
        }
        if (er->recv_ms > dev->seen_ms) {
            dev->seen_ms = er->recv_ms;
        }
        sqlite3_bind_int64(st, 1, dev->id);
        sqlite3_bind_int(st, 2, (int)ev->kind);
        sqlite3_bind_int64(st, 3, ev->ts_ms);
        sqlite3_bind_int64(st, 4, er->recv_ms);
        sqlite3_bind_int(st, 5, ev->flags);
        sqlite3_bind_text(st, 6, ev->body, (int)strnlen(ev->body, MDX_EVENT_BODY_MAX),
                          SQLITE_STATIC);
        rc = step_done(st, sqlite3_step(st));
        if (rc == MDX_OK) {
            rc = mdx_sq_event_apply(h, dev->id, ev); /* catalog.c */
        }
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return MDX_OK;
}

static int write_devices(struct sq *h, const struct mdx_batch *b)
{
    (void)b;
    for (struct sq_device *d = h->batch_devices; d != NULL; d = d->batch_next) {
        sqlite3_stmt *st = h->st[SQ_DEVICE_SEEN];
        int rc;

        sqlite3_bind_int64(st, 1, d->seen_ms);
        sqlite3_bind_int64(st, 2, d->id);
        rc = step_done(st, sqlite3_step(st));
        if (rc == MDX_OK && d->written > 0) {
            st = h->st[SQ_TENANT_POINTS_ADD];
            sqlite3_bind_int64(st, 1, d->written);
            sqlite3_bind_int64(st, 2, d->tenant_id);
            rc = step_done(st, sqlite3_step(st));
        }
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return MDX_OK;
}

static int write_dead(struct sq *h, const struct mdx_batch *b)
{
    for (size_t i = 0; i < b->n_dead; i++) {
        const struct mdx_deadletter *dl = &b->dead[i];
        const char *reason = dl->reason != NULL ? dl->reason : "";
        size_t len = dl->payload_len;
        sqlite3_stmt *st = h->st[SQ_DL_ADD];
        int rc;

        if (len > MDX_DEADLETTER_PAYLOAD_MAX) {
            len = MDX_DEADLETTER_PAYLOAD_MAX;
        }
        sqlite3_bind_int64(st, 1, dl->recv_ms);
        sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, dl->topic != NULL ? dl->topic : "", -1, SQLITE_STATIC);
        if (len > 0 && dl->payload != NULL) {
            sqlite3_bind_blob(st, 4, dl->payload, (int)len, SQLITE_STATIC);
        } else {
            sqlite3_bind_zeroblob(st, 4, 0);
        }
        sqlite3_bind_int64(st, 5, (int64_t)dl->orig_len);
        rc = step_done(st, sqlite3_step(st));
        if (rc == MDX_OK) {
            st = h->st[SQ_DL_COUNT_BUMP];
            sqlite3_bind_text(st, 1, reason, -1, SQLITE_STATIC);
            rc = step_done(st, sqlite3_step(st));
        }
        if (rc != MDX_OK) {
            return rc;
        }
    }
    if (b->n_dead > 0 || h->refused > 0) {
        sqlite3_stmt *st = h->st[SQ_DL_EVICT];

        sqlite3_bind_int64(st, 1, h->deadletter_max);
        return step_done(st, sqlite3_step(st));
    }
    return MDX_OK;
}

static int write_position(void *impl, const char *owner, const struct mdx_spool_pos *pos)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_CKPT_SET];

    sqlite3_bind_int64(st, 1, (int64_t)pos->segment);
    sqlite3_bind_int64(st, 2, (int64_t)pos->offset);
    sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
    return step_done(st, sqlite3_step(st));
}

/* The spool checkpoint and a pull source's positions, in the batch's transaction. */
static int write_checkpoint(struct sq *h, const struct mdx_batch *b)
{
    return mdx_store_batch_positions(b, write_position, h);
}

/* Groups the batch's points per series, in arrival order. */
static int collect_points(struct sq *h, const struct mdx_batch *b)
{
    uint32_t k = 0;

    for (size_t g = 0; g < b->n_groups; g++) {
        const struct mdx_point_group *grp = &b->groups[g];
        struct sq_device *dev = NULL;
        int rc = row_device(h, grp->tenant, grp->device, MDX_MSG_SENSOR_DATA, NULL, NULL, &dev);

        if (rc == MDX_ENOTFOUND) {
            continue;
        }
        if (rc != MDX_OK) {
            return rc;
        }
        for (size_t i = 0; i < grp->n; i++) {
            const struct mdx_point *p = &grp->points[i];
            struct sq_series *s = NULL;

            rc = series_resolve(h, dev, p->sensor, &s);
            if (rc != MDX_OK) {
                return rc;
            }
            if (s->batch != h->batch_seq) {
                s->batch = h->batch_seq;
                s->dev = dev;
                s->first = k;
                s->batch_next = NULL;
                *h->batch_series_tail = s;
                h->batch_series_tail = &s->batch_next;
            } else {
                h->links[s->last] = k;
            }
            s->last = k;
            h->links[k] = NO_LINK;
            h->refs[k] = p;
            k++;
            if (p->ts_ms > dev->seen_ms) {
                dev->seen_ms = p->ts_ms;
            }
        }
    }
    return MDX_OK;
}

static int flush_rollups(struct sq *h, const struct mdx_batch *b)
{
    (void)b;
    return mdx_sq_rollup_flush(h);
}

/* What a batch writes after its points, in this order. */
static int (*const after_points[])(struct sq *h, const struct mdx_batch *b) = {
    flush_rollups, write_events, write_devices, write_dead, mdx_sq_alerts_write /* alerts.c */,
    mdx_sq_detector_states_write /* detector_state.c */, write_checkpoint,
};

int mdx_sq_write(void *impl, const struct mdx_batch *b, struct mdx_batch_result *res)
{
    struct sq *h = impl;
    struct mdx_batch_result r = {0, 0};
    size_t total = 0;
    int rc;

    if (res != NULL) {
        *res = r;
    }
    for (size_t g = 0; g < b->n_groups; g++) {
        total += b->groups[g].n;
    }
    if (total >= NO_LINK) {
        return MDX_EINVAL;
    }
    rc = grow_batch(h, total);
    if (rc != MDX_OK) {
        return rc;
    }
    if (h->devices.count > h->cache_series) {
        mdx_store_nodes_free(&h->devices);
    }
    rc = exec_stmt(h, SQ_BEGIN);
    if (rc != MDX_OK) {
        return rc;
    }
    h->batch_seq++;
    h->batch_series = NULL;
    h->batch_series_tail = &h->batch_series;
    h->batch_devices = NULL;
    mdx_sq_rollup_reset(h);
    h->refused = 0;

    rc = mdx_sq_heads_sync(h, 1);
    if (rc == MDX_OK) {
        rc = devices_sync(h);
    }
    if (rc == MDX_OK) {
        rc = collect_points(h, b);
    }
    for (struct sq_series *s = h->batch_series; s != NULL && rc == MDX_OK; s = s->batch_next) {
        rc = series_apply(h, s, &r);
    }
    for (struct sq_series *s = h->batch_series; s != NULL && rc == MDX_OK; s = s->batch_next) {
        if (s->dirty) {
            rc = chunk_put(h, s->id, &s->head);
        }
    }
    for (size_t i = 0; i < sizeof(after_points) / sizeof(after_points[0]) && rc == MDX_OK; i++) {
        rc = after_points[i](h, b);
    }
    if (rc == MDX_OK) {
        rc = exec_stmt(h, SQ_COMMIT);
    }
    mdx_store_alerts_settle(b, rc == MDX_OK);
    if (rc != MDX_OK) {
        exec_stmt(h, SQ_ROLLBACK);
        mdx_sq_cache_clear(h);
        mdx_sq_rollup_reset(h);
        return rc;
    }
    for (struct sq_series *s = h->batch_series; s != NULL; s = s->batch_next) {
        s->dirty = 0;
        s->dev = NULL;
        mdx_chunk_trim(&s->head, HEAD_SLACK);
        lru_unlink(s);
        lru_push_front(h, s);
    }
    h->batch_series = NULL;
    h->batch_devices = NULL;
    series_evict(h);
    if (res != NULL) {
        *res = r;
    }
    return MDX_OK;
}
