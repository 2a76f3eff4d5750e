/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_cache.c - the plugin's registry cache and its worker thread (see
 * auth_cache.h). Bounded: CACHE_MAX entries in a fixed array (the least
 * recently used entry, unknown names first, is evicted), found by user
 * name through an mdx_htab of BUCKETS > CACHE_MAX buckets, so the table
 * never grows after start; REQ_MAX pending lookups, KICK_MAX queued
 * disconnections. One mutex guards it all; the main thread holds it only
 * for copies, never during store I/O.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "auth_cache.h"
#include "base/htab.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/topic_rules.h"

#define CACHE_MAX 4096
#define BUCKETS 8192          /* > CACHE_MAX: the table never grows */
#define REQ_MAX 64
#define KICK_MAX 256

struct entry {
    struct mdx_hnode node;    /* first: C.table links entries by who.name */
    struct auth_who who;      /* who.name is the key */
    int used;                 /* slot holds an entry (and is in C.table) */
    int64_t used_ms;
    unsigned char ok_sha[32]; /* SHA-256 of the last verified password */
    int64_t ok_until_ms;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* worker: a request, or stop */
    pthread_cond_t done;      /* main thread: an answer */
    pthread_t thread;
    int started, stopping;
    struct auth_cache_conf conf;
    struct entry e[CACHE_MAX];
    struct mdx_htab table;    /* the used entries of e[], by name */
    char req[REQ_MAX][MDX_NAME_MAX + 1];
    int nreq;
    char kick[KICK_MAX][MDX_NAME_MAX + 1];
    int kick_head, nkick;
    struct auth_cache_stats st;
    char (*names)[MDX_NAME_MAX + 1]; /* the worker's snapshot of cached names */
} C;

static int64_t now_ms(void)
{
    return mdx_mono_us() / 1000;
}

static uint64_t name_hash(const char *name)
{
    return mdx_hash_bytes(0, name, strlen(name));
}

/* The entry of 'name', or NULL (lock held). */
static struct entry *find(const char *name)
{
    uint64_t h = name_hash(name);

