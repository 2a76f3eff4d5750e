/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_api_telemetry.c - the telemetry routes of the HTTP API against a
 * real `modax serve` (ingest + api) and Mosquitto: latest values of
 * points that came through the broker, the range query (buckets from the
 * rollups and raw points, its limits and bad parameters), tenancy, and
 * the streamed CSV/JSON export, including one of 500,000 points whose
 * server memory must stay near that of a small export.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/api.h"

#define T0 1760000400000LL   /* 2025-10-09T09:00:00Z */
#define BIG_POINTS 500000    /* points of the large export */
#define RANGE_MAX_POINTS 100 /* api.range_max_points of the test's server */
#define RANGE_MAX_SENSORS 16 /* api.range_max_sensors of the test's server */
#define RANGE_MAX_VALUES 1000 /* api.range_max_values of the test's server */

static struct api_fixture fx;
static int fx_up;

/* Writes 'n' points of 'sensor' of acme/'device' every 'step_ms' from 'start', value v(i). */
static int write_points(const char *device, const char *sensor, int64_t start, int64_t step_ms,
                        int n, double (*v)(int))
{
    enum { CHUNK = 10000 };
    static struct mdx_point p[CHUNK];
    struct mdx_store *st = test_store_open(fx.dir);
    int rc = st != NULL ? MDX_OK : MDX_ESTORE;

    for (int done = 0; rc == MDX_OK && done < n; done += CHUNK) {
        int k = n - done < CHUNK ? n - done : CHUNK;
        struct mdx_point_group g = {"acme", device, p, (size_t)k};
        struct mdx_batch b = {0};
        struct mdx_batch_result res;

        for (int i = 0; i < k; i++) {
            memset(&p[i], 0, sizeof(p[i]));
            snprintf(p[i].sensor, sizeof(p[i].sensor), "%s", sensor);
            p[i].sensor_len = (uint8_t)strlen(sensor);
            p[i].ts_ms = start + (int64_t)(done + i) * step_ms;
            p[i].value = v(done + i);
        }
        b.groups = &g;
        b.n_groups = 1;
        rc = mdx_store_write(st, &b, &res);
    }
    mdx_store_close(st);
    return rc;
}

static double minute_value(int i)
{
    return (double)(i % 60) + 0.5;
}

static double pressure_value(int i)
{
    return 100.0 + i;
}

static double big_value(int i)
{
    return (double)i * 0.25;
}

/* GET path with 'key': the status, the parsed body into *out (may be NULL). */
static long get_json(const char *path, const char *key, cJSON **out)
{
    struct http_resp resp;
    char url[10240];
    long status;

    *out = NULL;
    if (http_call("GET", api_url(&fx, path, url, sizeof(url)), key, NULL, &resp) != 0) {
        return 0;
    }
    status = resp.status;
    *out = cJSON_Parse(resp.body);
    http_resp_free(&resp);
    return status;
}

/* The error message of an error body, "" if it is not one. */
static const char *error_message(const cJSON *body)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");

    return cJSON_IsString(m) ? m->valuestring : "";
}

static const cJSON *series_of(const cJSON *body, const char *sensor)
{
    const cJSON *s;

    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(body, "series")) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(s, "sensor");
        if (cJSON_IsString(name) && strcmp(name->valuestring, sensor) == 0) {
            return cJSON_GetObjectItemCaseSensitive(s, "points");
        }
    }
    return NULL;
}

static double point_at(const cJSON *points, int i, int k)
{
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetArrayItem(points, i), k);

    return cJSON_IsNumber(p) ? p->valuedouble : NAN;
}

/* The serve child's resident-memory peak (VmHWM) in kB. */
static long serve_hwm_kb(void)
{
    return proc_status_kb(fx.serve.pid, "VmHWM");
}

