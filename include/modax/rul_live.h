/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_live.h - the live RUL stage of the ingest (issue 7): per device a
 * bounded rolling window of rows, predictions in batches at a cadence,
 * written to the store, and an alert when the predicted RUL falls below
 * the tenant's threshold.
 *
 * Like the alerting stage (alerting.h) it is a stage of the engine
 * (stage.h, mdx_rul_live_stage) on its writer thread: the engine feeds it
 * every validated point and event and calls its tick between batches. A
 * row of a device is the mean of each of the model's input sensors over
 * rul.row_interval_s of point time. Every rul.predict_interval_s the
 * devices with a new row are predicted, one mdx_rul_predict() call per
 * model; a device with fewer rows than the model's window gets no
 * prediction and the reason ("needs N more rows") is stored instead. The active model version of each tenant is re-read
 * from the store every rul.model_poll_s: a new version is loaded and
 * swapped in without a restart (devices keep their rows when its feature
 * specification is the same).
 */
#ifndef MODAX_RUL_LIVE_H
#define MODAX_RUL_LIVE_H

#include <stdint.h>

#include "modax/conf.h"
#include "modax/stage.h"
#include "modax/store.h"

struct mdx_rul_live_conf {
    int enabled;
    int64_t row_interval_s;       /* point time per row */
    int64_t predict_interval_s;   /* cadence (wall clock) */
    double threshold_cycles;      /* alert below this; a tenant's value in the store wins */
    int64_t max_devices;          /* devices with a window; more are counted, not predicted */
    int64_t history_keep;         /* predictions kept per device */
    int64_t model_poll_s;         /* active versions re-read this often */
    char *endpoint;               /* KServe v2 URL evaluating the trees; "" or NULL: in-process */
    int64_t endpoint_timeout_ms;  /* one endpoint request at most */
    char *endpoint_credentials;   /* none, token_file, azure, gcp (rul_endpoint_auth.h) */
    char *endpoint_token_file;    /* token_file: the key or token, read for every request */
    char *endpoint_region;        /* aws: the region; "": $AWS_REGION */
};

extern const struct mdx_conf_key mdx_rul_live_conf_keys[];

struct mdx_rul_live_stats {
    uint64_t devices;             /* devices with a window now */
    uint64_t devices_overflow;    /* points of devices left out: max_devices reached */
    uint64_t rows;                /* rows closed */
    uint64_t points_late;         /* points older than the device's current row, ignored */
    uint64_t points_old_life;     /* points at or before the device's last failure, ignored */
    uint64_t lives;               /* failure markers: device histories started again */
    uint64_t predictions;         /* RUL values computed */
    uint64_t batches;             /* mdx_rul_predict() calls */
    uint64_t waiting;             /* evaluations without a prediction: too little history */
    uint64_t no_model;            /* evaluations without a prediction: no active model */
    uint64_t model_loads;         /* model versions loaded */
    uint64_t model_errors;        /* versions that could not be loaded (logged) */
    uint64_t store_errors;        /* failed writes or reads of the store */
    uint64_t endpoint_errors;     /* batches rul.endpoint did not answer (reasons stored) */
    uint64_t endpoint_busy;       /* batches held for the next round: the last one was still out */
    uint64_t alerts_raised;       /* predictions below the threshold */
};

struct mdx_alerting;
struct mdx_rul_live;

/*
 * Creates the stage. 'store' (the writer's handle), 'alerting' (may be
 * NULL: no alerts) and conf->endpoint are borrowed. NULL on failure (*err set).
 */
struct mdx_rul_live *mdx_rul_live_create(const struct mdx_rul_live_conf *conf,
                                         struct mdx_store *store, struct mdx_alerting *alerting,
                                         int *err);
void mdx_rul_live_destroy(struct mdx_rul_live *r);

/*
 * The live RUL stage's operations (stage.h); their context is a struct
 * mdx_rul_live. Add it before the alerting stage: its tick raises alerts
 * that go with the same batch.
 *   on_points  the validated points of one message; O(inputs) per point.
 *   on_event   a status {"state":"failed"} ends the device's life (its rows
 *              start again, points up to the event's time are ignored).
 *   tick       between batches: polls the active models every
 *              rul.model_poll_s, predicts every rul.predict_interval_s,
 *              and stores rul.endpoint's answers once they have come.
 */
extern const struct mdx_stage_ops mdx_rul_live_stage;

/* Re-reads the active versions and thresholds now, whatever rul.model_poll_s (tests). */
void mdx_rul_live_poll_now(struct mdx_rul_live *r);
/*
 * Predicts the devices with a new row now, whatever the cadence (tests,
 * shutdown). With rul.endpoint the round is only sent: its answers are
 * stored by a later tick or mdx_rul_live_collect_now.
 */
void mdx_rul_live_predict_now(struct mdx_rul_live *r);
/* Stores rul.endpoint's answers if they have come; 1 if it did (tests). */
int mdx_rul_live_collect_now(struct mdx_rul_live *r);
void mdx_rul_live_stats(const struct mdx_rul_live *r, struct mdx_rul_live_stats *out);

#endif
