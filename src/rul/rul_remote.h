/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_remote.h - the live RUL stage's endpoint client on a thread of its
 * own (rul_remote.c), so that a slow or unreachable rul.endpoint never
 * holds up the ingest writer whose tick asks for predictions.
 *
 * One job at a time: a job is up to MDX_RUL_REMOTE_BATCHES batches (one
 * per loaded model version), copied in at submit. The thread sends them
 * one by one (mdx_rul_endpoint_predict), then leaves the job for the
 * stage to collect at its next tick. While a job is out, submit answers
 * MDX_EAGAIN: the stage keeps its devices for the next round, so memory
 * stays bounded by one job (max_devices rows of features).
 */
#ifndef MODAX_RUL_REMOTE_H
#define MODAX_RUL_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "modax/rul.h"
#include "modax/store_rul.h"

#define MDX_RUL_REMOTE_BATCHES 8

/* One model version's batch: rows in, predictions or the reason out. */
struct mdx_rul_remote_batch {
    char version[MDX_RUL_VERSION_MAX];
    float *features;   /* n x nf, owned by the job */
    float *rul;        /* n, owned by the job: the answers, capped to [0, cap] */
    void **tags;       /* n, the caller's (its devices), owned by the job, pointees borrowed */
    size_t n, nf;
    double cap;
    int rc;            /* MDX_OK, or why[] says what failed */
    char why[256];
};

struct mdx_rul_remote_job {
    struct mdx_rul_remote_batch b[MDX_RUL_REMOTE_BATCHES];
    size_t n;
};

struct mdx_rul_remote;
struct mdx_rul_auth;

/*
 * Starts the thread for the KServe v2 URL 'url' (borrowed: it must outlive
 * the client), each request within 'timeout_ms', with the Authorization
 * header of 'auth' (rul_endpoint_auth.h; owned from here on, also on
 * failure). NULL with *err set.
 */
struct mdx_rul_remote *mdx_rul_remote_create(const char *url, struct mdx_rul_auth *auth,
                                             int64_t timeout_ms, int *err);
/* Waits for a request in flight (at most its timeout), frees any job left. NULL is fine. */
void mdx_rul_remote_destroy(struct mdx_rul_remote *c);

/*
 * Adds a batch to the job being built (copies 'features' n x nf and
 * 'tags'); nothing is sent before mdx_rul_remote_submit. MDX_EAGAIN while
 * a job is out or uncollected, MDX_EFULL past MDX_RUL_REMOTE_BATCHES,
 * MDX_ENOMEM.
 */
int mdx_rul_remote_add(struct mdx_rul_remote *c, const char *version, const float *features,
                       size_t n, size_t nf, double cap, void *const *tags);
/* Sends the job built by mdx_rul_remote_add (if any batch) to the thread. */
void mdx_rul_remote_submit(struct mdx_rul_remote *c);
/* Non-zero while a job is built, out or not collected yet. */
int mdx_rul_remote_busy(struct mdx_rul_remote *c);

/*
 * The job the thread has finished, if any: returns it (the caller frees
 * it with mdx_rul_remote_job_free) and the client is free again; NULL
 * while none is done.
 */
struct mdx_rul_remote_job *mdx_rul_remote_collect(struct mdx_rul_remote *c);
void mdx_rul_remote_job_free(struct mdx_rul_remote_job *j);

#endif