static void start(void)
{
    char env[32];

    snprintf(env, sizeof(env), "%d", RANGE_MAX_POINTS);
    setenv("MODAX_API_RANGE_MAX_POINTS", env, 1);
    setenv("MODAX_API_RANGE_MAX_BUCKETS", "1000", 1);
    snprintf(env, sizeof(env), "%d", RANGE_MAX_SENSORS);
    setenv("MODAX_API_RANGE_MAX_SENSORS", env, 1);
    snprintf(env, sizeof(env), "%d", RANGE_MAX_VALUES);
    setenv("MODAX_API_RANGE_MAX_VALUES", env, 1);
    setenv("MODAX_API_RATE_LIMIT_RPS", "100000", 1);
    setenv("MODAX_API_RATE_LIMIT_BURST", "100000", 1);
    fx_up = api_fixture_start(&fx, "api-telemetry", NULL) == 0;
    CHECK(fx_up);
    if (!fx_up) {
        return;
    }
    /* press-2: three hours of one point a minute of "temp" (value = minute + 0.5) and "pressure". */
    CHECK_EQ_INT(write_points("press-2", "temp", T0 + 1000, 60000, 180, minute_value), MDX_OK);
    CHECK_EQ_INT(write_points("press-2", "pressure", T0 + 1000, 60000, 180, pressure_value),
                 MDX_OK);
}

static void latest_through_the_broker(void)
{
    char payload[256];
    int64_t ts = mdx_now_ms() - 5000;
    struct pub *p;
    cJSON *body = NULL;
    long status = 0;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    p = pub_connect(fx.broker.port, "test-api-telemetry");
    CHECK(p != NULL);
    if (p == NULL) {
        return;
    }
    snprintf(payload, sizeof(payload),
             "{\"device_id\":\"press-1\",\"timestamp\":%" PRId64
             ",\"sensor_data\":{\"temperature_mean\":45.25,\"current_mean\":3.5}}",
             ts - 1000);
    CHECK_EQ_INT(pub_send(p, "modax/acme/press-1/sensor_data", payload, strlen(payload)), 0);
    snprintf(payload, sizeof(payload),
             "{\"device_id\":\"press-1\",\"timestamp\":%" PRId64
             ",\"sensor_data\":{\"temperature_mean\":46.75,\"current_mean\":3.25}}",
             ts);
    CHECK_EQ_INT(pub_send(p, "modax/acme/press-1/sensor_data", payload, strlen(payload)), 0);
    CHECK_EQ_INT(pub_wait_acked(p, 10000), 0);
    pub_close(p);
    CHECK(wait_points(fx.dir, "acme", 4 + 360, 20000) >= 4 + 360);

    /* The device's newest value of each sensor. */
    for (int i = 0; i < 200; i++) {
        cJSON_Delete(body);
        status = get_json("/api/v1/devices/press-1/latest", fx.viewer, &body);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(body, "sensors"), "temperature_mean");
        if (status == 200 && cJSON_GetObjectItemCaseSensitive(t, "ts_ms") != NULL &&
            cJSON_GetObjectItemCaseSensitive(t, "ts_ms")->valuedouble == (double)ts) {
            break;
        }
        mdx_sleep_ms(100);
    }
    CHECK_EQ_INT(status, 200);
    {
        const cJSON *sensors = cJSON_GetObjectItemCaseSensitive(body, "sensors");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(sensors, "temperature_mean");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(sensors, "current_mean");
        char iso[32];

        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "device")),
                  "press-1");
        CHECK(cJSON_GetObjectItemCaseSensitive(t, "value") != NULL &&
              cJSON_GetObjectItemCaseSensitive(t, "value")->valuedouble == 46.75);
        CHECK(cJSON_GetObjectItemCaseSensitive(c, "value") != NULL &&
              cJSON_GetObjectItemCaseSensitive(c, "value")->valuedouble == 3.25);
        mdx_format_iso_ms(ts, iso, sizeof(iso));
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "time")), iso);
        CHECK_EQ_INT(cJSON_GetArraySize(sensors), 2);
    }
    cJSON_Delete(body);

    /* The fleet: press-1's and press-2's newest values. */
    CHECK_EQ_INT(get_json("/api/v1/latest", fx.viewer, &body), 200);
    {
        const cJSON *devs = cJSON_GetObjectItemCaseSensitive(body, "devices");
        const cJSON *p1 = cJSON_GetObjectItemCaseSensitive(devs, "press-1");
        const cJSON *p2 = cJSON_GetObjectItemCaseSensitive(devs, "press-2");
        const cJSON *temp = cJSON_GetObjectItemCaseSensitive(p2, "temp");

        CHECK(cJSON_GetObjectItemCaseSensitive(p1, "temperature_mean") != NULL);
        CHECK(cJSON_GetObjectItemCaseSensitive(temp, "ts_ms") != NULL &&
              cJSON_GetObjectItemCaseSensitive(temp, "ts_ms")->valuedouble ==
                  (double)(T0 + 1000 + 179 * 60000LL));
        CHECK(cJSON_GetObjectItemCaseSensitive(devs, "mill-1") == NULL);
    }
    cJSON_Delete(body);

    /* Another tenant sees neither the device nor its values. */
    CHECK_EQ_INT(get_json("/api/v1/devices/press-1/latest", fx.globex_admin, &body), 404);
    cJSON_Delete(body);
    CHECK_EQ_INT(get_json("/api/v1/latest", fx.globex_admin, &body), 200);
    CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(body, "devices"),
                                           "press-1") == NULL);
    cJSON_Delete(body);
    CHECK_EQ_INT(get_json("/api/v1/devices/nope/latest", fx.viewer, &body), 404);
    cJSON_Delete(body);
    CHECK_EQ_INT(get_json("/api/v1/latest", NULL, &body), 401);
    cJSON_Delete(body);
    CHECK_EQ_INT(get_json("/api/v1/latest?x=1", fx.viewer, &body), 400);
    cJSON_Delete(body);
}

