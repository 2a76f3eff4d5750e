/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_remote.c - rul.endpoint requests on a thread of their own (see
 * rul_remote.h): the stage builds a job, the thread sends its batches,
 * the stage collects the answers at a later tick.
 *
 * States: IDLE (free; a job may be built), BUILDING (batches being added
 * by the stage), OUT (the thread owns the job), DONE (answers wait for
 * collect). Only the stage moves IDLE -> BUILDING -> OUT and DONE -> IDLE;
 * only the thread moves OUT -> DONE. One mutex guards the state and the
 * job pointer; no request is made while it is held.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/thread_stop.h"
#include "modax/alloc.h"
#include "modax/status.h"
#include "rul/rul_endpoint_auth.h"
#include "rul/rul_remote.h"

enum state { IDLE, BUILDING, OUT, DONE };

struct mdx_rul_remote {
    const char *url;
    int64_t timeout_ms;
    struct mdx_rul_auth *auth;   /* owned; used by the thread only */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    enum state state;
    int stopping;
    struct mdx_rul_remote_job *job;
};

void mdx_rul_remote_job_free(struct mdx_rul_remote_job *j)
{
    if (j == NULL) {
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        mdx_free(j->b[i].features);
        mdx_free(j->b[i].rul);
        mdx_free(j->b[i].tags);
    }
    mdx_free(j);
}

static void *remote_main(void *arg)
{
    struct mdx_rul_remote *c = arg;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stopping && c->state != OUT) {
            pthread_cond_wait(&c->cond, &c->mu);
        }
        if (c->stopping) {
            break;
        }
        struct mdx_rul_remote_job *j = c->job;
        pthread_mutex_unlock(&c->mu);
        for (size_t i = 0; i < j->n; i++) {
            struct mdx_rul_remote_batch *b = &j->b[i];

            b->rc = mdx_rul_endpoint_predict(c->url, c->auth, c->timeout_ms, b->features, b->n,
                                             b->nf, b->cap, b->rul, b->why, sizeof(b->why));
            if (b->rc == MDX_EDENIED) {
                mdx_rul_auth_refused(c->auth);
            }
        }
        pthread_mutex_lock(&c->mu);
        c->state = DONE;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

struct mdx_rul_remote *mdx_rul_remote_create(const char *url, struct mdx_rul_auth *auth,
                                             int64_t timeout_ms, int *err)
{
    struct mdx_rul_remote *c = mdx_calloc(1, sizeof(*c));

    *err = MDX_ENOMEM;
    if (c == NULL) {
        mdx_rul_auth_destroy(auth);
        return NULL;
    }
    c->url = url;
    c->auth = auth;
    c->timeout_ms = timeout_ms;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (pthread_create(&c->thread, NULL, remote_main, c) != 0) {
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->mu);
        mdx_rul_auth_destroy(auth);
        mdx_free(c);
        *err = MDX_EIO;
        return NULL;
    }
    *err = MDX_OK;
    return c;
}

void mdx_rul_remote_destroy(struct mdx_rul_remote *c)
{
    if (c == NULL) {
        return;
    }
    /* a request in flight ends within its timeout */
    mdx_thread_stop(&c->mu, &c->cond, &c->stopping, c->thread);
    mdx_rul_remote_job_free(c->job);
    mdx_rul_auth_destroy(c->auth);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    mdx_free(c);
}

int mdx_rul_remote_add(struct mdx_rul_remote *c, const char *version, const float *features,
                       size_t n, size_t nf, double cap, void *const *tags)
{
    struct mdx_rul_remote_batch *b;
    int rc = MDX_OK;

    pthread_mutex_lock(&c->mu);
    if (c->state == IDLE) {
        c->job = mdx_calloc(1, sizeof(*c->job));
        if (c->job == NULL) {
            rc = MDX_ENOMEM;
            goto out;
        }
        c->state = BUILDING;
    }
    if (c->state != BUILDING) {
        rc = MDX_EAGAIN;
        goto out;
    }
    if (c->job->n >= MDX_RUL_REMOTE_BATCHES) {
        rc = MDX_EFULL;
        goto out;
    }
    b = &c->job->b[c->job->n];
    memset(b, 0, sizeof(*b));
    b->features = mdx_malloc(n * nf * sizeof(float) + 1);
    b->rul = mdx_calloc(n + 1, sizeof(float));
    b->tags = mdx_malloc(n * sizeof(void *) + 1);
    if (b->features == NULL || b->rul == NULL || b->tags == NULL) {
        mdx_free(b->features);
        mdx_free(b->rul);
        mdx_free(b->tags);
        rc = MDX_ENOMEM;
        goto out;
    }
    memcpy(b->features, features, n * nf * sizeof(float));
    memcpy(b->tags, tags, n * sizeof(void *));
    snprintf(b->version, sizeof(b->version), "%s", version);
    b->n = n;
    b->nf = nf;
    b->cap = cap;
    c->job->n++;
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void mdx_rul_remote_submit(struct mdx_rul_remote *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->state == BUILDING) {
        if (c->job->n > 0) {
            c->state = OUT;
            pthread_cond_signal(&c->cond);
        } else {
            mdx_rul_remote_job_free(c->job);
            c->job = NULL;
            c->state = IDLE;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

int mdx_rul_remote_busy(struct mdx_rul_remote *c)
{
    int busy;

    pthread_mutex_lock(&c->mu);
    busy = c->state != IDLE;
    pthread_mutex_unlock(&c->mu);
    return busy;
}

struct mdx_rul_remote_job *mdx_rul_remote_collect(struct mdx_rul_remote *c)
{
    struct mdx_rul_remote_job *j = NULL;

    pthread_mutex_lock(&c->mu);
    if (c->state == DONE) {
        j = c->job;
        c->job = NULL;
        c->state = IDLE;
    }
    pthread_mutex_unlock(&c->mu);
    return j;
}
