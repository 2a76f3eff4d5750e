/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_emf.c - the main figures as CloudWatch embedded-metric-format
 * (EMF) lines on stdout, for AWS deployments (api.metrics_emf = true): a
 * thread writes one line every api.metrics_emf_interval_s, and one last
 * line when it stops. CloudWatch Logs (the awslogs driver or the agent)
 * turns each line into metric data points.
 *
 * One line is one JSON object:
 *
 *   {"_aws":{"Timestamp":1764237600000,
 *            "CloudWatchMetrics":[{"Namespace":"MODAX",
 *                                  "Dimensions":[["Service"]],
 *                                  "Metrics":[{"Name":"MessagesReceived","Unit":"Count"},
 *                                             {"Name":"SpoolPendingBytes","Unit":"Bytes"},
 *                                             ...]}]},
 *    "Service":"modax","MessagesReceived":1200,"SpoolPendingBytes":0,...}
 *
 * Timestamp is epoch milliseconds; each metric named in "Metrics" is a
 * number member of the root. Counters (Unit "Count": messages, points,
 * batches, retries, alerts opened / resolved, sink deliveries / failures,
 * HTTP requests / 5xx answers) are the change since the previous line, so
 * CloudWatch's Sum over a period is what happened in it; gauges are the
 * value now (SpoolPendingBytes, AlertsActive, StreamClients,
 * ResidentMemoryBytes). StoreBatchLatency (Milliseconds) is the mean
 * latency of the batches stored since the previous line, present only
 * when there were some. Ingest, alerting and sink metrics appear only
 * when those parts run in this process.
 *
 * After it, one line per device (the devices /metrics shows, up to
 * api.metrics_devices_max), as the cloud guide's per-tenant dashboards
 * want them: namespace "MODAX/<api.metrics_emf_environment>", dimensions
 * TenantId and DeviceId, DeviceTemperature and DeviceCurrent the latest
 * value of the device's temperature and current sensors (an array when it
 * has several):
 *
 *   {"_aws":{"Timestamp":...,"CloudWatchMetrics":[{"Namespace":"MODAX/production",
 *            "Dimensions":[["TenantId","DeviceId"]],
 *            "Metrics":[{"Name":"DeviceTemperature","Unit":"None"},...]}]},
 *    "TenantId":"acme","DeviceId":"press-1","DeviceTemperature":45.3,"DeviceCurrent":5.1}
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/thread_stop.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#include "api/metrics_int.h"

#define MOD "api"

struct api_emf {
    struct api *api;
    int64_t interval_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    struct metrics_main prev;
    char ns[128];             /* "MODAX/<api.metrics_emf_environment>": the device lines' */
};

static uint64_t delta(uint64_t now, uint64_t prev)
{
    return now >= prev ? now - prev : now; /* a reset counter starts over */
}

/* Adds {"Name","Unit"} to 'defs' and the value to 'root'; 0 on success. */
static int add_metric(cJSON *defs, cJSON *root, const char *name, const char *unit, double v)
{
    cJSON *d = cJSON_CreateObject();

    if (d == NULL || !cJSON_AddItemToArray(defs, d) ||
        cJSON_AddStringToObject(d, "Name", name) == NULL ||
        cJSON_AddStringToObject(d, "Unit", unit) == NULL ||
        cJSON_AddNumberToObject(root, name, v) == NULL) {
        return -1;
    }
    return 0;
}

/* A counter: its change since the previous line. */
static int add_count(cJSON *defs, cJSON *root, const char *name, uint64_t now, uint64_t prev)
{
    return add_metric(defs, root, name, "Count", (double)delta(now, prev));
}

/*
 * A new EMF document at 'ts_ms' for namespace 'ns' whose one dimension set
 * is names[0..n) with the values values[0..n); *defs is its "Metrics"
 * array, for add_metric(). NULL when out of memory.
 */
