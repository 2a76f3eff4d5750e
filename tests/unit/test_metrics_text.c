/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics_text.c - the parts of /metrics that need no server: label
 * escaping and values of the text format, the per-device gauges over a
 * real SQLite store (sensor choice, device cap), the HTTP counters, and
 * the shape of the CloudWatch EMF line (parsed back with cJSON).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "store_util.h"
#include "api/metrics_int.h"
#include "modax/alloc.h"
#include "modax/status.h"

static void label_values_are_escaped(void)
{
    struct mdx_buf b;

    mdx_buf_init(&b, METRICS_PAGE_MAX);
    metrics_text_label(&b, "a\\b\"c\nd");
    CHECK_STR(mdx_buf_str(&b), "a\\\\b\\\"c\\nd");
    mdx_buf_fini(&b);
    metrics_text_label(&b, "plain");
    CHECK_STR(mdx_buf_str(&b), "plain");
    mdx_buf_fini(&b);
}

static void values_are_written_exactly(void)
{
    struct mdx_buf b;

    mdx_buf_init(&b, METRICS_PAGE_MAX);
    metrics_text_value(&b, 45.25);
    mdx_buf_adds(&b, " ");
    metrics_text_value(&b, 5.1);
    mdx_buf_adds(&b, " ");
    metrics_text_value(&b, NAN);
    mdx_buf_adds(&b, " ");
    metrics_text_value(&b, -INFINITY);
    mdx_buf_adds(&b, " ");
    metrics_text_value(&b, 12000);
    CHECK_STR(mdx_buf_str(&b), "45.25 5.1 NaN -Inf 12000");
    mdx_buf_fini(&b);
}

static void page_stops_at_its_cap(void)
{
    struct mdx_buf b;
    char line[1000];
    int i;

    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    mdx_buf_init(&b, 50 * 1000);
    for (i = 0; i < 100 && b.err == MDX_OK; i++) {
        mdx_buf_addf(&b, "%s\n", line);
    }
    /* The 51st line is over the cap: refused, and so is all that follows. */
    CHECK_EQ_INT(i, 51);
    CHECK_EQ_INT(b.err, MDX_EFULL);
    CHECK_EQ_INT(b.len, 50 * 1000);
    metrics_text_label(&b, "more");
    CHECK_EQ_INT(b.len, 50 * 1000);
    CHECK(mdx_buf_take(&b) == NULL);
    mdx_buf_fini(&b);
}

static struct mdx_store *open_store(void)
{
    struct mdx_store_conf conf = {0};
    const char *path = tmp_db_fresh();
    int err;

    CHECK(path != NULL);
    conf.backend = "sqlite";
    conf.sqlite_path = (char *)path;
    conf.busy_timeout_ms = 1000;
    conf.chunk_points = 16;
    conf.cache_series = 1000;
    conf.deadletter_max = 100;
    return mdx_store_open(&conf, &err);
}

static void fill_store(struct mdx_store *st)
{
    struct mdx_point p[5];

    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    add_tenant_device(st, "globex", "mill-1");
    set_point(&p[0], "temperature_mean", 1000, 45.25, 0);
    set_point(&p[1], "current_mean", 1000, 5.5, 0);
    set_point(&p[2], "vibration_x", 1000, 0.9, 0);
    set_point(&p[3], "motor_current_0", 1000, 7, 0);
    set_point(&p[4], "temperature_0", 1000, 50, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 5, NULL), MDX_OK);
    set_point(&p[0], "temperature_mean", 2000, 46.5, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 1, NULL), MDX_OK);
    set_point(&p[0], "temperature_mean", 1000, 30, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-2", p, 1, NULL), MDX_OK);
    set_point(&p[0], "current_mean", 1000, 2, 0);
    CHECK_EQ_INT(write_points(st, "globex", "mill-1", p, 1, NULL), MDX_OK);
}

/* 1 if the text of 'b' holds 's'. */
static int has(const struct mdx_buf *b, const char *s)
{
    return strstr(mdx_buf_str(b), s) != NULL;
}

