/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_rul.h - remaining-useful-life models and predictions. A model
 * version is registered once (its file and manifest); each tenant may
 * activate one version, tenant "" being the platform default used by
 * tenants without their own. The live stage (rul_live.h) writes
 * predictions: the latest per device, and a bounded history.
 *
 * Included by store.h; see there for the handle and the rules every store
 * function follows (returns, callbacks, ownership).
 */
#ifndef MODAX_STORE_RUL_H
#define MODAX_STORE_RUL_H

#include <stddef.h>
#include <stdint.h>

#include "modax/msg.h"

struct mdx_store;

#define MDX_RUL_VERSION_MAX 64      /* bytes of a model version, with NUL */
#define MDX_RUL_PATH_MAX 1024       /* bytes of a model file path, with NUL */
#define MDX_RUL_MANIFEST_JSON_MAX 16384 /* bytes of a manifest's JSON, with NUL */
#define MDX_RUL_REASON_MAX 128      /* bytes of a "no prediction" reason, with NUL */

struct mdx_rul_model_rec {
    char version[MDX_RUL_VERSION_MAX];   /* [A-Za-z0-9_.:-]{1,63} */
    char path[MDX_RUL_PATH_MAX];         /* the XGBoost JSON file (manifest next to it) */
    char manifest[MDX_RUL_MANIFEST_JSON_MAX]; /* the manifest, as registered */
    int64_t created_ms;
};

struct mdx_rul_prediction {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    int64_t ts_ms;            /* point time of the newest row the prediction is for */
    double rul;               /* cycles (rows); NaN: no prediction, 'reason' says why */
    char model_version[MDX_RUL_VERSION_MAX];
    char reason[MDX_RUL_REASON_MAX]; /* e.g. "needs 12 more rows"; "" with a prediction */
    int64_t reason_ms;        /* when 'reason' was set (latest only) */
};

/* Callbacks: what they are handed is borrowed for the call only; copy what you keep. */
typedef int (*mdx_rul_model_fn)(void *arg, const struct mdx_rul_model_rec *m);
/* tenant "" = the platform default. */
typedef int (*mdx_rul_active_fn)(void *arg, const char *tenant, const char *version);
typedef int (*mdx_rul_prediction_fn)(void *arg, const struct mdx_rul_prediction *p);

/* Registers a model version: MDX_OK; MDX_EEXIST if the version exists, MDX_EINVAL for a bad one. */
int mdx_store_rul_model_put(struct mdx_store *st, const struct mdx_rul_model_rec *m);
/* The record of 'version' into *out (owned by the caller): MDX_OK, MDX_ENOTFOUND if unknown. */
int mdx_store_rul_model_get(struct mdx_store *st, const char *version,
                            struct mdx_rul_model_rec *out);
/* Calls fn for each model, oldest first. MDX_OK, fn's stop value, or an error. */
int mdx_store_rul_model_list(struct mdx_store *st, mdx_rul_model_fn fn, void *arg);
/*
 * Makes 'version' the active model of 'tenant' ("" = the platform default).
 * MDX_OK; MDX_ENOTFOUND for an unknown version or tenant.
 */
int mdx_store_rul_model_activate(struct mdx_store *st, const char *tenant, const char *version,
                                 int64_t now_ms);
/*
 * The version that serves 'tenant' into 'version' (len bytes): its own,
 * else the platform default (tenant "" asks for the default only). MDX_OK,
 * MDX_ENOTFOUND if none.
 */
int mdx_store_rul_model_active(struct mdx_store *st, const char *tenant, char *version,
                               size_t len);
/*
 * Calls fn for every activation (tenant "" first, then by tenant name).
 * MDX_OK, fn's stop value, or an error.
 */
int mdx_store_rul_active_list(struct mdx_store *st, mdx_rul_active_fn fn, void *arg);
/*
 * A tenant's alert threshold (cycles) into *cycles: MDX_OK; MDX_ENOTFOUND
 * if it has none (the config's applies).
 */
int mdx_store_rul_threshold_get(struct mdx_store *st, const char *tenant, double *cycles);
/*
 * Sets it (NaN clears it): MDX_OK; MDX_ENOTFOUND for an unknown tenant,
 * MDX_EINVAL for cycles < 0.
 */
int mdx_store_rul_threshold_set(struct mdx_store *st, const char *tenant, double cycles);
/*
 * Stores n predictions in one transaction. One with a finite rul becomes
 * its device's latest and joins its history (which keeps the newest 'keep'
 * per device); one with rul NaN only sets the latest's reason (a previous
 * prediction stays readable). Unknown devices are skipped. MDX_OK or an
 * error (then none is stored).
 */
int mdx_store_rul_prediction_put(struct mdx_store *st, const struct mdx_rul_prediction *p,
                                 size_t n, int64_t keep);
/*
 * A device's latest into *out: its newest prediction (rul NaN if it never
 * had one) and the current reason. MDX_OK; MDX_ENOTFOUND when nothing was
 * ever stored for it.
 */
int mdx_store_rul_prediction_latest(struct mdx_store *st, const char *tenant,
                                    const char *device, struct mdx_rul_prediction *out);
/*
 * device NULL: calls fn with the latest of each device of 'tenant', by
 * device name; else with the device's history, newest first. limit 0 = all.
 * MDX_OK, fn's stop value, or an error.
 */
int mdx_store_rul_prediction_list(struct mdx_store *st, const char *tenant, const char *device,
                                  int64_t limit, mdx_rul_prediction_fn fn, void *arg);

/* What a back end implements for RUL. 'impl' is its own handle. */
struct mdx_store_rul_ops {
    int (*model_put)(void *impl, const struct mdx_rul_model_rec *m);
    int (*model_get)(void *impl, const char *version, struct mdx_rul_model_rec *out);
    int (*model_list)(void *impl, mdx_rul_model_fn fn, void *arg);
    int (*model_activate)(void *impl, const char *tenant, const char *version, int64_t now_ms);
    int (*model_active)(void *impl, const char *tenant, char *version, size_t len);
    int (*active_list)(void *impl, mdx_rul_active_fn fn, void *arg);
    int (*threshold_get)(void *impl, const char *tenant, double *cycles);
    int (*threshold_set)(void *impl, const char *tenant, double cycles);
    int (*prediction_put)(void *impl, const struct mdx_rul_prediction *p, size_t n, int64_t keep);
    int (*prediction_latest)(void *impl, const char *tenant, const char *device,
                             struct mdx_rul_prediction *out);
    int (*prediction_list)(void *impl, const char *tenant, const char *device, int64_t limit,
                           mdx_rul_prediction_fn fn, void *arg);
};

#endif
