/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert_dispatch.c - hands alert changes to the sinks without ever
 * making the caller wait for one.
 *
 * Each configured sink has one worker thread and a bounded queue keyed by
 * alert identity (tenant, device, source, sensor, opening time) and phase:
 * firing (open or acknowledged) or resolved. A newer state of the same
 * phase replaces the queued one in place, so the queue holds at most two
 * changes per alert, in the order of first arrival: an alert that opens
 * and resolves while its sink is down still reaches the sink as firing,
 * then as resolved (a receiver that first hears of an alert as resolved
 * may never show it). A full queue drops the change, counts it as
 * overflow and logs (the logger folds repeats); a resolve that finds the
 * queue full takes the place of its own queued firing change instead.
 *
 * The worker delivers the head. While the sink answers RETRY the head
 * stays in place and the worker backs off exponentially, from BACKOFF_MIN_MS
 * to alert.sink_retry_max_ms; the queue keeps filling meanwhile. REJECT
 * drops the change and counts it.
 *
 * For sinks that forget alerts (wants_refresh: Alertmanager) the worker
 * also keeps a table of firing alerts (open or acknowledged), ordered by
 * when each is next due, and re-sends each every alert.alertmanager_refresh_s
 * until it is resolved. The table is bounded by alert.sink_queue_max too.
 * A change that overflowed the queue but fits in the table is sent by the
 * next refresh round, at once.
 *
 * Locking: one mutex per sink guards its queue, table and counters; it is
 * never held during a delivery. Only the worker removes queue entries.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "alert/alert_int.h"
#include "base/htab.h"
#include "base/list.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define BACKOFF_MIN_MS 100

const struct mdx_conf_key mdx_sink_conf_keys[] = {
    MDX_CONF_STR("alert.webhook.url", "", struct mdx_sink_conf, webhook_url,
                 "Webhook receiving every alert change as a JSON POST; empty = none"),
    MDX_CONF_SECRET("alert.webhook.secret", struct mdx_sink_conf, webhook_secret,
                    "HMAC-SHA256 key of the X-Modax-Signature header; unset = unsigned"),
    MDX_CONF_STR("alert.alertmanager.url", "", struct mdx_sink_conf, alertmanager_url,
                 "Prometheus Alertmanager base URL, e.g. http://127.0.0.1:9093; empty = none"),
    MDX_CONF_INT("alert.sink_timeout_ms", "5000", 100, 600000, struct mdx_sink_conf, timeout_ms,
                 "Time limit of one delivery attempt to a sink, connect included"),
    MDX_CONF_INT("alert.sink_queue_max", "10000", 1, 1000000, struct mdx_sink_conf, queue_max,
                 "Alert changes queued per sink (and firing alerts re-sent); more are dropped"),
    MDX_CONF_INT("alert.sink_retry_max_ms", "30000", 100, 3600000, struct mdx_sink_conf,
                 retry_max_ms, "Longest back-off between delivery attempts to a failing sink"),
    MDX_CONF_INT("alert.alertmanager_refresh_s", "60", 1, 3600, struct mdx_sink_conf, refresh_s,
                 "Re-post firing alerts to Alertmanager this often (below its resolve_timeout)"),
    MDX_CONF_END
};

static const struct mdx_sink_ops *const sink_kinds[] = {
    &mdx_sink_webhook,      /* JSON POST, HMAC-SHA256 signed */
    &mdx_sink_alertmanager, /* Alertmanager API v2 */
};

#define N_KINDS (sizeof(sink_kinds) / sizeof(sink_kinds[0]))

/* An alert in a queue or in the firing table. */
struct entry {
    struct mdx_hnode node;     /* first: the hash index links it (hash: queue_hash, or
                                  mdx_alert_hash in the firing table) */
    struct mdx_link link;      /* list order: queue order, or next due first */
    uint64_t version; /* queue: changes each time a newer state replaces the alert */
    int64_t due_ms;   /* firing table: monotonic ms of the next re-send */
    struct mdx_alert alert;
};