static void range_buckets(void)
{
    char path[512];
    cJSON *body;
    const cJSON *pts;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    /* One hour buckets, average: from the hour rollup. */
    snprintf(path, sizeof(path),
             "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&sensor=temp&step=1h",
             T0, T0 + 3 * 3600000LL - 1);
    CHECK_EQ_INT(get_json(path, fx.viewer, &body), 200);
    pts = series_of(body, "temp");
    CHECK_EQ_INT(cJSON_GetArraySize(pts), 3);
    CHECK(point_at(pts, 0, 0) == (double)T0);
    CHECK(point_at(pts, 2, 0) == (double)(T0 + 2 * 3600000LL));
    CHECK(point_at(pts, 1, 1) == 30.0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "agg")), "avg");
    CHECK(cJSON_GetObjectItemCaseSensitive(body, "step_ms")->valuedouble == 3600000.0);
    CHECK(cJSON_GetObjectItemCaseSensitive(body, "from_ms")->valuedouble == (double)T0);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "series")), 1);
    cJSON_Delete(body);

    /* Maximum per 30 minutes (minute rollup), ISO times, both sensors when none is named. */
    CHECK_EQ_INT(get_json("/api/v1/devices/press-2/telemetry?from=2025-10-09T09:00:00Z"
                          "&to=2025-10-09T11:59:59Z&step=30m&agg=max",
                          fx.viewer, &body),
                 200);
    pts = series_of(body, "temp");
    CHECK_EQ_INT(cJSON_GetArraySize(pts), 6);
    CHECK(point_at(pts, 0, 1) == 29.5);
    CHECK(point_at(pts, 1, 1) == 59.5);
    pts = series_of(body, "pressure");
    CHECK_EQ_INT(cJSON_GetArraySize(pts), 6);
    CHECK(point_at(pts, 5, 1) == 279.0);
    cJSON_Delete(body);

    /* Count per 500 ms from raw points, over two minutes: only buckets that hold points. */
    snprintf(path, sizeof(path),
             "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&sensor=temp,pressure"
             "&step=500ms&agg=count",
             T0, T0 + 120000 - 1);
    CHECK_EQ_INT(get_json(path, fx.viewer, &body), 200);
    pts = series_of(body, "pressure");
    CHECK_EQ_INT(cJSON_GetArraySize(pts), 2);
    CHECK(point_at(pts, 0, 0) == (double)(T0 + 1000));
    CHECK(point_at(pts, 0, 1) == 1.0);
    cJSON_Delete(body);
}

