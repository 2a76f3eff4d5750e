/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert_manager.c - the lifecycle of alerts: open -> acknowledged ->
 * resolved, at most one active alert per (tenant, device, source, sensor).
 *
 * One table holds the active alerts and, for flap_ms of point time, the
 * resolved ones. Raising a key that was resolved less than flap_ms ago
 * re-opens that same alert (same id and opening time, state open again)
 * instead of creating a new one: a condition that comes and goes gives one
 * alert that is open while it is bad, not a new alert each time. The table
 * is bounded; when it is full, resolved alerts are forgotten first, and a
 * raise that still does not fit is counted as overflow and logged.
 *
 * Every state change marks the alert changed; the store writer takes the
 * changed alerts into its batch (mdx_alert_mgr_take), so an alert change
 * commits with the points that caused it. Operators acknowledge and
 * resolve through the CLI, in another process, straight in the store;
 * mdx_alert_mgr_sync() takes those over every few seconds.
 */
#include <stdio.h>
#include <string.h>

#include "alert/alerting_int.h"
#include "base/htab.h"
#include "base/list.h"
#include "modax/alloc.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "alert"
#define NOT_NORMAL INT64_MIN

struct entry {
    struct mdx_hnode node;        /* first member: a node pointer is the entry */
    struct mdx_link changes;      /* in the list of changed alerts, oldest change first */
    int64_t normal_since;         /* point time the condition became normal; NOT_NORMAL */
    int64_t last_ms;              /* newest point time seen for it */
    uint32_t epoch;               /* sync round that saw it in the store */
    int changed;
    struct mdx_alert a;
};

struct mdx_alert_mgr {
    struct mdx_htab t;            /* struct entry by alert key */
    size_t n, max;
    struct mdx_list changed;      /* struct entry by 'changes' */
    size_t n_changed;
    int64_t auto_resolve_ms, flap_ms;
    int64_t clock_ms;             /* newest point time seen (for forgetting resolved alerts) */
    uint32_t epoch;
    int full;                     /* a sweep freed nothing; skip sweeps until something resolves */
    struct mdx_alert_mgr_stats st;
};

static uint64_t key_hash(const struct mdx_alert_key *k)
{
    /* Each name's NUL separates it from the next ("ab"+"c" is not "a"+"bc"). */
    uint64_t h = mdx_hash_bytes(0, k->tenant, strlen(k->tenant) + 1);

    h = mdx_hash_bytes(h, k->device, strlen(k->device) + 1);
    h = mdx_hash_bytes(h, k->source, strlen(k->source) + 1);
    return mdx_hash_bytes(h, k->sensor, strlen(k->sensor));
}

typedef int (*entry_fn)(struct mdx_alert_mgr *m, struct entry *e, void *arg);

/*
 * Calls fn for every entry until it returns other than MDX_OK, and returns
 * that. fn may unlink (and free) the entry it is given. Walks the buckets
 * (public in htab.h), of which there are about as many as entries allowed.
 */
static int for_each_entry(struct mdx_alert_mgr *m, entry_fn fn, void *arg)
{
    for (size_t i = 0; i <= m->t.mask; i++) {
        struct mdx_hnode *n = m->t.b[i], *next;
        for (; n != NULL; n = next) {
            int rc;
            next = n->next;
            rc = fn(m, (struct entry *)n, arg);
            if (rc != MDX_OK) {
                return rc;
            }
        }
    }
    return MDX_OK;
}

static int key_is(const struct entry *e, const struct mdx_alert_key *k)
{
    return strcmp(e->a.device, k->device) == 0 && strcmp(e->a.source, k->source) == 0 &&
           strcmp(e->a.sensor, k->sensor) == 0 && strcmp(e->a.tenant, k->tenant) == 0;
}

static int is_active(const struct mdx_alert *a)
{
    return a->state == MDX_ALERT_OPEN || a->state == MDX_ALERT_ACKNOWLEDGED;
}

struct mdx_alert_mgr *mdx_alert_mgr_create(size_t max, int64_t auto_resolve_ms, int64_t flap_ms)
{
    struct mdx_alert_mgr *m = mdx_calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    if (mdx_htab_init_for(&m->t, max, (size_t)1 << 22) != MDX_OK) {
        mdx_free(m);
        return NULL;
    }
    m->max = max > 0 ? max : 1;
    m->auto_resolve_ms = auto_resolve_ms;
    m->flap_ms = flap_ms;
    m->clock_ms = INT64_MIN;
    return m;
}

static int free_entry(struct mdx_alert_mgr *m, struct entry *e, void *arg)
{
    (void)m;
    (void)arg;
    mdx_free(e);
    return MDX_OK;
}

