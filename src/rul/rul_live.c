/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_live.c - the live RUL stage (rul_live.h): rows per device from the
 * validated points, rolling windows, batched predictions at a cadence,
 * predictions and reasons to the store, alerts below the threshold, and
 * hot swapping of the tenants' active model versions.
 *
 * Memory: per device a ring of the model's window rows (window x inputs
 * doubles, e.g. 30 x 6 = 1.4 KiB), its EWMA state and the open row
 * (struct mdx_rul_row, 0.4 KiB); at most rul.max_devices devices. Rows and
 * the EWMA step are rul_rows.c's, the definitions the export of training
 * histories (rul_export.c) and the feature window use too. Features are
 * computed in one scratch struct mdx_rul_window by replaying the ring
 * (window rows) and restoring the EWMA and age, which rul_features.c
 * defines over the whole history.
 * A device's status event {"state":"failed"} (the simulator's, or a real
 * machine's maintenance record) ends its life: the window starts again
 * and points up to the failure's time are ignored, so the replacement
 * machine is not judged by its predecessor's rows.
 * Models: at most MODELS_MAX versions loaded (one per distinct active
 * version in use), each with its feature batch buffer of max_devices rows.
 * With rul.endpoint the loaded model gives the features' specification and
 * a remote endpoint evaluates the trees, one request per batch, on the
 * endpoint client's own thread (rul_remote.c): a round's batches go out
 * together and their answers are stored and alerted on at a later tick,
 * so a slow endpoint never holds up the writer. While a round is out, the
 * next one waits (its devices keep their new rows) and is counted.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/htab.h"
#include "modax/alert.h"
#include "modax/alerting.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/rul.h"
#include "modax/rul_live.h"
#include "modax/rul_rows.h"
#include "modax/status.h"
#include "rul/rul_endpoint_auth.h"
#include "rul/rul_remote.h"

#define MOD "rul"
#define MODELS_MAX 8
#define TENANTS_MAX 4096       /* tenants whose active version is tracked */
#define ALERT_SOURCE "rul"

const struct mdx_conf_key mdx_rul_live_conf_keys[] = {
    MDX_CONF_BOOL("rul.enabled", "false", struct mdx_rul_live_conf, enabled,
                  "Predict the remaining useful life of devices live (needs an active model)"),
    MDX_CONF_INT("rul.row_interval_s", "60", 1, 86400, struct mdx_rul_live_conf, row_interval_s,
                 "Point time per row: a row is the mean of each input sensor over this"),
    MDX_CONF_INT("rul.predict_interval_s", "60", 1, 86400, struct mdx_rul_live_conf,
                 predict_interval_s, "Devices with a new row are predicted this often (batched)"),
    MDX_CONF_DBL("rul.threshold_cycles", "20", 0, 1e9, struct mdx_rul_live_conf, threshold_cycles,
                 "Alert when the predicted RUL falls below this (rows); a tenant's value wins"),
    MDX_CONF_INT("rul.max_devices", "10000", 1, 1000000, struct mdx_rul_live_conf, max_devices,
                 "Devices with a rolling window; more are counted and get no prediction"),
    MDX_CONF_INT("rul.history_keep", "1000", 1, 1000000, struct mdx_rul_live_conf, history_keep,
                 "Predictions kept per device in the store"),
    MDX_CONF_INT("rul.model_poll_s", "5", 1, 3600, struct mdx_rul_live_conf, model_poll_s,
                 "Active model versions are re-read from the store this often"),
    MDX_CONF_STR("rul.endpoint", "", struct mdx_rul_live_conf, endpoint,
                 "KServe v2 URL of the active model's ONNX export served elsewhere (Triton, "
                 "deploy/ml/) that evaluates the trees; empty: in-process"),
    MDX_CONF_INT("rul.endpoint_timeout_ms", "2000", 100, 60000, struct mdx_rul_live_conf,
                 endpoint_timeout_ms,
                 "Most one endpoint request (one per model batch) may take (on its own thread)"),
    MDX_CONF_STR("rul.endpoint_credentials", "none", struct mdx_rul_live_conf,
                 endpoint_credentials,
                 "none, token_file (Bearer + rul.endpoint_token_file: an Azure ML endpoint key), "
                 "azure (Workload Identity token for Azure ML), gcp (Google credentials for "
                 "Vertex AI), aws (SigV4 for SageMaker: $AWS_ACCESS_KEY_ID, Pod Identity, IRSA)"),
    MDX_CONF_STR("rul.endpoint_token_file", "", struct mdx_rul_live_conf, endpoint_token_file,
                 "File with the endpoint's key or token, read again for every request"),
    MDX_CONF_STR("rul.endpoint_region", "", struct mdx_rul_live_conf, endpoint_region,
                 "AWS region of a SageMaker endpoint (aws); empty: $AWS_REGION"),
    MDX_CONF_END,
};