static void range_raw_and_its_limit(void)
{
    char path[512];
    cJSON *body;
    const cJSON *pts;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    /* Exactly the limit (100 points) is served. */
    snprintf(path, sizeof(path),
             "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&sensor=temp", T0,
             T0 + 100 * 60000LL - 1);
    CHECK_EQ_INT(get_json(path, fx.viewer, &body), 200);
    pts = series_of(body, "temp");
    CHECK_EQ_INT(cJSON_GetArraySize(pts), RANGE_MAX_POINTS);
    CHECK(point_at(pts, 0, 0) == (double)(T0 + 1000));
    CHECK(point_at(pts, 0, 1) == 0.5);
    CHECK(point_at(pts, 99, 1) == 39.5);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, "step_ms")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, "agg")));
    cJSON_Delete(body);

    /* One more is refused, with the advice to pass step. */
    snprintf(path, sizeof(path),
             "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&sensor=temp", T0,
             T0 + 101 * 60000LL - 1);
    CHECK_EQ_INT(get_json(path, fx.viewer, &body), 400);
    CHECK(strstr(error_message(body), "step") != NULL);
    cJSON_Delete(body);

    /* The same range with step is served. */
    snprintf(path, sizeof(path),
             "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&sensor=temp&step=1m", T0,
             T0 + 180 * 60000LL);
    CHECK_EQ_INT(get_json(path, fx.viewer, &body), 200);
    CHECK_EQ_INT(cJSON_GetArraySize(series_of(body, "temp")), 180);
    cJSON_Delete(body);

    /* A sensor without points has an empty series. */
    snprintf(path, sizeof(path),
             "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&sensor=nothing_here", T0,
             T0 + 1000);
    CHECK_EQ_INT(get_json(path, fx.viewer, &body), 200);
    pts = series_of(body, "nothing_here");
    CHECK(pts != NULL);
    CHECK_EQ_INT(cJSON_GetArraySize(pts), 0);
    cJSON_Delete(body);
}

static void range_bad_parameters(void)
{
    static const struct {
        const char *query;
        const char *names; /* what the message must name */
    } cases[] = {
        {"to=1760000400000", "from"},
        {"from=1760000400000", "to"},
        {"from=1760000400001&to=1760000400000", "from"},
        {"from=yesterday&to=1760000400000", "from"},
        {"from=0&to=1760000400000&step=abc", "step"},
        {"from=0&to=1760000400000&step=0", "step"},
        {"from=0&to=1760000400000&step=-1h", "step"},
        {"from=0&to=1760000400000&step=1w", "step"},
        {"from=0&to=1760000400000&step=1m", "step"},       /* far too many buckets */
        {"from=0&to=1760000400000&agg=max", "agg"},        /* agg without step */
        {"from=0&to=1760000400000&step=1d&agg=median", "agg"},
        {"from=0&to=1760000400000&sensor=Temp", "sensor"},
        {"from=0&to=1760000400000&sensor=a,,b", "sensor"},
        {"from=0&to=1760000400000&sensor=x%27%3B%20DROP%20TABLE%20points%3B--", "sensor"},
        {"from=0&to=1760000400000&limit=5", "limit"},
    };
    char path[512];
    cJSON *body;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/devices/press-2/telemetry?%s", cases[i].query);
        long status = get_json(path, fx.viewer, &body);
        if (status != 400 || strstr(error_message(body), cases[i].names) == NULL) {
            fprintf(stderr, "  %s -> %ld %s\n", cases[i].query, status, error_message(body));
        }
        CHECK_EQ_INT(status, 400);
        CHECK(strstr(error_message(body), cases[i].names) != NULL);
        cJSON_Delete(body);
    }
    /* Another tenant's device, and one that does not exist: 404 alike. */
    CHECK_EQ_INT(get_json("/api/v1/devices/press-2/telemetry?from=0&to=1", fx.globex_admin, &body),
                 404);
    cJSON_Delete(body);
    CHECK_EQ_INT(get_json("/api/v1/devices/nope/telemetry?from=0&to=1", fx.viewer, &body), 404);
    cJSON_Delete(body);
}

/* Issue 16 item 4: "sensor=f,f,f,..." asked for the same series over and over. */
static void issue16_duplicate_sensors_are_served_once(void)
{
    char path[8192];
    size_t n;
    cJSON *body;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    /* 1,000 copies of two names: far over the cap of different names, yet only two. */
    n = (size_t)snprintf(path, sizeof(path),
                         "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&step=1h&sensor=temp",
                         T0, T0 + 3 * 3600000LL - 1);
    for (int i = 0; i < 1000 && n + 16 < sizeof(path); i++) {
        n += (size_t)snprintf(path + n, sizeof(path) - n, ",%s", i % 2 ? "temp" : "pressure");
    }
    CHECK_EQ_INT(get_json(path, fx.viewer, &body), 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "series")), 2);
    CHECK_EQ_INT(cJSON_GetArraySize(series_of(body, "temp")), 3);
    CHECK_EQ_INT(cJSON_GetArraySize(series_of(body, "pressure")), 3);
    cJSON_Delete(body);
}