void mdx_alert_mgr_destroy(struct mdx_alert_mgr *m)
{
    if (m == NULL) {
        return;
    }
    for_each_entry(m, free_entry, NULL);
    mdx_htab_fini(&m->t);
    mdx_free(m);
}

static struct entry *find(const struct mdx_alert_mgr *m, const struct mdx_alert_key *k,
                          uint64_t h)
{
    for (struct mdx_hnode *n = mdx_htab_bucket(&m->t, h); n != NULL; n = n->next) {
        struct entry *e = (struct entry *)n;
        if (n->hash == h && key_is(e, k)) {
            return e;
        }
    }
    return NULL;
}

/* A new entry for 'h' in the table (its alert still to be set); NULL when out of memory. */
static struct entry *add_entry(struct mdx_alert_mgr *m, uint64_t h)
{
    struct entry *e = mdx_calloc(1, sizeof(*e));

    if (e == NULL) {
        return NULL;
    }
    e->node.hash = h;
    mdx_htab_insert(&m->t, &e->node);
    m->n++;
    return e;
}

static void mark_changed(struct mdx_alert_mgr *m, struct entry *e)
{
    if (e->changed) {
        return;
    }
    e->changed = 1;
    mdx_list_append(&m->changed, &e->changes);
    m->n_changed++;
}

static void unmark_changed(struct mdx_alert_mgr *m, struct entry *e)
{
    if (!e->changed) {
        return;
    }
    mdx_list_remove(&m->changed, &e->changes);
    e->changed = 0;
    m->n_changed--;
}

static void unlink_entry(struct mdx_alert_mgr *m, struct entry *e)
{
    mdx_htab_remove(&m->t, &e->node);
    unmark_changed(m, e);
    m->n--;
    mdx_free(e);
}

struct forget_ctx {
    int all;
    size_t freed;
};

static int forget_one(struct mdx_alert_mgr *m, struct entry *e, void *arg)
{
    struct forget_ctx *c = arg;

    if (e->a.state == MDX_ALERT_RESOLVED && !e->changed &&
        (c->all || m->clock_ms - e->a.resolved_ms >= m->flap_ms)) {
        unlink_entry(m, e);
        c->freed++;
    }
    return MDX_OK;
}

/*
 * Forgets resolved alerts whose changes are stored: those past the flap
 * window ('all': every one, the table being full). Returns how many.
 */
static size_t forget_resolved(struct mdx_alert_mgr *m, int all)
{
    struct forget_ctx c = {all, 0};

    for_each_entry(m, forget_one, &c);
    return c.freed;
}

static void tick_clock(struct mdx_alert_mgr *m, int64_t ts_ms)
{
    if (ts_ms > m->clock_ms) {
        m->clock_ms = ts_ms;
    }
}

/* Moves the clock on to 'ts_ms'; the active alert of 'k', or NULL when it has none. */
static struct entry *find_active(struct mdx_alert_mgr *m, const struct mdx_alert_key *k,
                                 int64_t ts_ms)
{
    struct entry *e = find(m, k, key_hash(k));

    tick_clock(m, ts_ms);
    return e != NULL && is_active(&e->a) ? e : NULL;
}

static void set_key(struct mdx_alert *a, const struct mdx_alert_key *k)
{
    snprintf(a->tenant, sizeof(a->tenant), "%s", k->tenant);
    snprintf(a->device, sizeof(a->device), "%s", k->device);
    snprintf(a->source, sizeof(a->source), "%s", k->source);
    snprintf(a->sensor, sizeof(a->sensor), "%s", k->sensor);
}