static void device_gauges_pick_temperature_and_current(void)
{
    struct mdx_store *st = open_store();
    struct mdx_buf b;

    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    mdx_buf_init(&b, METRICS_PAGE_MAX);
    fill_store(st);
    CHECK_EQ_INT(metrics_devices_render(&b, st, 100), MDX_OK);
    CHECK_EQ_INT(b.err, MDX_OK);
    /* The newest value, per sensor. */
    CHECK(has(&b, "modax_device_temperature_celsius{tenant=\"acme\",device=\"press-1\","
                  "sensor=\"temperature_mean\"} 46.5\n"));
    CHECK(has(&b, "modax_device_temperature_celsius{tenant=\"acme\",device=\"press-1\","
                  "sensor=\"temperature_0\"} 50\n"));
    CHECK(has(&b, "modax_device_current_amperes{tenant=\"acme\",device=\"press-1\","
                  "sensor=\"current_mean\"} 5.5\n"));
    CHECK(has(&b, "modax_device_current_amperes{tenant=\"acme\",device=\"press-1\","
                  "sensor=\"motor_current_0\"} 7\n"));
    CHECK(has(&b, "device=\"press-2\",sensor=\"temperature_mean\"} 30\n"));
    CHECK(has(&b, "modax_device_current_amperes{tenant=\"globex\",device=\"mill-1\","
                  "sensor=\"current_mean\"} 2\n"));
    CHECK(!has(&b, "vibration"));
    CHECK(has(&b, "modax_device_metrics_truncated 0\n"));
    CHECK(has(&b, "modax_device_metrics_devices 3\n"));
    /* One HELP/TYPE per family. */
    const char *first = strstr(mdx_buf_str(&b), "# TYPE modax_device_temperature_celsius gauge");
    CHECK(first != NULL && strstr(first + 1, "# TYPE modax_device_temperature_celsius") == NULL);
    mdx_buf_fini(&b);

    /* The cap: the first device in (tenant, device) order only. */
    CHECK_EQ_INT(metrics_devices_render(&b, st, 1), MDX_OK);
    CHECK(has(&b, "device=\"press-1\""));
    CHECK(!has(&b, "press-2"));
    CHECK(!has(&b, "globex"));
    CHECK(has(&b, "modax_device_metrics_truncated 1\n"));
    CHECK(has(&b, "modax_device_metrics_skipped 2\n"));
    mdx_buf_fini(&b);

    /* No store: the gauges' families are still there, and the error is returned. */
    CHECK(metrics_devices_render(&b, NULL, 10) != MDX_OK);
    CHECK(has(&b, "modax_device_metrics_devices 0\n"));
    mdx_buf_fini(&b);
    mdx_store_close(st);
    tmp_db_remove();
}

static void http_counters_count_by_route_and_code(void)
{
    struct mdx_api_conf conf = {0};
    struct api_metrics *m = api_metrics_create(&conf, 3);
    uint64_t req, err5;

    CHECK(m != NULL);
    api_metrics_record(m, 0, 200, 100);
    api_metrics_record(m, 1, 503, 7000000);
    api_metrics_record(m, 99, 404, 10); /* no route */
    api_metrics_record(m, 2, 0, -5);    /* odd status and time still count */
    metrics_http_totals(m, &req, &err5);
    CHECK_EQ_INT(req, 4);
    CHECK_EQ_INT(err5, 1);
    api_metrics_destroy(m);
}