/* Issue 16 item 4: more different sensors than api.range_max_sensors: 400 naming sensor. */
static void issue16_too_many_sensors_refused(void)
{
    char path[2048];
    size_t n;
    cJSON *body;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    for (int k = RANGE_MAX_SENSORS; k <= RANGE_MAX_SENSORS + 1; k++) {
        n = (size_t)snprintf(path, sizeof(path),
                             "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&sensor=s0",
                             T0, T0 + 1000);
        for (int i = 1; i < k; i++) {
            n += (size_t)snprintf(path + n, sizeof(path) - n, ",s%d", i);
        }
        long status = get_json(path, fx.viewer, &body);
        if (k == RANGE_MAX_SENSORS) {
            CHECK_EQ_INT(status, 200); /* the cap itself is served */
        } else {
            CHECK_EQ_INT(status, 400);
            CHECK(strstr(error_message(body), "sensor") != NULL);
            CHECK(strstr(error_message(body), "16") != NULL);
        }
        cJSON_Delete(body);
    }
    /* The export shares the list and its cap. */
    memcpy(path, "/api/v1/devices/press-2/export", 30);
    memmove(path + 30, strchr(path, '?'), strlen(strchr(path, '?')) + 1);
    CHECK_EQ_INT(get_json(path, fx.viewer, &body), 400);
    CHECK(strstr(error_message(body), "sensor") != NULL);
    cJSON_Delete(body);
}

/*
 * Issue 16 item 4: from=0&to=INT64_MAX&step=1 wrapped the bucket count and
 * answered 200 with a truncated series; every such range is refused now.
 */
static void issue16_bucket_count_overflow_refused(void)
{
    static const char *const queries[] = {
        "from=0&to=9223372036854775807&step=1",
        "from=0&to=9223372036854775807&step=2",
        "from=-9223372036854775808&to=9223372036854775807&step=1",
        "from=-9223372036854775808&to=9223372036854775807&step=1d",
        "from=-9223372036854775807&to=0&step=1",
    };
    char path[512];
    cJSON *body;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/devices/press-2/telemetry?sensor=temp&%s",
                 queries[i]);
        long status = get_json(path, fx.viewer, &body);
        if (status != 400) {
            fprintf(stderr, "  %s -> %ld %s\n", queries[i], status, error_message(body));
        }
        /* 400 naming step; a time the parser refuses is a 400 too, naming from or to. */
        CHECK_EQ_INT(status, 400);
        CHECK(strstr(error_message(body), "step") != NULL ||
              strstr(error_message(body), "from") != NULL ||
              strstr(error_message(body), "'to'") != NULL);
        cJSON_Delete(body);
    }
    /* The first query of the issue names step: it is the bucket count that is refused. */
    CHECK_EQ_INT(get_json("/api/v1/devices/press-2/telemetry?sensor=temp&from=0"
                          "&to=9223372036854775807&step=1",
                          fx.viewer, &body),
                 400);
    CHECK(strstr(error_message(body), "step") != NULL);
    cJSON_Delete(body);
}

/* Issue 16 item 4: the reply's budget over all sensors (api.range_max_values). */
static void issue16_reply_budget_over_all_sensors(void)
{
    char path[1024];
    size_t n;
    cJSON *body;
    int64_t start = T0 + 2 * 86400000LL; /* a day of its own, after the other series */

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    /* Buckets: 181 one-minute buckets x 5 sensors = 905 fits; x 6 = 1,086 does not. */
    for (int k = 5; k <= 6; k++) {
        n = (size_t)snprintf(path, sizeof(path),
                             "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&step=1m"
                             "&sensor=temp",
                             T0, T0 + 180 * 60000LL);
        for (int i = 1; i < k; i++) {
            n += (size_t)snprintf(path + n, sizeof(path) - n, ",b%d", i);
        }
        long status = get_json(path, fx.viewer, &body);
        CHECK_EQ_INT(status, k == 5 ? 200 : 400);
        if (k == 6) {
            CHECK(strstr(error_message(body), "1000") != NULL);
        }
        cJSON_Delete(body);
    }
    /* Raw points: 12 sensors of 100 points each; each is within its own limit, 1,200 are not. */
    for (int i = 0; i < 12; i++) {
        char sensor[16];
        snprintf(sensor, sizeof(sensor), "r%d", i);
        CHECK_EQ_INT(write_points("press-2", sensor, start, 1000, RANGE_MAX_POINTS,
                                  pressure_value),
                     MDX_OK);
    }
    for (int k = 10; k <= 12; k += 2) {
        n = (size_t)snprintf(path, sizeof(path),
                             "/api/v1/devices/press-2/telemetry?from=%lld&to=%lld&sensor=r0",
                             (long long)start, (long long)start + 86400000LL);
        for (int i = 1; i < k; i++) {
            n += (size_t)snprintf(path + n, sizeof(path) - n, ",r%d", i);
        }
        long status = get_json(path, fx.viewer, &body);
        CHECK_EQ_INT(status, k == 10 ? 200 : 400); /* 10 x 100 is the budget exactly */
        if (k == 10) {
            CHECK_EQ_INT(cJSON_GetArraySize(series_of(body, "r9")), RANGE_MAX_POINTS);
        } else {
            CHECK(strstr(error_message(body), "1000") != NULL);
            CHECK(strstr(error_message(body), "sensor") != NULL);
        }
        cJSON_Delete(body);
    }
}