/* A list with a hash index (the one table, base/htab.h); at most 'max' entries. */
struct table {
    struct mdx_htab index;
    struct mdx_list order;
    size_t n, max;
};

struct sink {
    const struct mdx_sink_ops *ops;
    void *ctx;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct table queue;
    struct table firing;    /* only for wants_refresh */
    uint64_t version_seq;
    int64_t refresh_ms;
    int64_t retry_max_ms;
    int64_t backoff_ms;     /* next back-off */
    int64_t next_try_ms;    /* monotonic; no attempt before this */
    int stopping;
    int64_t deadline_ms;    /* monotonic; when stopping, give up after this */
    int prefer_refresh;     /* alternates queue and refresh work */
    struct mdx_sink_stats st;
};

struct mdx_dispatch {
    struct sink *sinks[N_KINDS];
    size_t n;
};

static int64_t mono_ms(void)
{
    return mdx_mono_us() / 1000;
}

static int table_init(struct table *t, size_t max)
{
    memset(t, 0, sizeof(*t));
    if (mdx_htab_init_for(&t->index, max, (size_t)1 << 20) != MDX_OK) {
        return MDX_ENOMEM;
    }
    t->max = max;
    return MDX_OK;
}

static void table_fini(struct table *t)
{
    struct mdx_link *l = t->order.head, *next;

    for (; l != NULL; l = next) {
        next = l->next;
        mdx_free(MDX_LINK_ENTRY(l, struct entry, link));
    }
    mdx_htab_fini(&t->index);
    t->order.head = t->order.tail = NULL;
    t->n = 0;
}

static struct entry *table_find(const struct table *t, const struct mdx_alert *a, uint64_t h)
{
    for (struct mdx_hnode *n = mdx_htab_bucket(&t->index, h); n != NULL; n = n->next) {
        struct entry *e = (struct entry *)n;
        if (n->hash == h && mdx_alert_same(&e->alert, a)) {
            return e;
        }
    }
    return NULL;
}

static int is_resolved(const struct mdx_alert *a)
{
    return a->state == MDX_ALERT_RESOLVED;
}

/* The queue's key: the alert's identity and its phase (firing or resolved). */
static uint64_t queue_hash(const struct mdx_alert *a)
{
    return mdx_alert_hash(a) ^ (is_resolved(a) ? UINT64_C(0x9e3779b97f4a7c15) : 0);
}

/* The queued change of the alert 'a' in the phase of 'a' (hash 'hq' = queue_hash). */
static struct entry *queue_find(const struct table *t, const struct mdx_alert *a, uint64_t hq)
{
    for (struct mdx_hnode *n = mdx_htab_bucket(&t->index, hq); n != NULL; n = n->next) {
        struct entry *e = (struct entry *)n;
        if (n->hash == hq && is_resolved(&e->alert) == is_resolved(a) &&
            mdx_alert_same(&e->alert, a)) {
            return e;
        }
    }
    return NULL;
}

/* The first entry of 't' in list order, or NULL. */
static struct entry *table_first(const struct table *t)
{
    return MDX_LINK_ENTRY(t->order.head, struct entry, link);
}

/* Adds 'e' (node.hash set) at the end. The caller checked n < max. */
static void table_add(struct table *t, struct entry *e)
{
    mdx_htab_insert(&t->index, &e->node);
    mdx_list_append(&t->order, &e->link);
    t->n++;
}

/* Unlinks 'e' and frees it. */
static void table_del(struct table *t, struct entry *e)
{
    mdx_htab_remove(&t->index, &e->node);
    mdx_list_remove(&t->order, &e->link);
    t->n--;
    mdx_free(e);
}

/*
 * Moves 'e' in the firing table, which stays ordered by due time: 'asap'
 * puts it first, due now; otherwise it goes last, due after a full
 * refresh interval, which no other entry is later than.
 */
