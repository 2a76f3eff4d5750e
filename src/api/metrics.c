/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - the HTTP counters and the /metrics page (Prometheus text
 * format 0.0.4).
 *
 * api_metrics_record() is on every request's path: it adds to atomics in
 * a fixed array, one slot per route (plus one for requests that matched
 * none) holding a count per status code 100..599 and a latency histogram.
 * No lock, no allocation.
 *
 * The page holds, all named modax_*, counters ending in _total, units in
 * the names: the ingest (when the engine runs in this process: messages,
 * points, events, batches, retries, spool depth, dead letters by reason,
 * store batch latency histogram), alerting (alerts opened / resolved /
 * reopened, active, overflow) and sinks (deliveries, retries, failures,
 * overflow, queue depth by sink), the live stream, HTTP requests by
 * method, route pattern and status code with a latency histogram by
 * route, the process (resident memory, open files, start time, uptime),
 * and the per-device gauges (metrics_devices.c).
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "modax/alert.h"
#include "modax/alerting.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/engine.h"
#include "modax/log.h"
#include "modax/source.h"
#include "modax/status.h"

#include "api/conn_guard.h"
#include "api/metrics_int.h"
#include "api/reply.h"

#define MOD "api"

#define CODE_MIN 100
#define CODE_SLOTS 500            /* status codes 100..599; others count as "other" */
#define HTTP_BUCKETS 13
#define SINKS_MAX 32

/* Upper bounds of the HTTP latency buckets, microseconds. */
static const int64_t http_bounds_us[HTTP_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
};

struct route_counts {
    atomic_uint_fast64_t codes[CODE_SLOTS];
    atomic_uint_fast64_t other_code;
    atomic_uint_fast64_t buckets[HTTP_BUCKETS + 1]; /* not cumulative; last: beyond 5 s */
    atomic_uint_fast64_t us_sum;
};

struct api_metrics {
    const struct mdx_api_conf *conf;
    size_t n_routes;
    struct route_counts *routes;  /* n_routes + 1: the last is "no route" */
    int64_t start_ms;             /* wall clock at create */
    int64_t start_mono_us;
    atomic_uint_fast64_t device_errors; /* pages whose per-device gauges failed */
};

struct api_metrics *api_metrics_create(const struct mdx_api_conf *conf, size_t n_routes)
{
    struct api_metrics *m = mdx_calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    m->routes = mdx_calloc(n_routes + 1, sizeof(*m->routes));
    if (m->routes == NULL) {
        mdx_free(m);
        return NULL;
    }
    m->conf = conf;
    m->n_routes = n_routes;
    m->start_ms = mdx_now_ms();
    m->start_mono_us = mdx_mono_us();
    return m;
}

void api_metrics_destroy(struct api_metrics *m)
{
    if (m == NULL) {
        return;
    }
    mdx_free(m->routes);
    mdx_free(m);
}

void api_metrics_record(struct api_metrics *m, size_t route, unsigned status, int64_t us)
{
    struct route_counts *rc;
    size_t b = 0;

    if (m == NULL) {
        return;
    }
    rc = &m->routes[route < m->n_routes ? route : m->n_routes];
    if (status >= CODE_MIN && status < CODE_MIN + CODE_SLOTS) {
        atomic_fetch_add_explicit(&rc->codes[status - CODE_MIN], 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&rc->other_code, 1, memory_order_relaxed);
    }
    if (us < 0) {
        us = 0;
    }
    while (b < HTTP_BUCKETS && us > http_bounds_us[b]) {
        b++;
    }
    atomic_fetch_add_explicit(&rc->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rc->us_sum, (uint64_t)us, memory_order_relaxed);
}

void metrics_http_totals(struct api_metrics *m, uint64_t *requests, uint64_t *errors_5xx)
{
    *requests = *errors_5xx = 0;
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i <= m->n_routes; i++) {
        struct route_counts *rc = &m->routes[i];
        for (size_t b = 0; b <= HTTP_BUCKETS; b++) {
            *requests += atomic_load_explicit(&rc->buckets[b], memory_order_relaxed);
        }
        for (unsigned c = 500; c < 600; c++) {
            *errors_5xx += atomic_load_explicit(&rc->codes[c - CODE_MIN], memory_order_relaxed);
        }
    }
}

uint64_t metrics_resident_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    long page = sysconf(_SC_PAGESIZE);

    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%llu %llu", &size, &resident) != 2) {
        resident = 0;
    }
    fclose(f);
    return page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

/* Open file descriptors (entries of /proc/self/fd, less the one reading it); -1 if unknown. */
static int64_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int64_t n = 0;
    struct dirent *e;

    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

/* ---- the page ---- */