static void export_small(void)
{
    struct http_resp resp;
    char url[1024], path[512], line[128];
    cJSON *arr;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    snprintf(path, sizeof(path),
             "/api/v1/devices/press-2/export?from=%lld&to=%lld&sensor=temp,pressure", T0,
             T0 + 2 * 60000LL + 1000);
    CHECK_EQ_INT(http_call("GET", api_url(&fx, path, url, sizeof(url)), fx.viewer, NULL, &resp),
                 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK(strncmp(resp.content_type, "text/csv", 8) == 0);
    CHECK_STR(resp.body, "sensor,time,ts_ms,value\n"
                         "temp,2025-10-09T09:00:01.000Z,1760000401000,0.5\n"
                         "temp,2025-10-09T09:01:01.000Z,1760000461000,1.5\n"
                         "temp,2025-10-09T09:02:01.000Z,1760000521000,2.5\n"
                         "pressure,2025-10-09T09:00:01.000Z,1760000401000,100\n"
                         "pressure,2025-10-09T09:01:01.000Z,1760000461000,101\n"
                         "pressure,2025-10-09T09:02:01.000Z,1760000521000,102\n");
    http_resp_free(&resp);

    /* JSON, every sensor of the device. */
    snprintf(path, sizeof(path), "/api/v1/devices/press-2/export?from=%lld&to=%lld&format=json",
             T0, T0 + 3 * 3600000LL);
    CHECK_EQ_INT(http_call("GET", api_url(&fx, path, url, sizeof(url)), fx.viewer, NULL, &resp),
                 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK(strncmp(resp.content_type, "application/json", 16) == 0);
    arr = cJSON_Parse(resp.body);
    CHECK(cJSON_IsArray(arr));
    CHECK_EQ_INT(cJSON_GetArraySize(arr), 360);
    {
        int temps = 0;
        const cJSON *o;
        cJSON_ArrayForEach(o, arr) {
            const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "sensor"));
            if (s != NULL && strcmp(s, "temp") == 0) {
                const cJSON *ts = cJSON_GetObjectItemCaseSensitive(o, "ts_ms");
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
                CHECK(ts != NULL && v != NULL &&
                      v->valuedouble == minute_value((int)((ts->valuedouble - T0) / 60000)));
                temps++;
            }
        }
        CHECK_EQ_INT(temps, 180);
    }
    cJSON_Delete(arr);
    http_resp_free(&resp);

    /* An empty range: the header only; bad parameters; another tenant. */
    CHECK_EQ_INT(http_call("GET",
                           api_url(&fx, "/api/v1/devices/press-2/export?from=0&to=1", url,
                                   sizeof(url)),
                           fx.viewer, NULL, &resp),
                 0);
    CHECK_EQ_INT(resp.status, 200);
    CHECK_STR(resp.body, "sensor,time,ts_ms,value\n");
    http_resp_free(&resp);
    cJSON *body;
    CHECK_EQ_INT(get_json("/api/v1/devices/press-2/export?format=xml", fx.viewer, &body), 400);
    CHECK(strstr(error_message(body), "format") != NULL);
    cJSON_Delete(body);
    CHECK_EQ_INT(get_json("/api/v1/devices/press-2/export?from=5&to=4", fx.viewer, &body), 400);
    cJSON_Delete(body);
    CHECK_EQ_INT(get_json("/api/v1/devices/press-2/export", fx.globex_admin, &body), 404);
    cJSON_Delete(body);
    (void)line;
}