int mdx_alert_mgr_raise(struct mdx_alert_mgr *m, const struct mdx_alert_key *k, int severity,
                        int64_t ts_ms, double value, double score, const char *summary)
{
    uint64_t h = key_hash(k);
    struct entry *e = find(m, k, h);

    tick_clock(m, ts_ms);
    if (e != NULL && is_active(&e->a)) {
        e->normal_since = NOT_NORMAL;
        if (ts_ms > e->last_ms) {
            e->last_ms = ts_ms;
        }
        return 1;
    }
    if (e != NULL && (e->changed || ts_ms - e->a.resolved_ms < m->flap_ms)) {
        /*
         * Flap suppression: the same alert is open again, not a new one.
         * (Also when its resolve is not stored yet: one entry holds one state.)
         */
        e->a.state = MDX_ALERT_OPEN;
        e->a.resolved_ms = 0;
        e->a.updated_ms = ts_ms;
        e->a.value = value;
        e->a.score = score;
        e->a.severity = severity > e->a.severity ? severity : e->a.severity;
        if (summary != NULL) {
            snprintf(e->a.summary, sizeof(e->a.summary), "%s", summary);
        }
        e->normal_since = NOT_NORMAL;
        e->last_ms = ts_ms;
        mark_changed(m, e);
        m->st.reopened++;
        m->st.active++;
        return 1;
    }
    if (e == NULL && m->n >= m->max) {
        if (!m->full && forget_resolved(m, 0) == 0 && forget_resolved(m, 1) == 0) {
            m->full = 1;
        }
        if (m->n >= m->max) {
            m->st.overflow++;
            mdx_log_warn(MOD, "alert table full; alert not raised (alert.alerts_max)",
                         MDX_F_STR("tenant", k->tenant), MDX_F_STR("device", k->device),
                         MDX_F_STR("source", k->source), MDX_F_INT("max", m->max));
            return 0;
        }
    }
    if (e == NULL) {
        e = add_entry(m, h);
        if (e == NULL) {
            m->st.overflow++;
            return 0;
        }
    }
    memset(&e->a, 0, sizeof(e->a));
    set_key(&e->a, k);
    e->a.severity = severity;
    e->a.state = MDX_ALERT_OPEN;
    e->a.opened_ms = ts_ms;
    e->a.updated_ms = ts_ms;
    e->a.value = value;
    e->a.score = score;
    snprintf(e->a.summary, sizeof(e->a.summary), "%s", summary != NULL ? summary : "");
    e->normal_since = NOT_NORMAL;
    e->last_ms = ts_ms;
    mark_changed(m, e);
    m->st.opened++;
    m->st.active++;
    mdx_log_info(MOD, "alert opened", MDX_F_STR("tenant", k->tenant),
                 MDX_F_STR("device", k->device), MDX_F_STR("source", k->source),
                 MDX_F_STR("sensor", k->sensor), MDX_F_STR("severity", mdx_severity_name(severity)),
                 MDX_F_STR("summary", e->a.summary));
    return 1;
}

int mdx_alert_mgr_hold(struct mdx_alert_mgr *m, const struct mdx_alert_key *k, int64_t ts_ms)
{
    struct entry *e = find_active(m, k, ts_ms);

    if (e == NULL) {
        return 0;
    }
    e->normal_since = NOT_NORMAL;
    if (ts_ms > e->last_ms) {
        e->last_ms = ts_ms;
    }
    return 1;
}

static void resolve(struct mdx_alert_mgr *m, struct entry *e, int64_t ts_ms, const char *summary)
{
    /* Point time can go backwards; a resolve never predates the opening. */
    int64_t at = ts_ms > e->a.opened_ms ? ts_ms : e->a.opened_ms;

    e->a.state = MDX_ALERT_RESOLVED;
    e->a.resolved_ms = at;
    e->a.updated_ms = at;
    if (summary != NULL) {
        snprintf(e->a.summary, sizeof(e->a.summary), "%s", summary);
    }
    e->normal_since = NOT_NORMAL;
    mark_changed(m, e);
    m->st.resolved++;
    m->st.active--;
    m->full = 0;
    mdx_log_info(MOD, "alert resolved", MDX_F_STR("tenant", e->a.tenant),
                 MDX_F_STR("device", e->a.device), MDX_F_STR("source", e->a.source),
                 MDX_F_STR("sensor", e->a.sensor), MDX_F_INT("id", e->a.id));
}

int mdx_alert_mgr_normal(struct mdx_alert_mgr *m, const struct mdx_alert_key *k, int64_t ts_ms)
{
    struct entry *e = find_active(m, k, ts_ms);

    if (e == NULL) {
        return 0;
    }
    if (e->normal_since == NOT_NORMAL || ts_ms < e->normal_since) {
        e->normal_since = ts_ms;
    }
    if (ts_ms > e->last_ms) {
        e->last_ms = ts_ms;
    }
    if (ts_ms - e->normal_since >= m->auto_resolve_ms) {
        resolve(m, e, ts_ms, NULL);
        return 0;
    }
    return 1;
}

int mdx_alert_mgr_resolve(struct mdx_alert_mgr *m, const struct mdx_alert_key *k, int64_t ts_ms,
                          const char *summary)
{
    struct entry *e = find_active(m, k, ts_ms);

    if (e == NULL) {
        return 0;
    }
    resolve(m, e, ts_ms, summary);
    return 1;
}

int mdx_alert_mgr_active(const struct mdx_alert_mgr *m, const struct mdx_alert_key *k)
{
    const struct entry *e = find(m, k, key_hash(k));

    return e != NULL && is_active(&e->a);
}

const struct mdx_alert *mdx_alert_mgr_get(const struct mdx_alert_mgr *m,
                                          const struct mdx_alert_key *k)
{
    const struct entry *e = find(m, k, key_hash(k));

    return e != NULL ? &e->a : NULL;
}

size_t mdx_alert_mgr_pending(const struct mdx_alert_mgr *m)
{
    return m->n_changed;
}