/* The number member 'name' of 'root', NAN if absent. */
static double num(const cJSON *root, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void emf_line_has_the_cloudwatch_shape(void)
{
    struct metrics_main prev = {0}, now = {0};
    char *line;
    cJSON *root;

    prev.has_ingest = now.has_ingest = 1;
    prev.msgs_received = 100;
    now.msgs_received = 160;
    now.points_written = 360;
    prev.points_written = 0;
    now.spool_pending_bytes = 4096;
    prev.commit_count = 2;
    now.commit_count = 6;
    prev.commit_us_sum = 1000;
    now.commit_us_sum = 9000; /* 8 ms over 4 batches: 2 ms */
    now.http_requests = 10;
    now.resident_bytes = 1 << 20;
    line = metrics_emf_line(&now, &prev, 1764237600123);
    CHECK(line != NULL);
    if (line == NULL) {
        return;
    }
    CHECK(strchr(line, '\n') == NULL);
    root = cJSON_Parse(line);
    CHECK(cJSON_IsObject(root));
    const cJSON *aws = cJSON_GetObjectItemCaseSensitive(root, "_aws");
    CHECK(cJSON_IsObject(aws));
    CHECK(num(aws, "Timestamp") == 1764237600123.0);
    const cJSON *dirs = cJSON_GetObjectItemCaseSensitive(aws, "CloudWatchMetrics");
    CHECK(cJSON_IsArray(dirs) && cJSON_GetArraySize(dirs) == 1);
    const cJSON *dir = cJSON_GetArrayItem(dirs, 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dir, "Namespace")), "MODAX");
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(dir, "Dimensions");
    CHECK(cJSON_IsArray(dims) && cJSON_GetArraySize(dims) == 1);
    const cJSON *dim = cJSON_GetArrayItem(dims, 0);
    CHECK(cJSON_IsArray(dim) && cJSON_GetArraySize(dim) == 1);
    /* Every dimension is a string member of the root. */
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                  root, cJSON_GetStringValue(cJSON_GetArrayItem(dim, 0)))),
              "modax");
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(dir, "Metrics");
    CHECK(cJSON_IsArray(defs) && cJSON_GetArraySize(defs) > 5);
    /* Every metric has a name, a CloudWatch unit and a number member of the root. */
    const cJSON *d;
    int n = 0;
    cJSON_ArrayForEach(d, defs)
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "Name"));
        const char *unit = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "Unit"));
        CHECK(name != NULL && unit != NULL);
        if (name == NULL || unit == NULL) {
            continue;
        }
        CHECK(strcmp(unit, "Count") == 0 || strcmp(unit, "Bytes") == 0 ||
              strcmp(unit, "Milliseconds") == 0);
        CHECK(!isnan(num(root, name)));
        n++;
    }
    CHECK(n <= 100); /* CloudWatch's limit per directive */
    /* Counters are the change since the previous line; gauges the value now. */
    CHECK(num(root, "MessagesReceived") == 60.0);
    CHECK(num(root, "PointsWritten") == 360.0);
    CHECK(num(root, "SpoolPendingBytes") == 4096.0);
    CHECK(num(root, "StoreBatchLatency") == 2.0);
    CHECK(num(root, "HttpRequests") == 10.0);
    CHECK(num(root, "ResidentMemoryBytes") == 1048576.0);
    /* No alerting in this process: no alert metrics. */
    CHECK(isnan(num(root, "AlertsOpened")));
    cJSON_Delete(root);
    mdx_free(line);

    /* Without ingest and without batches in the interval, those metrics are absent. */
    now.has_ingest = 0;
    line = metrics_emf_line(&now, NULL, 1);
    CHECK(line != NULL);
    root = cJSON_Parse(line);
    CHECK(root != NULL);
    CHECK(isnan(num(root, "MessagesReceived")));
    CHECK(isnan(num(root, "StoreBatchLatency")));
    CHECK(num(root, "HttpRequests") == 10.0);
    cJSON_Delete(root);
    mdx_free(line);
}

/* Issue 13 item 7: a device's line, one sensor of a kind as a number, several as an array. */
static void emf_device_line_has_tenant_and_device_dimensions(void)
{
    double temps[2] = {45.5, 47.25}, cur[1] = {5.0};
    char *line = metrics_emf_device_line("MODAX/production", "acme", "press \"1\"", temps, 2, cur,
                                         1, 1764237600000);
    cJSON *root = line != NULL ? cJSON_Parse(line) : NULL;
    const cJSON *dir = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "_aws"),
                                         "CloudWatchMetrics"),
        0);
    const cJSON *dim = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(dir, "Dimensions"), 0);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "DeviceTemperature");

    CHECK(root != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dir, "Namespace")),
              "MODAX/production");
    CHECK(cJSON_GetArraySize(dim) == 2);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(dim, 0)), "TenantId");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(dim, 1)), "DeviceId");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "TenantId")), "acme");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "DeviceId")),
              "press \"1\""); /* escaped in the JSON, whole after parsing */
    CHECK(cJSON_IsArray(t) && cJSON_GetArraySize(t) == 2);
    CHECK(cJSON_GetArrayItem(t, 1) != NULL && cJSON_GetArrayItem(t, 1)->valuedouble == 47.25);
    CHECK(num(root, "DeviceCurrent") == 5.0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(dir, "Metrics")) == 2);
    cJSON_Delete(root);
    mdx_free(line);
    /* no current sensor: the metric is left out, not zero */
    line = metrics_emf_device_line("MODAX/x", "acme", "m", temps, 1, cur, 0, 1);
    root = line != NULL ? cJSON_Parse(line) : NULL;
    CHECK(root != NULL && cJSON_GetObjectItemCaseSensitive(root, "DeviceCurrent") == NULL);
    CHECK(num(root, "DeviceTemperature") == 45.5);
    cJSON_Delete(root);
    mdx_free(line);
}

static const struct mdx_test tests[] = {
    {"label_values_are_escaped", label_values_are_escaped},
    {"values_are_written_exactly", values_are_written_exactly},
    {"page_stops_at_its_cap", page_stops_at_its_cap},
    {"device_gauges_pick_temperature_and_current", device_gauges_pick_temperature_and_current},
    {"http_counters_count_by_route_and_code", http_counters_count_by_route_and_code},
    {"emf_line_has_the_cloudwatch_shape", emf_line_has_the_cloudwatch_shape},
    {"emf_device_line_has_tenant_and_device_dimensions",
     emf_device_line_has_tenant_and_device_dimensions},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