struct lmodel {
    char version[MDX_RUL_VERSION_MAX];
    struct mdx_rul_model *m;
    const struct mdx_rul_manifest *man;
    uint64_t spec_hash;
    size_t nf;                /* features per row */
    float *feat;              /* max_devices x nf */
    float *out;               /* max_devices */
    struct dev **due;         /* devices in the batch */
    size_t n_due;
    int used;                 /* some tenant serves it (mark at each poll) */
};

struct tenant {
    char name[MDX_NAME_MAX + 1];
    int model;                /* index into models, -1: no active model */
    double threshold;
};

struct dev {
    struct mdx_hnode node;    /* first member: a node pointer is the device */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    int t;                    /* index into tenants */
    uint64_t spec_hash;       /* of the model the ring is laid out for; 0: none yet */
    int n_inputs, window;
    double *ring;             /* window x n_inputs, carried values */
    double *ewma;             /* n_inputs */
    struct mdx_rul_row open;  /* the row being filled */
    size_t head;
    int64_t seen;             /* rows pushed */
    int64_t last_row_ts;      /* newest point of the newest closed row */
    int64_t life_from;        /* points at or before this (a failure) are ignored */
    int fresh;                /* a row closed since the last evaluation */
    int alert;                /* an RUL alert is active, as far as we know */
};

struct mdx_rul_live {
    struct mdx_rul_live_conf conf;
    struct mdx_store *store;
    struct mdx_alerting *alerting;
    struct lmodel models[MODELS_MAX];
    struct tenant *tenants;
    size_t n_tenants;
    struct mdx_htab devs;     /* struct dev by (tenant, device) */
    struct dev **all;
    size_t n_devs;
    struct mdx_rul_window *scratch;
    struct mdx_rul_prediction *preds; /* max_devices */
    struct mdx_rul_remote *remote;    /* rul.endpoint's client; NULL: in-process */
    int64_t next_poll_us, next_predict_us;
    struct mdx_rul_live_stats st;
};

static uint64_t spec_hash(const struct mdx_rul_spec *s)
{
    uint64_t h = 0;

    for (size_t i = 0; i < s->n_inputs; i++) {
        h = mdx_hash_bytes(h, s->inputs[i], strlen(s->inputs[i]) + 1);
    }
    h = mdx_hash_bytes(h, &s->n_inputs, sizeof(s->n_inputs));
    h = mdx_hash_bytes(h, &s->window, sizeof(s->window));
    h = mdx_hash_bytes(h, &s->stats, sizeof(s->stats));
    h = mdx_hash_bytes(h, &s->ewma_alpha, sizeof(s->ewma_alpha));
    h = mdx_hash_bytes(h, &s->with_age, sizeof(s->with_age));
    return h | 1; /* never 0 */
}

static void model_unload(struct lmodel *lm)
{
    mdx_rul_model_free(lm->m);
    mdx_free(lm->feat);
    mdx_free(lm->out);
    mdx_free(lm->due);
    memset(lm, 0, sizeof(*lm));
}