static void firing_reschedule(struct sink *s, struct entry *e, int asap)
{
    int64_t now = mono_ms();

    mdx_list_remove(&s->firing.order, &e->link);
    if (asap) {
        struct entry *h = table_first(&s->firing);
        e->due_ms = h != NULL && h->due_ms < now ? h->due_ms : now;
        mdx_list_push_front(&s->firing.order, &e->link);
    } else {
        e->due_ms = now + s->refresh_ms;
        mdx_list_append(&s->firing.order, &e->link);
    }
}

/* Records the alert's state in the firing table. Called with s->mu held. */
static void firing_update(struct sink *s, const struct mdx_alert *a, uint64_t h, int queued)
{
    struct entry *e = table_find(&s->firing, a, h);

    if (a->state == MDX_ALERT_RESOLVED) {
        if (e != NULL) {
            table_del(&s->firing, e);
        }
        return;
    }
    if (e != NULL) {
        e->alert = *a;
        if (!queued) {
            firing_reschedule(s, e, 1); /* the queue lost it: send it with the next round */
        }
        return;
    }
    if (s->firing.n >= s->firing.max || (e = mdx_calloc(1, sizeof(*e))) == NULL) {
        s->st.overflow++;
        mdx_log_warn("alert", "firing alert table full; alert not refreshed",
                     MDX_F_STR("sink", s->ops->name), MDX_F_STR("tenant", a->tenant),
                     MDX_F_STR("device", a->device), MDX_F_INT("max", s->firing.max));
        return;
    }
    e->node.hash = h;
    e->alert = *a;
    table_add(&s->firing, e);
    firing_reschedule(s, e, !queued);
}

/* Queues 'a' for one sink. Called with s->mu held; returns 1 if queued. */
static int queue_put(struct sink *s, const struct mdx_alert *a)
{
    uint64_t hq = queue_hash(a);
    struct entry *e = queue_find(&s->queue, a, hq);

    if (e == NULL && s->queue.n >= s->queue.max && is_resolved(a)) {
        struct mdx_alert firing = *a;
        firing.state = MDX_ALERT_OPEN;
        e = queue_find(&s->queue, &firing, queue_hash(&firing));
        if (e != NULL) { /* full: the resolve replaces its firing change, re-keyed */
            mdx_htab_remove(&s->queue.index, &e->node);
            e->node.hash = hq;
            mdx_htab_insert(&s->queue.index, &e->node);
        }
    }
    if (e != NULL) {
        e->alert = *a; /* a newer state replaces the queued one, keeping its place */
        e->version = ++s->version_seq;
        return 1;
    }
    if (s->queue.n >= s->queue.max || (e = mdx_calloc(1, sizeof(*e))) == NULL) {
        s->st.overflow++;
        mdx_log_warn("alert", "sink queue full; alert change dropped",
                     MDX_F_STR("sink", s->ops->name), MDX_F_STR("tenant", a->tenant),
                     MDX_F_STR("device", a->device), MDX_F_STR("state",
                     mdx_alert_state_name(a->state)), MDX_F_INT("overflow", s->st.overflow));
        return 0;
    }
    e->node.hash = hq;
    e->alert = *a;
    e->version = ++s->version_seq;
    table_add(&s->queue, e);
    return 1;
}

void mdx_dispatch_submit(struct mdx_dispatch *d, const struct mdx_alert *alert)
{
    uint64_t h;

    if (d == NULL || alert == NULL) {
        return;
    }
    h = mdx_alert_hash(alert);
    for (size_t i = 0; i < d->n; i++) {
        struct sink *s = d->sinks[i];
        int queued;

        pthread_mutex_lock(&s->mu);
        if (!s->stopping) {
            queued = queue_put(s, alert);
            if (s->ops->wants_refresh) {
                firing_update(s, alert, h, queued);
            }
            pthread_cond_signal(&s->cond);
        }
        pthread_mutex_unlock(&s->mu);
    }
}