static void export_large_streams_in_constant_memory(void)
{
    struct http_resp resp;
    char url[1024], path[512], want[128];
    long hwm_small, hwm_large;
    int64_t start = T0 + 86400000LL; /* the next day, after the small series */

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    CHECK_EQ_INT(write_points("press-2", "big", start, 1000, BIG_POINTS, big_value), MDX_OK);

    /* A small export first, so the server's peak memory includes what any export costs. */
    snprintf(path, sizeof(path), "/api/v1/devices/press-2/export?from=%lld&to=%lld&sensor=big",
             (long long)start, (long long)start + 9999);
    CHECK_EQ_INT(http_call("GET", api_url(&fx, path, url, sizeof(url)), fx.viewer, NULL, &resp),
                 0);
    CHECK_EQ_INT(resp.status, 200);
    http_resp_free(&resp);
    hwm_small = serve_hwm_kb();

    snprintf(path, sizeof(path), "/api/v1/devices/press-2/export?sensor=big&from=%lld&to=%lld",
             (long long)start, (long long)start + (int64_t)BIG_POINTS * 1000);
    CHECK_EQ_INT(http_call("GET", api_url(&fx, path, url, sizeof(url)), fx.viewer, NULL, &resp),
                 0);
    hwm_large = serve_hwm_kb();
    CHECK_EQ_INT(resp.status, 200);
    {
        /* Every point, in order, each on its line. */
        long lines = 0, bad = 0;
        char *p = resp.body, *nl;
        int64_t ts;
        double v;

        CHECK(strncmp(p, "sensor,time,ts_ms,value\n", 24) == 0);
        p += 24;
        while (p != NULL && *p != '\0' && (nl = strchr(p, '\n')) != NULL) {
            int ok;

            /* sscanf measures its whole input first: give it the line alone, or the check
               of 500,000 lines reads the 25 MB body 500,000 times. */
            *nl = '\0';
            ok = sscanf(p, "big,%*24s,%" SCNd64 ",%lf", &ts, &v) == 2 &&
                 ts == start + (int64_t)lines * 1000 && v == big_value((int)lines);
            *nl = '\n';
            if (!ok && bad++ < 3) {
                fprintf(stderr, "  line %ld: %.*s\n", lines, (int)(nl - p), p);
            }
            lines++;
            p = nl + 1;
        }
        CHECK_EQ_INT(lines, BIG_POINTS);
        CHECK_EQ_INT(bad, 0);
        snprintf(want, sizeof(want), ",%lld,%.15g\n",
                 (long long)(start + (int64_t)(BIG_POINTS - 1) * 1000),
                 big_value(BIG_POINTS - 1));
        CHECK(resp.len > strlen(want) &&
              strcmp(resp.body + resp.len - strlen(want), want) == 0);
        fprintf(stderr, "  export of %d points: %zu bytes; serve VmHWM %ld kB after a small "
                        "export, %ld kB after the large one\n",
                BIG_POINTS, resp.len, hwm_small, hwm_large);
        /*
         * The body is ~25 MB; a server that gathered it would grow by at least
         * that (under ThreadSanitizer by several times that, with its shadow
         * memory, which also makes streaming grow by ~10 MB: a wider bound there).
         */
        CHECK(hwm_small > 0 && hwm_large > 0);
#ifdef __SANITIZE_THREAD__
        CHECK(hwm_large - hwm_small < (long)(resp.len / 1024));
#else
        CHECK(hwm_large - hwm_small < (long)(resp.len / 1024) / 3);
#endif
    }
    http_resp_free(&resp);
}

static void stop(void)
{
    if (fx_up) {
        CHECK_EQ_INT(api_fixture_stop(&fx), 0); /* a clean exit: no sanitizer report */
        fx_up = 0;
    }
}

static const struct mdx_test tests[] = {
    {"start", start},
    {"latest_through_the_broker", latest_through_the_broker},
    {"range_buckets", range_buckets},
    {"range_raw_and_its_limit", range_raw_and_its_limit},
    {"range_bad_parameters", range_bad_parameters},
    {"issue 16: duplicate sensors are served once", issue16_duplicate_sensors_are_served_once},
    {"issue 16: too many sensors refused", issue16_too_many_sensors_refused},
    {"issue 16: bucket count overflow refused", issue16_bucket_count_overflow_refused},
    {"issue 16: reply budget over all sensors", issue16_reply_budget_over_all_sensors},
    {"export_small", export_small},
    {"export_large_streams_in_constant_memory", export_large_streams_in_constant_memory},
    {"stop", stop},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