    for (struct mdx_hnode *n = mdx_htab_bucket(&C.table, h); n != NULL; n = n->next) {
        struct entry *e = (struct entry *)n;
        if (n->hash == h && strcmp(e->who.name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

static void unlink_entry(struct entry *e)
{
    mdx_htab_remove(&C.table, &e->node);
    e->used = 0;
    C.st.entries--;
}

/* A free slot, evicting the least recently used entry (unknown names first). */
static struct entry *slot(void)
{
    struct entry *best = NULL, *best_absent = NULL;

    for (int i = 0; i < CACHE_MAX; i++) {
        struct entry *e = &C.e[i];
        if (!e->used) {
            return e;
        }
        if (e->who.state == AUTH_ABSENT) {
            if (best_absent == NULL || e->used_ms < best_absent->used_ms) {
                best_absent = e;
            }
        } else if (best == NULL || e->used_ms < best->used_ms) {
            best = e;
        }
    }
    best = best_absent != NULL ? best_absent : best;
    unlink_entry(best);
    return best;
}

static struct entry *insert(const char *name)
{
    struct entry *e = slot();

    memset(e, 0, sizeof(*e));
    snprintf(e->who.name, sizeof(e->who.name), "%s", name);
    e->who.state = AUTH_PENDING;
    e->used = 1;
    e->used_ms = now_ms();
    e->node.hash = name_hash(e->who.name);
    mdx_htab_insert(&C.table, &e->node);
    C.st.entries++;
    return e;
}

static int name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    return n > 0 && n <= MDX_NAME_MAX && strpbrk(s, "/+#") == NULL;
}

/* Reads 'name' from the store (no lock held). */
static void fetch(struct mdx_store *st, const char *name, struct auth_who *w)
{
    struct mdx_device_cred cred;
    struct mdx_broker_identity id;
    int rc;

    memset(w, 0, sizeof(*w));
    memcpy(w->name, name, strnlen(name, MDX_NAME_MAX));
    rc = mdx_store_device_cred_get(st, name, &cred);
    if (rc == MDX_OK) {
        w->state = AUTH_DEVICE;
        w->role = MDX_TOPIC_DEVICE;
        w->revoked = cred.revoked_ms != 0;
        w->legacy = cred.legacy_topics;
        snprintf(w->tenant, sizeof(w->tenant), "%s", cred.tenant);
        snprintf(w->secret_hash, sizeof(w->secret_hash), "%s", cred.secret_hash);
        snprintf(w->cert_fp, sizeof(w->cert_fp), "%s", cred.cert_fingerprint);
        return;
    }
    if (rc == MDX_ENOTFOUND) {
        rc = mdx_store_identity_get(st, name, &id);
        if (rc == MDX_OK) {
            w->state = AUTH_IDENTITY;
            w->role = id.kind == MDX_IDENTITY_SERVICE ? MDX_TOPIC_SERVICE : MDX_TOPIC_OPERATOR;
            w->revoked = id.revoked_ms != 0;
            snprintf(w->tenant, sizeof(w->tenant), "%s", id.tenant);
            snprintf(w->secret_hash, sizeof(w->secret_hash), "%s", id.secret_hash);
            return;
        }
    }
    w->state = rc == MDX_ENOTFOUND ? AUTH_ABSENT : AUTH_ERROR;
}

static int valid(const struct auth_who *w)
{
    return (w->state == AUTH_DEVICE || w->state == AUTH_IDENTITY) && !w->revoked;
}

/* Stores a fetched answer (lock held); queues a kick when access was lost. */
static void apply(const struct auth_who *w)
{
    struct entry *e = find(w->name);

    if (e == NULL) {
        return;               /* evicted meanwhile */
    }
    if (w->state == AUTH_ERROR) {
        C.st.store_errors++;
        if (e->who.state != AUTH_PENDING) {
            return;           /* keep what we knew */
        }
    }
    if (valid(&e->who) && !valid(w) && w->state != AUTH_ERROR && C.nkick < KICK_MAX) {
        snprintf(C.kick[(C.kick_head + C.nkick) % KICK_MAX], MDX_NAME_MAX + 1, "%s", w->name);
        C.nkick++;
        C.st.kicks_queued++;
    }
    if (!valid(w) || strcmp(w->secret_hash, e->who.secret_hash) != 0) {
        e->ok_until_ms = 0;
    }
    e->who = *w;
}

static void *worker(void *arg)
{
    struct mdx_store *st = NULL;
    char local[REQ_MAX][MDX_NAME_MAX + 1];
    int64_t next_refresh = 0;

    (void)arg;
    pthread_mutex_lock(&C.mu);
    while (!C.stopping) {
        struct timespec ts;
        int n;

        if (st == NULL) {
            int err = MDX_OK;
            pthread_mutex_unlock(&C.mu);
            st = mdx_store_open(C.conf.store, &err);
            pthread_mutex_lock(&C.mu);
            if (st == NULL) {
                C.st.store_errors++;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += 1;
                pthread_cond_timedwait(&C.wake, &C.mu, &ts);
                continue;
            }
        }
        if (C.nreq == 0 && now_ms() < next_refresh) {
            int64_t wait = next_refresh - now_ms();
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&C.wake, &C.mu, &ts);
            continue;
        }
        n = C.nreq;
        memcpy(local, C.req, sizeof(local[0]) * (size_t)n);
        C.nreq = 0;
        char (*names)[MDX_NAME_MAX + 1] = local;
        if (n == 0) {
            /* Refresh: every cached name, read again. */
            names = C.names;
            for (int i = 0; i < CACHE_MAX; i++) {
                if (C.e[i].used) {
                    memcpy(names[n++], C.e[i].who.name, MDX_NAME_MAX + 1);
                }
            }
            next_refresh = now_ms() + C.conf.refresh_ms;
            C.st.refreshes++;
        }
        pthread_mutex_unlock(&C.mu);
        for (int i = 0; i < n; i++) {
            struct auth_who w;

            fetch(st, names[i], &w);
            pthread_mutex_lock(&C.mu);
            apply(&w);
            pthread_cond_broadcast(&C.done);
            pthread_mutex_unlock(&C.mu);
        }
        pthread_mutex_lock(&C.mu);
        pthread_cond_broadcast(&C.done);
    }
    pthread_mutex_unlock(&C.mu);
    mdx_store_close(st);
    return NULL;
}

int auth_cache_start(const struct auth_cache_conf *conf)
{
    pthread_condattr_t ca;

    memset(&C, 0, sizeof(C));
    C.conf = *conf;
    C.names = mdx_calloc(CACHE_MAX, sizeof(*C.names));
    if (C.names == NULL || mdx_htab_init(&C.table, BUCKETS) != MDX_OK) {
        MDX_FREE(C.names);
        return MDX_ENOMEM;
    }
    pthread_mutex_init(&C.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&C.wake, &ca);
    pthread_cond_init(&C.done, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&C.thread, NULL, worker, NULL) != 0) {
        pthread_cond_destroy(&C.wake);
        pthread_cond_destroy(&C.done);
        pthread_mutex_destroy(&C.mu);
        mdx_htab_fini(&C.table);
        MDX_FREE(C.names);
        return MDX_EIO;
    }
    C.started = 1;
    return MDX_OK;
}

void auth_cache_stop(void)
{
    if (!C.started) {
        return;
    }
    pthread_mutex_lock(&C.mu);
    C.stopping = 1;
    pthread_cond_broadcast(&C.wake);
    pthread_mutex_unlock(&C.mu);
    pthread_join(C.thread, NULL);
    pthread_cond_destroy(&C.wake);
    pthread_cond_destroy(&C.done);
    pthread_mutex_destroy(&C.mu);
    mdx_htab_fini(&C.table);
    MDX_FREE(C.names);
    C.started = 0;
}

int auth_cache_get(const char *name, struct auth_who *out)
{
    struct entry *e;
    struct timespec ts;

    if (!name_ok(name)) {
        return MDX_EINVAL;
    }
    pthread_mutex_lock(&C.mu);
    C.st.lookups++;
    e = find(name);
    if (e == NULL) {
        e = insert(name);
        if (C.nreq < REQ_MAX) {
            snprintf(C.req[C.nreq++], MDX_NAME_MAX + 1, "%s", name);
        }
        pthread_cond_signal(&C.wake);
    }
    if (e->who.state == AUTH_PENDING) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += C.conf.lookup_timeout_ms / 1000;
        ts.tv_nsec += (long)(C.conf.lookup_timeout_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        /* The lock is let go while waiting: find the entry again each time. */
        while ((e = find(name)) != NULL && e->who.state == AUTH_PENDING) {
            if (pthread_cond_timedwait(&C.done, &C.mu, &ts) != 0) {
                C.st.lookup_timeouts++;
                break;
            }
        }
    }
    if (e != NULL && (e = find(name)) != NULL) {
        *out = e->who;
        e->used_ms = now_ms();
    } else {
        memset(out, 0, sizeof(*out));
        snprintf(out->name, sizeof(out->name), "%s", name);
        out->state = AUTH_PENDING;
    }
    pthread_mutex_unlock(&C.mu);
    return MDX_OK;
}

int auth_cache_verified(const char *name, const unsigned char pw_sha[32])
{
    struct entry *e;
    int ok = 0;

    pthread_mutex_lock(&C.mu);
    e = find(name);
    if (e != NULL && valid(&e->who) && e->ok_until_ms > now_ms() &&
        memcmp(e->ok_sha, pw_sha, 32) == 0) {
        ok = 1;
    }
    pthread_mutex_unlock(&C.mu);
    return ok;
}

void auth_cache_set_verified(const char *name, const unsigned char pw_sha[32])
{
    struct entry *e;

    pthread_mutex_lock(&C.mu);
    e = find(name);
    if (e != NULL) {
        memcpy(e->ok_sha, pw_sha, 32);
        e->ok_until_ms = now_ms() + C.conf.verify_cache_ms;
    }
    pthread_mutex_unlock(&C.mu);
}

int auth_cache_next_kick(char *buf, size_t len)
{
    int got = 0;

    pthread_mutex_lock(&C.mu);
    if (C.nkick > 0) {
        snprintf(buf, len, "%s", C.kick[C.kick_head]);
        C.kick_head = (C.kick_head + 1) % KICK_MAX;
        C.nkick--;
        got = 1;
    }
    pthread_mutex_unlock(&C.mu);
    return got;
}

void auth_cache_stats(struct auth_cache_stats *out)
{
    pthread_mutex_lock(&C.mu);
    *out = C.st;
    pthread_mutex_unlock(&C.mu);
}