/* Index of the loaded model 'version', loading it if needed; -1 if it cannot be. */
static int model_get(struct mdx_rul_live *r, const char *version)
{
    struct mdx_rul_model_rec *rec;
    char why[256] = "";
    int free_slot = -1, err = MDX_OK, rc;
    struct lmodel *lm;

    for (int i = 0; i < MODELS_MAX; i++) {
        if (r->models[i].m != NULL && strcmp(r->models[i].version, version) == 0) {
            return i;
        }
        if (r->models[i].m == NULL && free_slot < 0) {
            free_slot = i;
        }
    }
    if (free_slot < 0) {
        r->st.model_errors++;
        mdx_log_warn(MOD, "too many model versions in use at once; tenant left without",
                     MDX_F_STR("version", version), MDX_F_INT("max", MODELS_MAX));
        return -1;
    }
    rec = mdx_malloc(sizeof(*rec));
    if (rec == NULL) {
        return -1;
    }
    rc = mdx_store_rul_model_get(r->store, version, rec);
    lm = &r->models[free_slot];
    if (rc == MDX_OK) {
        lm->m = mdx_rul_model_load(rec->path, why, sizeof(why), &err);
    }
    if (rc != MDX_OK || lm->m == NULL) {
        r->st.model_errors++;
        mdx_log_error(MOD, "cannot load the active model; its tenants get no predictions",
                      MDX_F_STR("version", version), MDX_F_STR("path", rec->path),
                      MDX_F_STR("why", rc != MDX_OK ? mdx_strerror(rc) : why));
        mdx_free(rec);
        memset(lm, 0, sizeof(*lm));
        return -1;
    }
    snprintf(lm->version, sizeof(lm->version), "%s", version);
    lm->man = mdx_rul_model_manifest(lm->m);
    lm->nf = mdx_rul_n_features(&lm->man->spec);
    lm->spec_hash = spec_hash(&lm->man->spec);
    lm->feat = mdx_calloc((size_t)r->conf.max_devices * lm->nf, sizeof(float));
    lm->out = mdx_calloc((size_t)r->conf.max_devices, sizeof(float));
    lm->due = mdx_calloc((size_t)r->conf.max_devices, sizeof(*lm->due));
    if (lm->feat == NULL || lm->out == NULL || lm->due == NULL) {
        r->st.model_errors++;
        mdx_log_error(MOD, "out of memory for the model's batch", MDX_F_STR("version", version));
        model_unload(lm);
        mdx_free(rec);
        return -1;
    }
    r->st.model_loads++;
    mdx_log_info(MOD, "model loaded", MDX_F_STR("version", version), MDX_F_STR("path", rec->path),
                 MDX_F_INT("window", lm->man->spec.window), MDX_F_INT("features", lm->nf));
    mdx_free(rec);
    return free_slot;
}

/* Reads the tenant's active version and threshold; loads the model if new. */
static void tenant_refresh(struct mdx_rul_live *r, struct tenant *t)
{
    char version[MDX_RUL_VERSION_MAX];
    double c;
    int rc;

    rc = mdx_store_rul_model_active(r->store, t->name, version, sizeof(version));
    if (rc == MDX_OK) {
        t->model = model_get(r, version);
    } else {
        if (rc != MDX_ENOTFOUND) {
            r->st.store_errors++;
        }
        t->model = -1;
    }
    rc = mdx_store_rul_threshold_get(r->store, t->name, &c);
    t->threshold = rc == MDX_OK ? c : r->conf.threshold_cycles;
    if (rc != MDX_OK && rc != MDX_ENOTFOUND) {
        r->st.store_errors++;
    }
}

/* Re-reads every tracked tenant and unloads versions no tenant serves any more. */
static void poll_models(struct mdx_rul_live *r)
{
    for (int i = 0; i < MODELS_MAX; i++) {
        r->models[i].used = 0;
    }
    for (size_t i = 0; i < r->n_tenants; i++) {
        tenant_refresh(r, &r->tenants[i]);
        if (r->tenants[i].model >= 0) {
            r->models[r->tenants[i].model].used = 1;
        }
    }
    for (int i = 0; i < MODELS_MAX; i++) {
        if (r->models[i].m != NULL && !r->models[i].used) {
            mdx_log_info(MOD, "model unloaded: no tenant serves it",
                         MDX_F_STR("version", r->models[i].version));
            model_unload(&r->models[i]);
        }
    }
}