/* Waits on s->cond until monotonic 'until_ms' (INT64_MAX: no limit) or a signal. */
static void wait_until(struct sink *s, int64_t until_ms)
{
    struct timespec ts;

    if (until_ms == INT64_MAX) {
        pthread_cond_wait(&s->cond, &s->mu);
        return;
    }
    ts.tv_sec = (time_t)(until_ms / 1000);
    ts.tv_nsec = (long)(until_ms % 1000) * 1000000L;
    pthread_cond_timedwait(&s->cond, &s->mu, &ts);
}

/* Books the outcome of one attempt. Called with s->mu held. */
static void settle(struct sink *s, const struct mdx_alert *a, uint64_t version, int refresh,
                   enum mdx_sink_verdict v, const char *why)
{
    uint64_t h = mdx_alert_hash(a);
    struct entry *q = refresh ? NULL : queue_find(&s->queue, a, queue_hash(a));
    struct entry *f = s->ops->wants_refresh ? table_find(&s->firing, a, h) : NULL;
    int64_t now = mono_ms();
    int sent = q != NULL && q->version == version; /* not replaced while it was out */

    if (v == MDX_SINK_RETRY) {
        s->st.retries++;
        s->next_try_ms = now + s->backoff_ms;
        mdx_log_warn("alert", "sink delivery failed; retrying", MDX_F_STR("sink", s->ops->name),
                     MDX_F_STR("tenant", a->tenant), MDX_F_STR("device", a->device),
                     MDX_F_STR("reason", why), MDX_F_INT("backoff_ms", s->backoff_ms));
        s->backoff_ms = s->backoff_ms * 2 < s->retry_max_ms ? s->backoff_ms * 2 : s->retry_max_ms;
        if (refresh && f != NULL) {
            firing_reschedule(s, f, 1); /* still due: first in line after the back-off */
        }
        return;
    }
    s->backoff_ms = BACKOFF_MIN_MS < s->retry_max_ms ? BACKOFF_MIN_MS : s->retry_max_ms;
    s->next_try_ms = 0;
    if (v == MDX_SINK_DONE) {
        s->st.delivered++;
    } else {
        s->st.rejected++;
        mdx_log_warn("alert", "sink refused alert change; dropped",
                     MDX_F_STR("sink", s->ops->name), MDX_F_STR("tenant", a->tenant),
                     MDX_F_STR("device", a->device), MDX_F_STR("reason", why));
    }
    /* Only the worker removes queue entries, so 'q' is the one it sent, or a newer state. */
    if (sent) {
        table_del(&s->queue, q);
    }
    if (f != NULL) {
        firing_reschedule(s, f, 0); /* sent (or refused) now: next due a full interval later */
    }
}