static cJSON *emf_doc(const char *ns, int64_t ts_ms, const char *const *names,
                      const char *const *values, size_t n, cJSON **defs)
{
    cJSON *root = cJSON_CreateObject(), *aws, *directives, *dir, *dims, *dim = NULL;
    int ok;

    if (root == NULL) {
        return NULL;
    }
    aws = cJSON_AddObjectToObject(root, "_aws");
    directives = aws != NULL ? cJSON_AddArrayToObject(aws, "CloudWatchMetrics") : NULL;
    dir = cJSON_CreateObject();
    if (directives == NULL || dir == NULL || !cJSON_AddItemToArray(directives, dir)) {
        cJSON_Delete(dir); /* not attached to root */
        cJSON_Delete(root);
        return NULL;
    }
    ok = cJSON_AddNumberToObject(aws, "Timestamp", (double)ts_ms) != NULL &&
         cJSON_AddStringToObject(dir, "Namespace", ns) != NULL &&
         (dims = cJSON_AddArrayToObject(dir, "Dimensions")) != NULL &&
         (dim = cJSON_CreateArray()) != NULL && cJSON_AddItemToArray(dims, dim);
    for (size_t i = 0; ok && i < n; i++) {
        ok = cJSON_AddItemToArray(dim, cJSON_CreateString(names[i]));
    }
    ok = ok && (*defs = cJSON_AddArrayToObject(dir, "Metrics")) != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        ok = cJSON_AddStringToObject(root, names[i], values[i]) != NULL;
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* Prints 'root' (freed here) as one line when 'ok'; a new string to mdx_free(), or NULL. */
static char *emf_print(cJSON *root, int ok)
{
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL, *out = NULL;

    cJSON_Delete(root);
    if (text != NULL) {
        out = mdx_strdup(text); /* callers free with mdx_free() */
        cJSON_free(text);
    }
    return out;
}

char *metrics_emf_line(const struct metrics_main *now, const struct metrics_main *prev,
                       int64_t ts_ms)
{
    static const struct metrics_main zero;
    static const char *const dim_names[] = {"Service"}, *const dim_values[] = {"modax"};
    cJSON *defs, *root = emf_doc("MODAX", ts_ms, dim_names, dim_values, 1, &defs);
    int bad = 0;

    if (prev == NULL) {
        prev = &zero;
    }
    if (root == NULL) {
        return NULL;
    }
    if (now->has_ingest) {
        bad |= add_count(defs, root, "MessagesReceived", now->msgs_received, prev->msgs_received);
        bad |= add_count(defs, root, "MessagesStored", now->msgs_stored, prev->msgs_stored);
        bad |= add_count(defs, root, "MessagesRefused", now->msgs_refused, prev->msgs_refused);
        bad |= add_count(defs, root, "PointsWritten", now->points_written, prev->points_written);
        bad |= add_count(defs, root, "PointsDuplicate", now->points_duplicate,
                         prev->points_duplicate);
        bad |= add_count(defs, root, "EventsWritten", now->events_written, prev->events_written);
        bad |= add_count(defs, root, "StoreBatches", now->batches, prev->batches);
        bad |= add_count(defs, root, "StoreRetries", now->store_retries, prev->store_retries);
        bad |= add_metric(defs, root, "SpoolPendingBytes", "Bytes",
                          (double)now->spool_pending_bytes);
        uint64_t n = delta(now->commit_count, prev->commit_count);
        if (n > 0) {
            double ms = (double)delta(now->commit_us_sum, prev->commit_us_sum) / 1000.0 / (double)n;
            bad |= add_metric(defs, root, "StoreBatchLatency", "Milliseconds", ms);
        }
    }
    if (now->has_alerting) {
        bad |= add_count(defs, root, "AlertsOpened", now->alerts_opened, prev->alerts_opened);
        bad |= add_count(defs, root, "AlertsResolved", now->alerts_resolved, prev->alerts_resolved);
        bad |= add_metric(defs, root, "AlertsActive", "Count", (double)now->alerts_active);
        bad |= add_count(defs, root, "SinkDeliveries", now->sink_delivered, prev->sink_delivered);
        bad |= add_count(defs, root, "SinkFailures", now->sink_failed, prev->sink_failed);
    }
    bad |= add_count(defs, root, "HttpRequests", now->http_requests, prev->http_requests);
    bad |= add_count(defs, root, "HttpServerErrors", now->http_5xx, prev->http_5xx);
    bad |= add_metric(defs, root, "StreamClients", "Count", (double)now->stream_clients);
    bad |= add_metric(defs, root, "ResidentMemoryBytes", "Bytes", (double)now->resident_bytes);
    return emf_print(root, !bad);
}

/* Adds metric 'name' with its values: one number, or an array for several sensors. */
static int add_values(cJSON *defs, cJSON *root, const char *name, const double *v, size_t n)
{
    cJSON *d, *arr;

    if (n == 0) {
        return 0;
    }
    d = cJSON_CreateObject();
    if (d == NULL || !cJSON_AddItemToArray(defs, d) ||
        cJSON_AddStringToObject(d, "Name", name) == NULL ||
        cJSON_AddStringToObject(d, "Unit", "None") == NULL) {
        return -1;
    }
    if (n == 1) {
        return cJSON_AddNumberToObject(root, name, v[0]) != NULL ? 0 : -1;
    }
    arr = cJSON_CreateDoubleArray(v, (int)n);
    return arr != NULL && cJSON_AddItemToObject(root, name, arr) ? 0 : -1;
}

char *metrics_emf_device_line(const char *ns, const char *tenant, const char *device,
                              const double *temps, size_t nt, const double *currents, size_t nc,
                              int64_t ts_ms)
{
    static const char *const dim_names[] = {"TenantId", "DeviceId"};
    const char *const dim_values[] = {tenant, device};
    cJSON *defs, *root = emf_doc(ns, ts_ms, dim_names, dim_values, 2, &defs);

    if (root == NULL) {
        return NULL;
    }
    return emf_print(root, add_values(defs, root, "DeviceTemperature", temps, nt) == 0 &&
                               add_values(defs, root, "DeviceCurrent", currents, nc) == 0);
}

static void put_line(char *line)
{
    flockfile(stdout);
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    funlockfile(stdout);
    mdx_free(line);
}

/* One device's values, gathered while the walk is on it. */
struct device_lines {
    const char *ns;
    int64_t ts_ms;
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    double temps[METRICS_EMF_VALUES_MAX], currents[METRICS_EMF_VALUES_MAX];
    size_t nt, nc;
    uint64_t lines, failed;
};

static void flush_device(struct device_lines *d)
{
    char *line;

    if (d->nt + d->nc == 0) {
        return;
    }
    line = metrics_emf_device_line(d->ns, d->tenant, d->device, d->temps, d->nt, d->currents,
                                   d->nc, d->ts_ms);
    if (line != NULL) {
        put_line(line);
        d->lines++;
    } else {
        d->failed++;
    }
    d->nt = d->nc = 0;
}

static int on_device_value(void *arg, const char *tenant, const char *device, const char *sensor,
                           enum metrics_sensor kind, double value)
{
    struct device_lines *d = arg;

    (void)sensor;
    if (strcmp(tenant, d->tenant) != 0 || strcmp(device, d->device) != 0) {
        flush_device(d);
        snprintf(d->tenant, sizeof(d->tenant), "%s", tenant);
        snprintf(d->device, sizeof(d->device), "%s", device);
    }
    if (kind == METRICS_TEMPERATURE && d->nt < METRICS_EMF_VALUES_MAX) {
        d->temps[d->nt++] = value;
    } else if (kind == METRICS_CURRENT && d->nc < METRICS_EMF_VALUES_MAX) {
        d->currents[d->nc++] = value;
    }
    return MDX_OK;
}

/* The per-device lines: the devices /metrics shows (api.metrics_devices_max), one line each. */
static void write_device_lines(struct api_emf *w, int64_t ts_ms)
{
    struct mdx_store *st = api_stores_get(w->api->stores);
    struct device_lines *d;
    size_t n = 0;
    uint64_t skipped = 0;
    int rc;

    if (st == NULL || w->api->conf->metrics_devices_max <= 0) {
        return;
    }
    d = mdx_calloc(1, sizeof(*d));
    if (d == NULL) {
        return;
    }
    d->ns = w->ns;
    d->ts_ms = ts_ms;
    rc = metrics_devices_each(st, w->api->conf->metrics_devices_max, on_device_value, d, &n,
                              &skipped);
    flush_device(d);
    if (rc != MDX_OK || d->failed > 0) {
        mdx_log_warn(MOD, "EMF device lines incomplete", MDX_F_ERR(rc != MDX_OK ? rc : MDX_ENOMEM));
        if (rc == MDX_ECONN || rc == MDX_EIO) {
            api_stores_drop(w->api->stores);
        }
    }
    mdx_free(d);
}

/* Collects the figures and writes one line; keeps them for the next line's changes. */
static void write_line(struct api_emf *w)
{
    struct metrics_main now;
    int64_t ts;
    char *line;

    metrics_main_collect(w->api, &now);
    ts = mdx_now_ms();
    line = metrics_emf_line(&now, &w->prev, ts);
    if (line == NULL) {
        mdx_log_warn(MOD, "EMF metrics line skipped", MDX_F_ERR(MDX_ENOMEM));
        return;
    }
    put_line(line);
    w->prev = now;
    write_device_lines(w, ts);
}

static void *emf_main(void *arg)
{
    struct api_emf *w = arg;
    struct timespec until;

    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)w->interval_s;
        while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
        }
        pthread_mutex_unlock(&w->mu);
        write_line(w); /* every interval, and once more when stopping */
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int api_emf_start(struct api *api, struct api_emf **out)
{
    struct api_emf *w;
    pthread_condattr_t ca;

    *out = NULL;
    if (!api->conf->metrics_emf) {
        return MDX_OK;
    }
    w = mdx_calloc(1, sizeof(*w));
    if (w == NULL) {
        mdx_log_error(MOD, "cannot start the EMF metrics writer", MDX_F_ERR(MDX_ENOMEM));
        return MDX_ENOMEM;
    }
    w->api = api;
    snprintf(w->ns, sizeof(w->ns), "MODAX/%s", api->conf->metrics_emf_environment != NULL &&
                                                       api->conf->metrics_emf_environment[0]
                                                   ? api->conf->metrics_emf_environment
                                                   : "production");
    w->interval_s = api->conf->metrics_emf_interval_s > 0 ? api->conf->metrics_emf_interval_s : 60;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, emf_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        mdx_free(w);
        mdx_log_error(MOD, "cannot start the EMF metrics writer", MDX_F_ERR(MDX_ENOMEM));
        return MDX_ENOMEM;
    }
    *out = w;
    return MDX_OK;
}

void api_emf_stop(struct api_emf *w)
{
    if (w == NULL) {
        return;
    }
    mdx_thread_stop(&w->mu, &w->cv, &w->stop, w->thread);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    mdx_free(w);
}