static int tenant_index(struct mdx_rul_live *r, const char *name)
{
    struct tenant *t;

    for (size_t i = 0; i < r->n_tenants; i++) {
        if (strcmp(r->tenants[i].name, name) == 0) {
            return (int)i;
        }
    }
    if (r->n_tenants >= TENANTS_MAX) {
        return -1;
    }
    t = &r->tenants[r->n_tenants];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->model = -1;
    t->threshold = r->conf.threshold_cycles;
    tenant_refresh(r, t);
    return (int)r->n_tenants++;
}

static void dev_free_ring(struct dev *d)
{
    mdx_free(d->ring);
    mdx_free(d->ewma);
    d->ring = d->ewma = NULL;
    d->spec_hash = 0;
    d->n_inputs = d->window = 0;
}

/* Forgets the device's rows: its history starts again. */
static void dev_restart(struct dev *d)
{
    for (int i = 0; i < d->n_inputs; i++) {
        d->ewma[i] = NAN;
    }
    d->head = 0;
    d->seen = 0;
    mdx_rul_row_clear(&d->open);
}

/* Lays the device's ring out for 'lm' (its rows start again unless the spec is the same). */
static int dev_bind(struct dev *d, const struct lmodel *lm)
{
    const struct mdx_rul_spec *s = &lm->man->spec;
    size_t n = s->n_inputs;

    if (d->spec_hash == lm->spec_hash) {
        return MDX_OK;
    }
    dev_free_ring(d);
    d->ring = mdx_calloc((size_t)s->window * n, sizeof(double));
    d->ewma = mdx_calloc(n, sizeof(double));
    if (d->ring == NULL || d->ewma == NULL) {
        dev_free_ring(d);
        return MDX_ENOMEM;
    }
    d->n_inputs = (int)n;
    d->window = s->window;
    d->spec_hash = lm->spec_hash;
    dev_restart(d);
    d->fresh = 0;
    return MDX_OK;
}

/* The device's entry, created if new; NULL when rul.max_devices are tracked (or no memory). */
static struct dev *dev_get(struct mdx_rul_live *r, const char *tenant, const char *device)
{
    /* The tenant's NUL separates the two names ("ab"+"c" is not "a"+"bc"). */
    uint64_t h = mdx_hash_bytes(mdx_hash_bytes(0, tenant, strlen(tenant) + 1), device,
                                strlen(device));
    struct dev *d;
    int t;

    for (struct mdx_hnode *n = mdx_htab_bucket(&r->devs, h); n != NULL; n = n->next) {
        d = (struct dev *)n;
        if (n->hash == h && strcmp(d->device, device) == 0 && strcmp(d->tenant, tenant) == 0) {
            return d;
        }
    }
    if (r->n_devs >= (size_t)r->conf.max_devices) {
        return NULL;
    }
    t = tenant_index(r, tenant);
    if (t < 0) {
        return NULL;
    }
    d = mdx_calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->node.hash = h;
    snprintf(d->tenant, sizeof(d->tenant), "%s", tenant);
    snprintf(d->device, sizeof(d->device), "%s", device);
    d->t = t;
    d->life_from = INT64_MIN;
    mdx_rul_row_clear(&d->open);
    mdx_htab_insert(&r->devs, &d->node);
    r->all[r->n_devs++] = d;
    return d;
}

/* Closes the open row into the ring (rul_rows.c: means, carried values, the EWMA step). */
static void close_row(struct mdx_rul_live *r, struct dev *d, const struct mdx_rul_spec *s)
{
    size_t n = (size_t)d->n_inputs;
    size_t prev = (d->head + (size_t)d->window - 1) % (size_t)d->window;
    double *row = &d->ring[d->head * n];

    mdx_rul_row_values(&d->open, n, d->seen > 0 ? &d->ring[prev * n] : NULL, row);
    mdx_rul_ewma_step(s, d->ewma, row);
    d->head = (d->head + 1) % (size_t)d->window;
    d->seen++;
    d->last_row_ts = d->open.last_ts;
    mdx_rul_row_clear(&d->open);
    d->fresh = 1;
    r->st.rows++;
}

