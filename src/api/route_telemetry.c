/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_telemetry.c - reading a tenant's telemetry over the API: latest
 * values (fleet and device), the range query with server-side
 * downsampling (rollup-backed buckets, or raw points up to a limit), and
 * the streamed CSV/JSON export, which pages through the store so its
 * memory stays constant whatever the range.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/validate.h"

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"
#include "api/numfmt.h"
#include "api/range_query.h"

#define EXPORT_PAGE_POINTS 4096   /* points read from the store per export page */
#define EXPORT_LINE_MAX 256       /* one formatted export line, at most */
#define RANGE_TEXT_MAX ((size_t)512 << 20) /* the body of one range reply, at most */

/* ---- small helpers ---- */

static int name_collect(void *arg, const char *name)
{
    return api_names_add(arg, name, strlen(name));
}

static int device_collect(void *arg, const struct mdx_device_info *dev)
{
    return api_names_add(arg, dev->device, strlen(dev->device));
}

/*
 * The sensors a request names ('sensor=a,b'; a name given twice counts
 * once; at most api.range_max_sensors), or every sensor of the device. On
 * failure replies (400 naming sensor, or the store's error) and returns -1.
 */
static int request_sensors(struct api_req *r, const char *device, struct api_names *out)
{
    const char *list = api_query(r, "sensor");
    struct api_why why;
    int rc;

    if (list == NULL) {
        rc = mdx_store_sensor_list(r->store, r->caller.tenant, device, name_collect, out);
        if (rc != MDX_OK) {
            api_store_error(r, rc);
            return -1;
        }
        return 0;
    }
    rc = api_sensor_list(list, r->api->conf->range_max_sensors, out, &why);
    if (rc == MDX_EINVAL) {
        api_error(r, 400, "bad_request", "%s", why.text);
        return -1;
    }
    if (rc != MDX_OK) {
        api_error(r, 500, "internal", "out of memory");
        return -1;
    }
    return 0;
}

/* ---- latest values ---- */