static void *worker(void *arg)
{
    struct sink *s = arg;
    struct mdx_alert cur;
    const char *why;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        int64_t now = mono_ms(), wake = INT64_MAX;
        struct entry *q = table_first(&s->queue);
        struct entry *f = s->stopping ? NULL : table_first(&s->firing);
        struct entry *e = NULL;
        int refresh = 0;

        if (s->stopping && (q == NULL || now >= s->deadline_ms)) {
            break;
        }
        if (f != NULL && f->due_ms > now) {
            wake = f->due_ms;
            f = NULL;
        }
        if (now < s->next_try_ms) {
            wake = s->next_try_ms;
        } else if (q != NULL && (f == NULL || !s->prefer_refresh)) {
            e = q;
        } else if (f != NULL) {
            e = f;
            refresh = 1;
        }
        if (e == NULL) {
            if (s->stopping && wake > s->deadline_ms) {
                wake = s->deadline_ms;
            }
            wait_until(s, wake);
            continue;
        }
        s->prefer_refresh = !refresh;
        cur = e->alert;
        uint64_t version = e->version;
        pthread_mutex_unlock(&s->mu);

        why = "";
        enum mdx_sink_verdict v = s->ops->deliver(s->ctx, &cur, &why);

        pthread_mutex_lock(&s->mu);
        settle(s, &cur, version, refresh, v, why != NULL ? why : "");
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void sink_free(struct sink *s)
{
    if (s == NULL) {
        return;
    }
    if (s->queue.n > 0) {
        mdx_log_warn("alert", "sink stopped with undelivered alert changes",
                     MDX_F_STR("sink", s->ops->name), MDX_F_INT("dropped", s->queue.n));
    }
    table_fini(&s->queue);
    table_fini(&s->firing);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    s->ops->destroy(s->ctx);
    mdx_free(s);
}

/* A sink of kind 'ops' around 'ctx' (owned from here on, also on failure). */
static struct sink *sink_new(const struct mdx_sink_ops *ops, void *ctx,
                             const struct mdx_sink_conf *conf)
{
    struct sink *s = mdx_calloc(1, sizeof(*s));
    pthread_condattr_t ca;

    if (s == NULL) {
        ops->destroy(ctx);
        return NULL;
    }
    s->ops = ops;
    s->ctx = ctx;
    s->st.name = ops->name;
    s->refresh_ms = (conf->refresh_s > 0 ? conf->refresh_s : 60) * 1000;
    s->retry_max_ms = conf->retry_max_ms > 0 ? conf->retry_max_ms : 30000;
    s->backoff_ms = BACKOFF_MIN_MS < s->retry_max_ms ? BACKOFF_MIN_MS : s->retry_max_ms;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* mdx_mono_us() is CLOCK_MONOTONIC */
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    size_t max = conf->queue_max > 0 ? (size_t)conf->queue_max : 10000;
    if (table_init(&s->queue, max) != MDX_OK ||
        (ops->wants_refresh && table_init(&s->firing, max) != MDX_OK)) {
        sink_free(s);
        return NULL;
    }
    return s;
}

struct mdx_dispatch *mdx_dispatch_create(const struct mdx_sink_conf *conf, int *err)
{
    struct mdx_dispatch *d = mdx_calloc(1, sizeof(*d));

    *err = MDX_OK;
    if (d == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    for (size_t k = 0; k < N_KINDS; k++) {
        void *ctx = sink_kinds[k]->create(conf, err);
        if (ctx == NULL) {
            if (*err != MDX_OK) {
                goto fail;
            }
            continue; /* not configured */
        }
        struct sink *s = sink_new(sink_kinds[k], ctx, conf);
        if (s == NULL) {
            *err = MDX_ENOMEM;
            goto fail;
        }
        d->sinks[d->n++] = s;
        if (pthread_create(&s->thread, NULL, worker, s) != 0) {
            *err = MDX_ENOMEM;
            goto fail;
        }
        s->started = 1;
        mdx_log_info("alert", "alert sink started", MDX_F_STR("sink", s->ops->name),
                     MDX_F_INT("queue_max", s->queue.max));
    }
    return d;

fail:
    mdx_dispatch_destroy(d, 0);
    return NULL;
}

void mdx_dispatch_destroy(struct mdx_dispatch *d, int64_t drain_ms)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->n; i++) {
        struct sink *s = d->sinks[i];
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        s->deadline_ms = mono_ms() + (drain_ms > 0 ? drain_ms : 0);
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->mu);
    }
    /* All sinks drain in parallel; an attempt under way may pass the deadline by its timeout. */
    for (size_t i = 0; i < d->n; i++) {
        if (d->sinks[i]->started) {
            pthread_join(d->sinks[i]->thread, NULL);
        }
        sink_free(d->sinks[i]);
    }
    mdx_free(d);
}

size_t mdx_dispatch_stats(struct mdx_dispatch *d, struct mdx_sink_stats *out, size_t max)
{
    if (d == NULL) {
        return 0;
    }
    for (size_t i = 0; i < d->n && i < max; i++) {
        struct sink *s = d->sinks[i];
        pthread_mutex_lock(&s->mu);
        out[i] = s->st;
        out[i].queued = s->queue.n;
        pthread_mutex_unlock(&s->mu);
    }
    return d->n;
}