/* The validated points of one message; O(inputs) per point. */
static void rul_live_on_points(void *ctx, const struct mdx_point_group *g,
                               const struct mdx_device_ref *ref)
{
    struct mdx_rul_live *r = ctx;
    int64_t row_ms = r->conf.row_interval_s * 1000;
    const struct lmodel *lm;
    struct dev *d;

    (void)ref;
    if (g->n == 0) {
        return;
    }
    d = dev_get(r, g->tenant, g->device);
    if (d == NULL) {
        r->st.devices_overflow += g->n;
        return;
    }
    if (r->tenants[d->t].model < 0) {
        return; /* no model: nothing to build rows for (the evaluation says so) */
    }
    lm = &r->models[r->tenants[d->t].model];
    if (dev_bind(d, lm) != MDX_OK) {
        return;
    }
    for (size_t k = 0; k < g->n; k++) {
        const struct mdx_point *p = &g->points[k];
        int64_t start = mdx_rul_row_start(p->ts_ms, row_ms);
        int idx = -1;

        for (int i = 0; i < d->n_inputs; i++) {
            if (strcmp(lm->man->spec.inputs[i], p->sensor) == 0) {
                idx = i;
                break;
            }
        }
        if (idx < 0 || !isfinite(p->value)) {
            continue;
        }
        if (p->ts_ms <= d->life_from) {
            r->st.points_old_life++;
            continue;
        }
        if (d->open.start == INT64_MIN) {
            d->open.start = start;
        } else if (start < d->open.start) {
            r->st.points_late++;
            continue;
        } else if (start > d->open.start) {
            close_row(r, d, &lm->man->spec);
            d->open.start = start;
        }
        mdx_rul_row_add(&d->open, (size_t)idx, p->ts_ms, p->value);
    }
}

/* Non-zero when 'ev' is a status event saying the machine failed. */
static int is_failure(const struct mdx_event *ev)
{
    const cJSON *state;
    cJSON *root;
    int failed;

    if (ev->kind != MDX_MSG_STATUS || strstr(ev->body, "failed") == NULL) {
        return 0; /* the cheap test first: most status events are online/offline */
    }
    root = cJSON_ParseWithLength(ev->body, strnlen(ev->body, sizeof(ev->body)));
    state = cJSON_GetObjectItemCaseSensitive(root, "state");
    failed = cJSON_IsString(state) && strcmp(state->valuestring, "failed") == 0;
    cJSON_Delete(root);
    return failed;
}

/*
 * A status {"state":"failed"} ends the device's life: its rows start again
 * and points up to the event's time are ignored.
 */
static void rul_live_on_event(void *ctx, const struct mdx_event_rec *er,
                              const struct mdx_device_ref *ref)
{
    struct mdx_rul_live *r = ctx;
    struct dev *d;

    (void)ref;
    if (!is_failure(er->event)) {
        return;
    }
    d = dev_get(r, er->tenant, er->device);
    if (d == NULL) {
        r->st.devices_overflow++;
        return;
    }
    if (er->event->ts_ms > d->life_from) {
        d->life_from = er->event->ts_ms;
    }
    if (d->ring != NULL) {
        dev_restart(d);
    }
    d->last_row_ts = er->event->ts_ms;
    d->fresh = 1; /* the next evaluation stores why there is no prediction yet */
    r->st.lives++;
    if (d->alert && r->alerting != NULL) {
        mdx_alerting_external(r->alerting, d->tenant, d->device, ALERT_SOURCE,
                              MDX_SEVERITY_WARNING, er->event->ts_ms, 0.0, 0,
                              "the machine failed and was replaced: a new life starts");
    }
    d->alert = 0;
    mdx_log_info(MOD, "device failed: its history starts again", MDX_F_STR("tenant", d->tenant),
                 MDX_F_STR("device", d->device), MDX_F_INT("at_ms", er->event->ts_ms));
}