size_t mdx_alert_mgr_take(struct mdx_alert_mgr *m, struct mdx_alert *out, size_t max)
{
    size_t n = 0;

    while (n < max && m->changed.head != NULL) {
        struct entry *e = MDX_LINK_ENTRY(m->changed.head, struct entry, changes);
        out[n++] = e->a;
        unmark_changed(m, e);
    }
    return n;
}

void mdx_alert_mgr_stored(struct mdx_alert_mgr *m, const struct mdx_alert *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct mdx_alert_key k = {v[i].tenant, v[i].device, v[i].source, v[i].sensor};
        struct entry *e = find(m, &k, key_hash(&k));

        if (e != NULL && e->a.id == 0 && e->a.opened_ms == v[i].opened_ms) {
            e->a.id = v[i].id;
        }
    }
}

struct sync_ctx {
    struct mdx_alert_mgr *m;
    mdx_alert_notify_fn fn;
    void *arg;
    size_t adopted;
    struct mdx_store *st;
};

/* One active alert of the store. */
static int sync_one(void *arg, const struct mdx_alert *a)
{
    struct sync_ctx *c = arg;
    struct mdx_alert_mgr *m = c->m;
    struct mdx_alert_key k = {a->tenant, a->device, a->source, a->sensor};
    uint64_t h = key_hash(&k);
    struct entry *e = find(m, &k, h);

    if (e == NULL) {
        /* Active in the store, unknown here: ours from before a restart, or another worker's. */
        if (m->n >= m->max) {
            return MDX_OK;
        }
        e = add_entry(m, h);
        if (e == NULL) {
            return MDX_ENOMEM;
        }
        e->a = *a;
        e->normal_since = NOT_NORMAL;
        e->last_ms = a->updated_ms;
        e->epoch = m->epoch;
        m->st.active++;
        c->adopted++;
        return MDX_OK;
    }
    e->epoch = m->epoch;
    if (e->changed || e->a.id != a->id) {
        return MDX_OK; /* our newer state is on its way to the store */
    }
    if (e->a.state != a->state && is_active(&e->a)) {
        e->a.state = a->state; /* acknowledged (or un-acknowledged) by an operator */
        e->a.updated_ms = a->updated_ms;
        if (c->fn != NULL) {
            c->fn(c->arg, &e->a);
        }
    }
    return MDX_OK;
}

/* One alert of ours the store's active list did not have: resolved (or deleted) there? */
static int sync_missing(struct mdx_alert_mgr *m, struct entry *e, void *arg)
{
    struct sync_ctx *c = arg;
    struct mdx_alert got;
    int rc;

    if (e->epoch == m->epoch || e->changed || e->a.id == 0 || !is_active(&e->a)) {
        return MDX_OK;
    }
    rc = mdx_store_alert_get(c->st, e->a.tenant, e->a.id, &got);
    if (rc == MDX_ENOTFOUND) {
        got = e->a; /* deleted there: forget it as resolved */
        got.state = MDX_ALERT_RESOLVED;
        got.resolved_ms = m->clock_ms > got.opened_ms ? m->clock_ms : got.opened_ms;
    } else if (rc != MDX_OK) {
        return rc;
    }
    if (got.state == MDX_ALERT_RESOLVED) {
        e->a.state = MDX_ALERT_RESOLVED;
        e->a.resolved_ms = got.resolved_ms;
        e->a.updated_ms = got.updated_ms;
        e->normal_since = NOT_NORMAL;
        m->st.resolved++;
        m->st.active--;
        m->full = 0;
        if (c->fn != NULL) {
            c->fn(c->arg, &e->a);
        }
    }
    return MDX_OK;
}

int mdx_alert_mgr_sync(struct mdx_alert_mgr *m, struct mdx_store *st, mdx_alert_notify_fn fn,
                       void *arg)
{
    struct mdx_alert_filter f = {NULL, NULL, MDX_ALERT_ACTIVE, -1, 0};
    struct sync_ctx c = {m, fn, arg, 0, st};
    int rc;

    m->epoch++;
    rc = mdx_store_alert_list(st, &f, sync_one, &c);
    if (rc != MDX_OK) {
        return rc;
    }
    if (c.adopted > 0) {
        mdx_log_info(MOD, "active alerts taken over from the store", MDX_F_INT("n", c.adopted));
    }
    /* Stored, active here, not active there: resolved by an operator. */
    rc = for_each_entry(m, sync_missing, &c);
    if (rc != MDX_OK) {
        return rc;
    }
    forget_resolved(m, 0);
    return MDX_OK;
}

void mdx_alert_mgr_stats(const struct mdx_alert_mgr *m, struct mdx_alert_mgr_stats *out)
{
    *out = m->st;
    out->tracked = m->n;
}