/* Adds {"SENSOR":{"value","time","ts_ms"}} members to an object. */
static int latest_add(void *arg, const char *sensor, int64_t ts_ms, double value, unsigned flags)
{
    cJSON *sensors = arg, *o = cJSON_CreateObject();

    (void)flags;
    if (o == NULL || !cJSON_AddItemToObject(sensors, sensor, o) ||
        cJSON_AddNumberToObject(o, "value", value) == NULL || api_add_time(o, "time", ts_ms) == NULL ||
        cJSON_AddNumberToObject(o, "ts_ms", (double)ts_ms) == NULL) {
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

static const char *const no_params[] = {NULL};

/* GET /api/v1/latest: the newest value of every sensor of every device of the tenant. */
static void route_latest_all(struct api_req *r)
{
    struct api_names devs;
    cJSON *root, *devices;
    int rc;

    if (api_query_allow(r, no_params) != 0) {
        return;
    }
    api_names_init(&devs);
    rc = mdx_store_device_list(r->store, r->caller.tenant, device_collect, &devs);
    if (rc != MDX_OK) {
        api_names_free(&devs);
        api_store_error(r, rc);
        return;
    }
    root = cJSON_CreateObject();
    devices = cJSON_AddObjectToObject(root, "devices");
    rc = devices != NULL ? MDX_OK : MDX_ENOMEM;
    for (size_t i = 0; rc == MDX_OK && i < devs.n; i++) {
        const char *device = api_names_at(&devs, i);
        cJSON *sensors = cJSON_AddObjectToObject(devices, device);
        rc = sensors != NULL ? mdx_store_latest(r->store, r->caller.tenant, device, latest_add,
                                                sensors)
                             : MDX_ENOMEM;
        if (rc == MDX_ENOTFOUND) {
            rc = MDX_OK; /* deleted since it was listed */
        }
    }
    api_names_free(&devs);
    api_reply_listed(r, root, rc);
}

/* GET /api/v1/devices/{id}/latest */
static void route_latest_device(struct api_req *r)
{
    struct mdx_device_info dev;
    cJSON *root, *sensors;
    int rc;

    if (api_query_allow(r, no_params) != 0 || api_device(r, r->params[0], &dev) != 0) {
        return;
    }
    root = cJSON_CreateObject();
    if (cJSON_AddStringToObject(root, "device", dev.device) == NULL ||
        (sensors = cJSON_AddObjectToObject(root, "sensors")) == NULL) {
        cJSON_Delete(root);
        api_reply_json(r, 500, NULL);
        return;
    }
    rc = mdx_store_latest(r->store, r->caller.tenant, dev.device, latest_add, sensors);
    api_reply_listed(r, root, rc);
}

/* ---- a reply body built as text (large arrays of numbers without a node per number) ---- */

/*
 * The [ts,value] pair, after a comma unless it is the series' first;
 * 'exact': the value reads back as the same double (else 15 digits).
 */
static void add_point(struct mdx_buf *t, int first, int64_t ts, double v, int exact)
{
    char tmp[2 * NUMFMT_MAX + 4];
    size_t n = 0;

    if (!first) {
        tmp[n++] = ',';
    }
    tmp[n++] = '[';
    n += numfmt_i64(tmp + n, ts);
    tmp[n++] = ',';
    n += numfmt_double(tmp + n, v, exact);
    tmp[n++] = ']';
    mdx_buf_add(t, tmp, n);
}

/* ---- range query ---- */

struct series_out {
    struct mdx_buf *t;
    enum mdx_agg agg;
    int64_t n;                    /* points or buckets written */
    int64_t max;                  /* raw points: the limit; more stops the scan */
};

static int bucket_out(void *arg, const struct mdx_bucket *b)
{
    struct series_out *so = arg;

    /* Averages are computed: 15 digits. Minimum, maximum and count are exact. */
    add_point(so->t, so->n == 0, b->start_ms, mdx_bucket_value(b, so->agg),
              so->agg != MDX_AGG_AVG);
    so->n++;
    return so->t->err;
}

static int point_out(void *arg, int64_t ts_ms, double value, unsigned flags)
{
    struct series_out *so = arg;

    (void)flags;
    if (so->n >= so->max) {
        return MDX_ERANGE; /* one more than allowed: stop here, refuse the query */
    }
    add_point(so->t, so->n == 0, ts_ms, value, 1);
    so->n++;
    return so->t->err;
}

static const char *const range_params[] = {"from", "to", "sensor", "step", "agg", NULL};

/* The from/to of a request that requires both; -1 after replying 400. */
static int required_range(struct api_req *r, int64_t *from, int64_t *to)
{
    if (api_query(r, "from") == NULL) {
        api_error(r, 400, "bad_request", "from is required");
        return -1;
    }
    if (api_query(r, "to") == NULL) {
        api_error(r, 400, "bad_request", "to is required");
        return -1;
    }
    if (api_query_time(r, "from", 0, from) != 0 || api_query_time(r, "to", 0, to) != 0) {
        return -1;
    }
    if (*from > *to) {
        api_error(r, 400, "bad_request", "from is after to");
        return -1;
    }
    return 0;
}

/* GET /api/v1/devices/{id}/telemetry?from=&to=&sensor=&step=&agg= */
static void route_range(struct api_req *r)
{
    const struct mdx_api_conf *conf = r->api->conf;
    struct mdx_device_info dev;
    struct api_names sensors;
    struct mdx_buf t;
    const char *step_s, *agg_s;
    enum mdx_agg agg = MDX_AGG_AVG;
    int64_t from, to, step = 0, buckets = 0;
    int64_t values;               /* in the reply: at most api.range_max_values */
    int rc = MDX_OK;

    api_names_init(&sensors);
    mdx_buf_init(&t, RANGE_TEXT_MAX);
    if (api_query_allow(r, range_params) != 0 || required_range(r, &from, &to) != 0) {
        return;
    }
    step_s = api_query(r, "step");
    agg_s = api_query(r, "agg");
    if (step_s != NULL && api_parse_step(step_s, &step) != MDX_OK) {
        api_error(r, 400, "bad_request",
                  "step: a positive duration such as 500ms, 30s, 1m, 1h, 1d or milliseconds");
        return;
    }
    if (agg_s != NULL && step_s == NULL) {
        api_error(r, 400, "bad_request", "agg needs step");
        return;
    }
    if (agg_s != NULL && mdx_agg_parse(agg_s, &agg) != MDX_OK) {
        api_error(r, 400, "bad_request", "agg: one of avg, min, max, count");
        return;
    }
    if (step > 0) {
        if (api_bucket_count(from, to, step, &buckets) != MDX_OK) {
            api_error(r, 400, "bad_request",
                      "step: more than %" PRId64 " buckets per sensor in this range, at most %"
                      PRId64 " allowed; pass a larger step or a shorter range",
                      INT64_MAX, conf->range_max_buckets);
            return;
        }
        if (buckets > conf->range_max_buckets) {
            api_error(r, 400, "bad_request",
                      "step: %" PRId64 " buckets per sensor, at most %" PRId64
                      " allowed; pass a larger step",
                      buckets, conf->range_max_buckets);
            return;
        }
    }
    if (api_device(r, r->params[0], &dev) != 0 || request_sensors(r, dev.device, &sensors) != 0) {
        api_names_free(&sensors);
        return;
    }
    /* The whole reply's budget: known before reading for buckets, counted as read for points. */
    if (step > 0 && (__builtin_mul_overflow(buckets, (int64_t)sensors.n, &values) ||
                     values > conf->range_max_values)) {
        api_error(r, 400, "bad_request",
                  "sensor: %zu sensors of %" PRId64 " buckets each would exceed %" PRId64
                  " values in one reply; name fewer sensors or pass a larger step",
                  sensors.n, buckets, conf->range_max_values);
        api_names_free(&sensors);
        return;
    }
    values = 0;
    mdx_buf_adds(&t, "{\"device\":\"");
    mdx_buf_adds(&t, dev.device); /* device ids need no escaping: [A-Za-z0-9_-] */
    mdx_buf_addf(&t, "\",\"from_ms\":%" PRId64 ",\"to_ms\":%" PRId64 ",", from, to);
    if (step > 0) {
        static const char *const agg_names[] = {"avg", "min", "max", "count"};
        mdx_buf_addf(&t, "\"step_ms\":%" PRId64 ",\"agg\":\"%s\",", step, agg_names[agg]);
    } else {
        mdx_buf_adds(&t, "\"step_ms\":null,\"agg\":null,");
    }
    mdx_buf_adds(&t, "\"series\":[");
    for (size_t i = 0; rc == MDX_OK && i < sensors.n; i++) {
        const char *sensor = api_names_at(&sensors, i);
        struct mdx_query q = {.tenant = r->caller.tenant, .device = dev.device,
                              .sensor = sensor, .from_ms = from, .to_ms = to};
        struct series_out so = {.t = &t, .agg = agg};

        mdx_buf_addf(&t, "%s{\"sensor\":\"%s\",\"points\":[", i > 0 ? "," : "", sensor);
        if (step > 0) {
            q.limit = conf->range_max_buckets;
            rc = mdx_store_query_buckets(r->store, &q, step, bucket_out, &so);
        } else {
            int64_t left = conf->range_max_values - values;
            so.max = conf->range_max_points < left ? conf->range_max_points : left;
            q.limit = so.max + 1;
            rc = mdx_store_query_points(r->store, &q, point_out, &so);
            values += so.n;
        }
        mdx_buf_adds(&t, "]}");
        if (rc == MDX_ERANGE && so.max < conf->range_max_points) {
            api_error(r, 400, "bad_request",
                      "sensor: the points of these sensors in this range exceed %" PRId64
                      " values in one reply; name fewer sensors, a shorter range or pass step",
                      conf->range_max_values);
        } else if (rc == MDX_ERANGE) {
            api_error(r, 400, "bad_request",
                      "sensor %s has more than %" PRId64 " points in this range; pass step "
                      "to downsample",
                      sensor, conf->range_max_points);
        }
    }
    mdx_buf_adds(&t, "]}");
    api_names_free(&sensors);
    if (rc == MDX_ERANGE) {
        mdx_buf_fini(&t);
        return;
    }
    if (rc != MDX_OK && t.err == MDX_OK) {
        mdx_buf_fini(&t);
        api_store_error(r, rc);
        return;
    }
    api_reply_buf(r, 200, "application/json", &t, "the reply");
}

/* ---- streamed export ---- */

enum export_format { EXPORT_CSV = 0, EXPORT_JSON };

/*
 * The export reader's state: the sensors, where it has reached, one page
 * of points and one formatted line that did not fit MHD's buffer. The
 * store handle is the server thread's, which also runs this reader.
 */
struct export_state {
    struct mdx_store *store;
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    struct api_names sensors;
    size_t sensor;                /* index of the sensor being exported */
    int64_t from, to;             /* to inclusive */
    int64_t next_from;            /* where the next page of this sensor starts */
    int sensor_done;              /* the last page was short: no more points of this sensor */
    int format;                   /* enum export_format */
    int64_t page_ts[EXPORT_PAGE_POINTS];
    double page_v[EXPORT_PAGE_POINTS];
    size_t page_n, page_i;
    char line[EXPORT_LINE_MAX];
    size_t line_len, line_off;    /* unsent part of 'line' */
    int started, ended, failed;
    uint64_t rows;
};

static int page_add(void *arg, int64_t ts_ms, double value, unsigned flags)
{
    struct export_state *x = arg;

    (void)flags;
    if (x->page_n >= EXPORT_PAGE_POINTS) {
        return MDX_EFULL; /* the store gave more than the limit asked */
    }
    x->page_ts[x->page_n] = ts_ms;
    x->page_v[x->page_n] = value;
    x->page_n++;
    return MDX_OK;
}

/* Reads the next page of the current sensor; MDX_OK (page_n may be 0: sensor finished). */
static int export_next_page(struct export_state *x)
{
    struct mdx_query q = {.tenant = x->tenant, .device = x->device,
                          .sensor = api_names_at(&x->sensors, x->sensor), .from_ms = x->next_from,
                          .to_ms = x->to, .limit = EXPORT_PAGE_POINTS};
    int rc;

    x->page_n = x->page_i = 0;
    if (x->next_from > x->to) {
        x->sensor_done = 1;
        return MDX_OK;
    }
    rc = mdx_store_query_points(x->store, &q, page_add, x);
    if (rc != MDX_OK) {
        return rc;
    }
    if (x->page_n < EXPORT_PAGE_POINTS) {
        x->sensor_done = 1;
    }
    if (x->page_n > 0) {
        x->next_from = x->page_ts[x->page_n - 1] + 1;
    }
    return MDX_OK;
}

/* Formats the next line into x->line: 1 if there is one, 0 at the end, <0 on a store error. */
static int export_next_line(struct export_state *x)
{
    char num[NUMFMT_MAX], ts_s[NUMFMT_MAX], iso[32];
    int n;

    if (!x->started) {
        x->started = 1;
        n = snprintf(x->line, sizeof(x->line), "%s",
                     x->format == EXPORT_CSV ? "sensor,time,ts_ms,value\n" : "[");
        x->line_len = (size_t)n;
        return 1;
    }
    while (x->page_i >= x->page_n) {
        if (x->sensor >= x->sensors.n) {
            if (x->ended) {
                return 0;
            }
            x->ended = 1;
            if (x->format == EXPORT_JSON) {
                x->line_len = (size_t)snprintf(x->line, sizeof(x->line), "]\n");
                return 1;
            }
            return 0;
        }
        if (x->sensor_done) {
            x->sensor++;
            x->sensor_done = 0;
            x->next_from = x->from;
            x->page_n = x->page_i = 0;
            continue;
        }
        int rc = export_next_page(x);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    int64_t ts = x->page_ts[x->page_i];
    double v = x->page_v[x->page_i];
    const char *sensor = api_names_at(&x->sensors, x->sensor);
    x->page_i++;
    numfmt_double(num, v, 1);
    numfmt_i64(ts_s, ts);
    if (x->format == EXPORT_CSV) {
        mdx_format_iso_ms(ts, iso, sizeof(iso));
        n = snprintf(x->line, sizeof(x->line), "%s,%s,%s,%s\n", sensor, iso, ts_s,
                     isfinite(v) ? num : "");
    } else {
        n = snprintf(x->line, sizeof(x->line), "%s{\"sensor\":\"%s\",\"ts_ms\":%s,\"value\":%s}",
                     x->rows > 0 ? ",\n" : "\n", sensor, ts_s, num);
    }
    x->rows++;
    x->line_len = n > 0 && (size_t)n < sizeof(x->line) ? (size_t)n : 0;
    return 1;
}

/* MHD content reader: fills 'buf' with whole or partial lines. */
static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct export_state *x = cls;
    size_t used = 0;

    (void)pos;
    if (x->failed) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    while (used < max) {
        if (x->line_off < x->line_len) {
            size_t n = api_stream_put(buf + used, max - used, x->line + x->line_off,
                                      x->line_len - x->line_off);
            used += n;
            x->line_off += n;
            continue;
        }
        x->line_off = x->line_len = 0;
        int rc = export_next_line(x);
        if (rc < 0) {
            mdx_log_error("api", "export stopped by a store error", MDX_F_STR("tenant", x->tenant),
                          MDX_F_STR("device", x->device), MDX_F_ERR(rc));
            x->failed = 1;
            return used > 0 ? (ssize_t)used : MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (rc == 0) {
            break;
        }
    }
    return used > 0 ? (ssize_t)used : MHD_CONTENT_READER_END_OF_STREAM;
}

static void export_free(void *cls)
{
    struct export_state *x = cls;

    if (x != NULL) {
        api_names_free(&x->sensors);
        mdx_free(x);
    }
}

static const char *const export_params[] = {"from", "to", "sensor", "format", NULL};

/* GET /api/v1/devices/{id}/export?from=&to=&format=csv|json&sensor= */
static void route_export(struct api_req *r)
{
    struct mdx_device_info dev;
    struct export_state *x;
    const char *format;
    char filename[MDX_NAME_MAX + 8];
    int64_t from, to;
    int fmt;

    if (api_query_allow(r, export_params) != 0 || api_query_time(r, "from", 0, &from) != 0 ||
        api_query_time(r, "to", mdx_now_ms(), &to) != 0) {
        return;
    }
    if (from > to) {
        api_error(r, 400, "bad_request", "from is after to");
        return;
    }
    format = api_query(r, "format");
    if (format == NULL || strcmp(format, "csv") == 0) {
        fmt = EXPORT_CSV;
    } else if (strcmp(format, "json") == 0) {
        fmt = EXPORT_JSON;
    } else {
        api_error(r, 400, "bad_request", "format: csv or json");
        return;
    }
    if (api_device(r, r->params[0], &dev) != 0) {
        return;
    }
    x = mdx_calloc(1, sizeof(*x));
    if (x == NULL) {
        api_error(r, 500, "internal", "out of memory");
        return;
    }
    api_names_init(&x->sensors);
    if (request_sensors(r, dev.device, &x->sensors) != 0) {
        export_free(x);
        return;
    }
    x->store = r->store;
    snprintf(x->tenant, sizeof(x->tenant), "%s", r->caller.tenant);
    snprintf(x->device, sizeof(x->device), "%s", dev.device);
    x->from = x->next_from = from;
    x->to = to;
    x->format = fmt;
    snprintf(filename, sizeof(filename), "%s.%s", dev.device, fmt == EXPORT_CSV ? "csv" : "json");
    api_reply_stream(r, 200, fmt == EXPORT_CSV ? "text/csv; charset=utf-8" : "application/json",
                     export_read, x, export_free, filename);
}

const struct api_route api_routes_telemetry[] = {
    {"GET", "/api/v1/latest", API_VIEWER, route_latest_all},
    {"GET", "/api/v1/devices/{id}/latest", API_VIEWER, route_latest_device},
    {"GET", "/api/v1/devices/{id}/telemetry", API_VIEWER, route_range},
    {"GET", "/api/v1/devices/{id}/export", API_VIEWER, route_export},
    {NULL, NULL, 0, NULL},
};