/* The device's features into 'out' via the scratch window; MDX_EAGAIN: too few rows. */
static int dev_features(struct mdx_rul_live *r, const struct dev *d, const struct lmodel *lm,
                        float *out)
{
    const struct mdx_rul_spec *s = &lm->man->spec;
    size_t n = (size_t)d->n_inputs, w = (size_t)d->window;
    size_t rows = d->seen < d->window ? (size_t)d->seen : w; /* a partial window: min_rows */

    if (d->seen < mdx_rul_spec_min_rows(s)) {
        return MDX_EAGAIN;
    }
    mdx_rul_window_init(r->scratch);
    for (size_t k = 0; k < rows; k++) {
        mdx_rul_window_push(r->scratch, s, &d->ring[((d->head + w - rows + k) % w) * n]);
    }
    for (size_t i = 0; i < n; i++) {
        r->scratch->ewma[i] = d->ewma[i];
    }
    r->scratch->seen = d->seen;
    return mdx_rul_window_features(r->scratch, s, out);
}

static void alert_check(struct mdx_rul_live *r, struct dev *d, double rul, const char *version)
{
    double thr = r->tenants[d->t].threshold;
    char summary[200];

    if (r->alerting == NULL) {
        return;
    }
    if (rul < thr) {
        snprintf(summary, sizeof(summary),
                 "predicted remaining useful life %.1f cycles is below %.1f (model %s)", rul, thr,
                 version);
        mdx_alerting_external(r->alerting, d->tenant, d->device, ALERT_SOURCE,
                              MDX_SEVERITY_WARNING, d->last_row_ts, rul, 1, summary);
        if (!d->alert) {
            r->st.alerts_raised++;
        }
        d->alert = 1;
    } else if (d->alert) {
        snprintf(summary, sizeof(summary),
                 "predicted remaining useful life %.1f cycles is back above %.1f", rul, thr);
        mdx_alerting_external(r->alerting, d->tenant, d->device, ALERT_SOURCE,
                              MDX_SEVERITY_WARNING, d->last_row_ts, rul, 0, summary);
        d->alert = 0;
    }
}

/* Stores the round's predictions and reasons (r->preds[0..n)). */
static void store_predictions(struct mdx_rul_live *r, size_t n)
{
    int rc;

    if (n == 0) {
        return;
    }
    rc = mdx_store_rul_prediction_put(r->store, r->preds, n, r->conf.history_keep);
    if (rc != MDX_OK) {
        r->st.store_errors++;
        mdx_log_warn(MOD, "predictions not stored", MDX_F_INT("n", n), MDX_F_ERR(rc));
    }
}

/* Clears 'p' and makes it the prediction of 'd' for this round (reason and value unset). */
static void prediction_init(struct mdx_rul_prediction *p, const struct dev *d)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->tenant, sizeof(p->tenant), "%s", d->tenant);
    snprintf(p->device, sizeof(p->device), "%s", d->device);
    p->ts_ms = d->last_row_ts;
    p->rul = NAN;
}

/* The prediction entry of 'd' for this round, at r->preds[*n] (reason and value unset). */
static struct mdx_rul_prediction *prediction_of(struct mdx_rul_live *r, const struct dev *d,
                                                size_t *n)
{
    struct mdx_rul_prediction *p = &r->preds[(*n)++];

    prediction_init(p, d);
    return p;
}

/* Stores and alerts on the predictions of batch 'k' of model 'version' (rul[k] each). */
static void apply_batch(struct mdx_rul_live *r, const char *version, struct dev *const *due,
                        const float *rul, size_t n_due, size_t *n_preds)
{
    for (size_t k = 0; k < n_due; k++) {
        struct mdx_rul_prediction *p = prediction_of(r, due[k], n_preds);

        p->rul = rul[k];
        snprintf(p->model_version, sizeof(p->model_version), "%s", version);
        r->st.predictions++;
        alert_check(r, due[k], p->rul, version);
    }
}

/*
 * The answers of rul.endpoint's last round, if they have come: stored and
 * alerted on as in-process predictions; a batch that failed gives each of
 * its devices the reason instead. Returns 1 if a round was applied.
 */