static void family(struct mdx_buf *b, const char *name, const char *type, const char *help)
{
    mdx_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct mdx_buf *b, const char *name, const char *help, uint64_t v)
{
    family(b, name, "counter", help);
    mdx_buf_addf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct mdx_buf *b, const char *name, const char *help, double v)
{
    family(b, name, "gauge", help);
    mdx_buf_addf(b, "%s ", name);
    metrics_text_value(b, v);
    mdx_buf_adds(b, "\n");
}

static void on_reason(void *arg, const char *reason, uint64_t n)
{
    struct mdx_buf *b = arg;

    mdx_buf_adds(b, "modax_deadletters_total{reason=\"");
    metrics_text_label(b, reason);
    mdx_buf_addf(b, "\"} %llu\n", (unsigned long long)n);
}

static void render_ingest(struct mdx_buf *b, struct mdx_engine *e)
{
    struct mdx_engine_stats s;
    uint64_t cum = 0;

    mdx_engine_stats(e, &s);
    counter(b, "modax_messages_received_total", "Messages received from the broker.",
            s.msgs_received);
    counter(b, "modax_messages_stored_total", "Messages accepted and stored.", s.msgs_stored);
    counter(b, "modax_messages_refused_total", "Messages refused (became dead letters).",
            s.msgs_refused);
    counter(b, "modax_points_written_total", "Points written to the store.", s.points_written);
    counter(b, "modax_points_duplicate_total", "Points already stored (not written again).",
            s.points_duplicate);
    counter(b, "modax_points_ts_substituted_total",
            "Points whose device timestamp was replaced by the receive time.",
            s.points_ts_substituted);
    counter(b, "modax_events_written_total", "Events (status, safety) written to the store.",
            s.events_written);
    counter(b, "modax_store_batches_total", "Store transactions committed by the ingest.",
            s.batches);
    counter(b, "modax_store_retries_total", "Failed store writes retried from the spool.",
            s.store_retries);
    gauge(b, "modax_spool_pending_bytes", "Spooled bytes not yet stored (the MQTT source's lag).",
          (double)s.spool_pending_bytes);
    if (s.source_lag >= 0) {
        /* a pull source (Kafka): how far behind the log's end, over its partitions */
        gauge(b, "modax_source_lag_records", "Records behind the end of the source's log "
                                             "(Kafka consumer lag) over the partitions held.",
              (double)s.source_lag);
        gauge(b, "modax_source_partitions", "Partitions this worker holds now.",
              (double)s.source_partitions);
    }
    family(b, "modax_deadletters_total", "counter", "Refused messages by reason.");
    mdx_engine_reason_counts(e, on_reason, b);

    family(b, "modax_store_batch_latency_seconds", "histogram",
           "Time from a batch's first write attempt until it is stored (retries included).");
    for (size_t i = 0; i < MDX_COMMIT_BUCKETS; i++) {
        cum += s.commit_buckets[i];
        mdx_buf_addf(b, "modax_store_batch_latency_seconds_bucket{le=\"%g\"} %llu\n",
                           (double)mdx_engine_commit_bounds_ms[i] / 1000.0,
                           (unsigned long long)cum);
    }
    cum += s.commit_buckets[MDX_COMMIT_BUCKETS];
    mdx_buf_addf(b, "modax_store_batch_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                       (unsigned long long)cum);
    mdx_buf_addf(b, "modax_store_batch_latency_seconds_sum ");
    metrics_text_value(b, (double)s.commit_us_sum / 1e6);
    mdx_buf_addf(b, "\nmodax_store_batch_latency_seconds_count %llu\n",
                       (unsigned long long)cum);
}

static void render_alerting(struct mdx_buf *b, struct mdx_alerting *a)
{
    struct mdx_alerting_stats s;

    mdx_alerting_stats_shared(a, &s);
    counter(b, "modax_alerts_opened_total", "Alerts opened.", s.opened);
    counter(b, "modax_alerts_resolved_total", "Alerts resolved.", s.resolved);
    counter(b, "modax_alerts_reopened_total",
            "Alerts raised again within alert.flap_s of their resolve (the same alert).",
            s.reopened);
    gauge(b, "modax_alerts_active", "Alerts open or acknowledged now.", (double)s.alerts_active);
    counter(b, "modax_alerts_overflow_total", "Alerts not raised: the alert table was full.",
            s.alerts_overflow);
    counter(b, "modax_alert_rules_overflow_total",
            "Rules not evaluated: too many on one series.", s.rules_overflow);
    counter(b, "modax_alert_publish_dropped_total",
            "Alert changes not published on MQTT (not connected or too many in flight).",
            s.publish_dropped);
    gauge(b, "modax_detector_series", "Series tracked by the detector now.", (double)s.series);
    counter(b, "modax_detector_points_scored_total", "Points scored by the detector.",
            s.points_scored);
    counter(b, "modax_detector_states_saved_total",
            "Detector states stored with batches (periodic saves and handovers).",
            s.detector_states_saved);
    counter(b, "modax_detector_states_loaded_total",
            "Series that resumed from a saved detector state.", s.detector_states_loaded);
    counter(b, "modax_detector_states_refused_total",
            "Saved detector states of another format or size, not used.",
            s.detector_states_refused);
}

/* One labelled sample "NAME{sink="S"} V". */
static void sink_sample(struct mdx_buf *b, const char *name, const char *sink, uint64_t v)
{
    mdx_buf_addf(b, "%s{sink=\"", name);
    metrics_text_label(b, sink != NULL ? sink : "");
    mdx_buf_addf(b, "\"} %llu\n", (unsigned long long)v);
}

static void render_sinks(struct mdx_buf *b, struct mdx_dispatch *d)
{
    struct mdx_sink_stats s[SINKS_MAX];
    size_t n = mdx_dispatch_stats(d, s, SINKS_MAX);

    if (n > SINKS_MAX) {
        n = SINKS_MAX;
    }
    family(b, "modax_sink_deliveries_total", "counter", "Alert changes delivered, by sink.");
    for (size_t i = 0; i < n; i++) {
        sink_sample(b, "modax_sink_deliveries_total", s[i].name, s[i].delivered);
    }
    family(b, "modax_sink_retries_total", "counter", "Deliveries retried, by sink.");
    for (size_t i = 0; i < n; i++) {
        sink_sample(b, "modax_sink_retries_total", s[i].name, s[i].retries);
    }
    family(b, "modax_sink_failures_total", "counter",
           "Deliveries given up (rejected by the receiver), by sink.");
    for (size_t i = 0; i < n; i++) {
        sink_sample(b, "modax_sink_failures_total", s[i].name, s[i].rejected);
    }
    family(b, "modax_sink_overflow_total", "counter",
           "Alert changes dropped because the sink's queue was full, by sink.");
    for (size_t i = 0; i < n; i++) {
        sink_sample(b, "modax_sink_overflow_total", s[i].name, s[i].overflow);
    }
    family(b, "modax_sink_queued", "gauge", "Alert changes waiting for delivery, by sink.");
    for (size_t i = 0; i < n; i++) {
        sink_sample(b, "modax_sink_queued", s[i].name, s[i].queued);
    }
}

static void render_hub(struct mdx_buf *b, struct api_hub *h)
{
    struct api_hub_stats s;

    api_hub_stats(h, &s);
    gauge(b, "modax_stream_clients", "Live-stream clients connected now.", (double)s.clients);
    counter(b, "modax_stream_opened_total", "Live streams opened.", s.opened);
    counter(b, "modax_stream_dropped_slow_total",
            "Live-stream clients dropped because their queue was full.", s.dropped_slow);
    counter(b, "modax_stream_refused_full_total",
            "Live streams refused: api.stream_max_clients reached.", s.refused_full);
    counter(b, "modax_stream_events_total", "Events queued to live-stream clients.", s.events);
}

static void render_link(struct mdx_buf *b, struct api_link *l)
{
    struct api_link_stats s;

    api_link_stats(l, &s);
    counter(b, "modax_stream_link_received_total",
            "Messages the API's own broker connection received for the live stream.", s.received);
    counter(b, "modax_stream_link_sensor_data_total",
            "Of which sensor_data (none when the ingest feeds the stream in-process).",
            s.sensor_data);
    counter(b, "modax_stream_link_ignored_total",
            "Messages the API's broker connection ignored: not valid.", s.ignored);
    counter(b, "modax_stream_link_oversized_total",
            "Messages the API's broker connection ignored unparsed: over "
            "ingest.max_payload_bytes.", s.oversized);
    gauge(b, "modax_stream_link_sensor_filters",
          "sensor_data topic filters the API's broker connection subscribes to now (watched "
          "devices and tenants).", (double)s.sensor_filters);
}

/* Writes {method="M",route="R" (no closing brace). */
static void route_labels(struct mdx_buf *b, const struct api *api, size_t i)
{
    const struct api_route *rt = i < api->n_routes ? api->routes[i] : NULL;

    mdx_buf_adds(b, "{method=\"");
    metrics_text_label(b, rt != NULL ? rt->method : "other");
    mdx_buf_adds(b, "\",route=\"");
    metrics_text_label(b, rt != NULL ? rt->pattern : "other");
    mdx_buf_adds(b, "\"");
}

static void render_http(struct mdx_buf *b, const struct api *api, struct api_metrics *m)
{
    family(b, "modax_http_requests_total", "counter",
           "HTTP requests answered, by method, route pattern (\"other\": no route) and status "
           "code.");
    for (size_t i = 0; i <= m->n_routes; i++) {
        struct route_counts *rc = &m->routes[i];
        for (size_t c = 0; c < CODE_SLOTS; c++) {
            uint64_t n = atomic_load_explicit(&rc->codes[c], memory_order_relaxed);
            if (n > 0) {
                mdx_buf_adds(b, "modax_http_requests_total");
                route_labels(b, api, i);
                mdx_buf_addf(b, ",code=\"%zu\"} %llu\n", c + CODE_MIN,
                                   (unsigned long long)n);
            }
        }
        uint64_t n = atomic_load_explicit(&rc->other_code, memory_order_relaxed);
        if (n > 0) {
            mdx_buf_adds(b, "modax_http_requests_total");
            route_labels(b, api, i);
            mdx_buf_addf(b, ",code=\"other\"} %llu\n", (unsigned long long)n);
        }
    }
    family(b, "modax_http_request_duration_seconds", "histogram",
           "Time to answer HTTP requests, by method and route pattern.");
    for (size_t i = 0; i <= m->n_routes; i++) {
        struct route_counts *rc = &m->routes[i];
        uint64_t counts[HTTP_BUCKETS + 1], total = 0, cum = 0;
        for (size_t k = 0; k <= HTTP_BUCKETS; k++) {
            counts[k] = atomic_load_explicit(&rc->buckets[k], memory_order_relaxed);
            total += counts[k];
        }
        if (total == 0) {
            continue; /* routes never called stay off the page */
        }
        for (size_t k = 0; k <= HTTP_BUCKETS; k++) {
            cum += counts[k];
            mdx_buf_adds(b, "modax_http_request_duration_seconds_bucket");
            route_labels(b, api, i);
            if (k < HTTP_BUCKETS) {
                mdx_buf_addf(b, ",le=\"%g\"} %llu\n", (double)http_bounds_us[k] / 1e6,
                                   (unsigned long long)cum);
            } else {
                mdx_buf_addf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
            }
        }
        mdx_buf_adds(b, "modax_http_request_duration_seconds_sum");
        route_labels(b, api, i);
        mdx_buf_adds(b, "} ");
        metrics_text_value(
            b, (double)atomic_load_explicit(&rc->us_sum, memory_order_relaxed) / 1e6);
        mdx_buf_adds(b, "\nmodax_http_request_duration_seconds_count");
        route_labels(b, api, i);
        mdx_buf_addf(b, "} %llu\n", (unsigned long long)total);
    }
}

static void render_process(struct mdx_buf *b, struct api_metrics *m)
{
    int64_t fds = open_fds();

    gauge(b, "modax_process_resident_memory_bytes", "Resident memory of the process.",
          (double)metrics_resident_bytes());
    if (fds >= 0) {
        gauge(b, "modax_process_open_fds", "Open file descriptors of the process.",
              (double)fds);
    }
    gauge(b, "modax_process_start_time_seconds", "Start time of the API server, Unix time.",
          (double)m->start_ms / 1000.0);
    gauge(b, "modax_uptime_seconds", "Time since the API server started.",
          (double)(mdx_mono_us() - m->start_mono_us) / 1e6);
}

void api_route_metrics(struct api_req *r)
{
    struct api *api = r->api;
    struct api_metrics *m = api->metrics;
    struct mdx_buf b;
    int rc;

    if (m == NULL) {
        api_error(r, 503, "unavailable", "metrics are not set up");
        return;
    }
    mdx_buf_init(&b, METRICS_PAGE_MAX);
    if (api->deps.engine != NULL) {
        render_ingest(&b, api->deps.engine);
    }
    if (api->deps.source_ops != NULL && api->deps.source != NULL) {
        gauge(&b, "modax_source_ready", "1 while the ingest's source is connected and "
                                        "subscribed (what /readyz asks of it).",
              api->deps.source_ops->ready(api->deps.source) ? 1.0 : 0.0);
    }
    if (api->deps.alerting != NULL) {
        render_alerting(&b, api->deps.alerting);
    }
    if (api->deps.dispatch != NULL) {
        render_sinks(&b, api->deps.dispatch);
    }
    if (api->hub != NULL) {
        render_hub(&b, api->hub);
    }
    if (api->link != NULL) {
        render_link(&b, api->link);
    }
    render_http(&b, api, m);
    api_guard_render(&b, (struct api_guard *const[]){api->guard, api->admin_guard}, 2);
    render_process(&b, m);
    rc = metrics_devices_render(&b, r->store, m->conf->metrics_devices_max);
    if (rc != MDX_OK) {
        atomic_fetch_add(&m->device_errors, 1);
        mdx_log_warn(MOD, "per-device metrics incomplete", MDX_F_ERR(rc));
    }
    counter(&b, "modax_device_metrics_errors_total",
            "Pages whose per-device gauges are incomplete: the store could not be read.",
            atomic_load(&m->device_errors));
    api_reply_buf(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b, "the metrics page");
}
