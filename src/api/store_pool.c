/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_pool.c - the server threads' store handles (api_int.h): each
 * thread opens its own handle on first use and keeps it in a thread-local;
 * the pool lists them all, to close them when the server stops. A handle
 * whose connection broke is dropped and opened again by the next request.
 *
 * A generation number tells this pool's thread-locals from those a
 * previous server in the same process left on the same threads.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "api/api_int.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "api"
#define STORE_RETRY_MS 1000      /* a thread whose store open failed tries again after this */

struct api_stores {
    const struct mdx_store_conf *conf;
    uint64_t gen;
    pthread_mutex_t mu;
    struct mdx_store **open;      /* every handle opened by a server thread */
    size_t n, max;
};

static atomic_uint_fast64_t next_gen = 1;
static _Thread_local struct mdx_store *tl_store;
static _Thread_local uint64_t tl_gen;
static _Thread_local int64_t tl_retry_ms;

struct api_stores *api_stores_create(const struct mdx_store_conf *conf, size_t max)
{
    struct api_stores *p = mdx_calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    p->open = mdx_calloc(max > 0 ? max : 1, sizeof(*p->open));
    if (p->open == NULL) {
        mdx_free(p);
        return NULL;
    }
    p->conf = conf;
    p->max = max;
    p->gen = atomic_fetch_add(&next_gen, 1);
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

void api_stores_destroy(struct api_stores *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        mdx_store_close(p->open[i]);
    }
    mdx_free(p->open);
    pthread_mutex_destroy(&p->mu);
    mdx_free(p);
}

struct mdx_store *api_stores_get(struct api_stores *p)
{
    struct mdx_store *st;
    int64_t now = mdx_mono_us() / 1000;
    int err = MDX_OK;

    if (tl_gen == p->gen && tl_store != NULL) {
        return tl_store;
    }
    if (tl_gen == p->gen && now < tl_retry_ms) {
        return NULL;
    }
    tl_gen = p->gen;
    tl_store = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n == p->max) {
        pthread_mutex_unlock(&p->mu);
        mdx_log_error(MOD, "too many store handles; not opening another");
        tl_retry_ms = now + STORE_RETRY_MS;
        return NULL;
    }
    pthread_mutex_unlock(&p->mu);
    st = mdx_store_open(p->conf, &err);
    if (st == NULL) {
        mdx_log_warn(MOD, "cannot open the store; requests answer 503 until it is back",
                     MDX_F_ERR(err));
        tl_retry_ms = now + STORE_RETRY_MS;
        return NULL;
    }
    pthread_mutex_lock(&p->mu);
    if (p->n == p->max) { /* other threads filled the list meanwhile */
        pthread_mutex_unlock(&p->mu);
        mdx_store_close(st);
        tl_retry_ms = now + STORE_RETRY_MS;
        return NULL;
    }
    p->open[p->n++] = st;
    pthread_mutex_unlock(&p->mu);
    tl_store = st;
    return st;
}

void api_stores_drop(struct api_stores *p)
{
    struct mdx_store *st = tl_store;

    if (tl_gen != p->gen || st == NULL) {
        return;
    }
    tl_store = NULL;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->n; i++) {
        if (p->open[i] == st) {
            p->open[i] = p->open[--p->n];
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    mdx_store_close(st);
}