static int apply_remote(struct mdx_rul_live *r)
{
    struct mdx_rul_remote_job *j = r->remote != NULL ? mdx_rul_remote_collect(r->remote) : NULL;
    size_t n_preds = 0;

    if (j == NULL) {
        return 0;
    }
    for (size_t i = 0; i < j->n; i++) {
        const struct mdx_rul_remote_batch *b = &j->b[i];
        struct dev *const *due = (struct dev *const *)b->tags; /* devices live as long as r */

        r->st.batches++;
        if (b->rc == MDX_OK) {
            apply_batch(r, b->version, due, b->rul, b->n, &n_preds);
            continue;
        }
        r->st.endpoint_errors++;
        mdx_log_warn(MOD, "endpoint prediction failed", MDX_F_STR("version", b->version),
                     MDX_F_STR("reason", b->why));
        for (size_t k = 0; k < b->n; k++) {
            struct mdx_rul_prediction *p = prediction_of(r, due[k], &n_preds);
            snprintf(p->reason, sizeof(p->reason), "endpoint: %.*s",
                     (int)sizeof(p->reason) - 11, b->why);
        }
    }
    mdx_rul_remote_job_free(j);
    store_predictions(r, n_preds);
    return 1;
}

/*
 * Hands the batch of 'lm' to rul.endpoint's thread. While the last round
 * is still out, its devices keep their new row for the next round.
 */
static void send_batch(struct mdx_rul_live *r, struct lmodel *lm)
{
    int rc = mdx_rul_remote_add(r->remote, lm->version, lm->feat, lm->n_due, lm->nf,
                                lm->man->cap, (void *const *)lm->due);

    if (rc == MDX_OK) {
        return;
    }
    if (rc == MDX_EAGAIN) {
        r->st.endpoint_busy++;
    } else {
        mdx_log_warn(MOD, "endpoint batch not sent", MDX_F_STR("version", lm->version),
                     MDX_F_ERR(rc));
    }
    for (size_t k = 0; k < lm->n_due; k++) {
        lm->due[k]->fresh = 1;
    }
}

int mdx_rul_live_collect_now(struct mdx_rul_live *r)
{
    return apply_remote(r);
}

void mdx_rul_live_predict_now(struct mdx_rul_live *r)
{
    size_t n_preds = 0;
    int rc;

    for (int i = 0; i < MODELS_MAX; i++) {
        r->models[i].n_due = 0;
    }
    /* Sort the devices with a new row into their model's batch. */
    for (size_t i = 0; i < r->n_devs; i++) {
        struct dev *d = r->all[i];
        int mi = r->tenants[d->t].model;
        struct mdx_rul_prediction *p;
        struct lmodel *lm;

        if (!d->fresh) {
            continue;
        }
        d->fresh = 0;
        p = &r->preds[n_preds]; /* counted only when it gets a reason here */
        prediction_init(p, d);
        if (mi < 0) {
            r->st.no_model++;
            snprintf(p->reason, sizeof(p->reason), "no active model for tenant %s", d->tenant);
            n_preds++;
            continue;
        }
        lm = &r->models[mi];
        if (d->spec_hash != lm->spec_hash) {
            continue; /* rebinds with its next point */
        }
        rc = dev_features(r, d, lm, &lm->feat[lm->n_due * lm->nf]);
        if (rc == MDX_EAGAIN) {
            int need = mdx_rul_spec_min_rows(&lm->man->spec);

            r->st.waiting++;
            snprintf(p->reason, sizeof(p->reason), "needs %lld more rows (has %lld of %d)",
                     (long long)(need - d->seen), (long long)d->seen, need);
            n_preds++;
            continue;
        }
        if (rc != MDX_OK) {
            continue;
        }
        lm->due[lm->n_due++] = d;
    }
    /* One batch per model: evaluated here, or sent to rul.endpoint's thread. */
    for (int mi = 0; mi < MODELS_MAX; mi++) {
        struct lmodel *lm = &r->models[mi];

        if (lm->n_due == 0) {
            continue;
        }
        if (r->remote != NULL) {
            send_batch(r, lm);
            continue;
        }
        rc = mdx_rul_predict(lm->m, lm->feat, lm->n_due, lm->out);
        r->st.batches++;
        if (rc != MDX_OK) {
            mdx_log_error(MOD, "prediction failed", MDX_F_STR("version", lm->version),
                          MDX_F_ERR(rc));
            continue;
        }
        apply_batch(r, lm->version, lm->due, lm->out, lm->n_due, &n_preds);
    }
    if (r->remote != NULL) {
        mdx_rul_remote_submit(r->remote);
    }
    store_predictions(r, n_preds);
}

void mdx_rul_live_poll_now(struct mdx_rul_live *r)
{
    poll_models(r);
}

/* Polls the active models and predicts when due; cheap otherwise. */
static void rul_live_tick(void *ctx)
{
    struct mdx_rul_live *r = ctx;
    int64_t now = mdx_mono_us();

    if (mdx_due(now, &r->next_poll_us, r->conf.model_poll_s * 1000000LL)) {
        poll_models(r);
    }
    apply_remote(r);
    if (mdx_due(now, &r->next_predict_us, r->conf.predict_interval_s * 1000000LL)) {
        mdx_rul_live_predict_now(r);
    }
}

struct mdx_rul_live *mdx_rul_live_create(const struct mdx_rul_live_conf *conf,
                                         struct mdx_store *store, struct mdx_alerting *alerting,
                                         int *err)
{
    struct mdx_rul_live *r = mdx_calloc(1, sizeof(*r));
    int rc;

    *err = MDX_ENOMEM;
    if (r == NULL) {
        return NULL;
    }
    r->conf = *conf;
    r->store = store;
    r->alerting = alerting;
    rc = mdx_htab_init_for(&r->devs, (size_t)conf->max_devices, (size_t)1 << 22);
    r->all = mdx_calloc((size_t)conf->max_devices, sizeof(*r->all));
    r->tenants = mdx_calloc(TENANTS_MAX, sizeof(*r->tenants));
    r->preds = mdx_calloc((size_t)conf->max_devices, sizeof(*r->preds));
    r->scratch = mdx_malloc(sizeof(*r->scratch));
    if (rc != MDX_OK || r->all == NULL || r->tenants == NULL || r->preds == NULL ||
        r->scratch == NULL) {
        mdx_rul_live_destroy(r);
        return NULL;
    }
    if (conf->endpoint != NULL && conf->endpoint[0] != '\0') {
        char why[512];
        struct mdx_rul_auth *auth = mdx_rul_auth_create(conf->endpoint_credentials,
                                                        conf->endpoint_token_file,
                                                        conf->endpoint_region,
                                                        conf->endpoint_timeout_ms, err, why,
                                                        sizeof(why));
        if (auth == NULL) {
            mdx_log_error(MOD, "rul.endpoint credentials not usable", MDX_F_STR("reason", why));
        }
        if (auth == NULL || (r->remote = mdx_rul_remote_create(conf->endpoint, auth,
                                                               conf->endpoint_timeout_ms, err)) ==
                                NULL) {
            mdx_rul_live_destroy(r);
            return NULL;
        }
    }
    r->next_poll_us = mdx_mono_us() + conf->model_poll_s * 1000000LL;
    r->next_predict_us = mdx_mono_us() + conf->predict_interval_s * 1000000LL;
    *err = MDX_OK;
    return r;
}

void mdx_rul_live_destroy(struct mdx_rul_live *r)
{
    if (r == NULL) {
        return;
    }
    mdx_rul_remote_destroy(r->remote); /* before the devices its job points to */
    for (size_t i = 0; r->all != NULL && i < r->n_devs; i++) {
        dev_free_ring(r->all[i]);
        mdx_free(r->all[i]);
    }
    for (int i = 0; i < MODELS_MAX; i++) {
        model_unload(&r->models[i]);
    }
    mdx_htab_fini(&r->devs);
    mdx_free(r->all);
    mdx_free(r->tenants);
    mdx_free(r->preds);
    mdx_free(r->scratch);
    mdx_free(r);
}

void mdx_rul_live_stats(const struct mdx_rul_live *r, struct mdx_rul_live_stats *out)
{
    *out = r->st;
    out->devices = r->n_devs;
}

/* ---- the stage (stage.h) ---- */

const struct mdx_stage_ops mdx_rul_live_stage = {
    .name = "rul",
    .on_points = rul_live_on_points,
    .on_event = rul_live_on_event,
    .tick = rul_live_tick,
};
