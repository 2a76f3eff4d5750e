/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_export.c - training histories from the store (rul_export.h).
 *
 * Per device: its failure markers (status events), then per life the
 * rows in chunks of CHUNK_ROWS rows: each sensor's points of the chunk are
 * read in time order (one query per sensor) into the chunk's rows
 * (struct mdx_rul_row, rul_rows.c), and the rows with data are written in
 * order. Memory is bounded: one chunk, the device and sensor names, and
 * at most FAILS_MAX failure markers per device.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "modax/alloc.h"
#include "modax/rul.h"
#include "modax/rul_export.h"
#include "modax/rul_rows.h"
#include "modax/status.h"

#define CHUNK_ROWS 1024
#define FAILS_MAX 100000    /* failure markers per device in the exported range */
#define DEVICES_MAX 1000000 /* devices of one export */
#define SENSORS_MAX 256     /* sensor names per device considered */

typedef char name_t[MDX_NAME_MAX + 1];

struct names {
    name_t *v;
    size_t n, cap, max;
};

static int names_add(struct names *s, const char *name)
{
    name_t *v;

    if (s->n >= s->max) {
        return MDX_EFULL;
    }
    v = mdx_grow(s->v, &s->cap, s->n + 1, sizeof(*v), 16);
    if (v == NULL) {
        return MDX_ENOMEM;
    }
    s->v = v;
    snprintf(s->v[s->n++], sizeof(name_t), "%s", name);
    return MDX_OK;
}

static int take_device(void *arg, const struct mdx_device_info *d)
{
    return names_add(arg, d->device);
}

static int take_name(void *arg, const char *name)
{
    struct names *s = arg;

    return s->n < s->max ? names_add(s, name) : MDX_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* Keeps in 'common' only the names that are in 'dev' too. */
static void intersect(struct names *common, const struct names *dev)
{
    size_t k = 0;

    for (size_t i = 0; i < common->n; i++) {
        for (size_t j = 0; j < dev->n; j++) {
            if (strcmp(common->v[i], dev->v[j]) == 0) {
                memmove(common->v[k++], common->v[i], sizeof(name_t));
                break;
            }
        }
    }
    common->n = k;
}

/* ---- one device ---- */

struct fails {
    int64_t *ts;
    size_t n;
    int64_t from, to;
    int full;
};

static int take_failure(void *arg, const struct mdx_event *ev)
{
    struct fails *f = arg;
    const cJSON *state;
    cJSON *root;
    int failed;

    if (ev->kind != MDX_MSG_STATUS || ev->ts_ms < f->from || ev->ts_ms > f->to ||
        strstr(ev->body, "failed") == NULL) {
        return MDX_OK;
    }
    root = cJSON_ParseWithLength(ev->body, strnlen(ev->body, sizeof(ev->body)));
    state = cJSON_GetObjectItemCaseSensitive(root, "state");
    failed = cJSON_IsString(state) && strcmp(state->valuestring, "failed") == 0;
    cJSON_Delete(root);
    if (!failed) {
        return MDX_OK;
    }
    if (f->n == FAILS_MAX) {
        f->full = 1;
        return MDX_EFULL;
    }
    f->ts[f->n++] = ev->ts_ms;
    return MDX_OK;
}

struct exp {
    struct mdx_store *st;
    const struct mdx_rul_export_opts *o;
    FILE *out;
    struct mdx_rul_export_stats *stats;
    const struct names *sensors;
    struct mdx_rul_row *chunk;    /* CHUNK_ROWS */
    int64_t chunk_start;
    size_t sensor;                /* the sensor being read into the chunk */
    /* The life being written. */
    const char *device;
    unsigned life;
    size_t life_rows;
    int has_prev;
    double prev[MDX_RUL_INPUTS_MAX];
};

static int take_point(void *arg, int64_t ts_ms, double value, unsigned flags)
{
    struct exp *x = arg;
    int64_t k = (ts_ms - x->chunk_start) / x->o->row_ms;

    (void)flags;
    if (k >= 0 && k < CHUNK_ROWS) {
        struct mdx_rul_row *r = &x->chunk[k];

        r->start = x->chunk_start + k * x->o->row_ms;
        mdx_rul_row_add(r, x->sensor, ts_ms, value);
    }
    return MDX_OK;
}

/* Writes the chunk's rows with data. */
static int write_chunk(struct exp *x)
{
    size_t n = x->sensors->n;
    double v[MDX_RUL_INPUTS_MAX];

    for (size_t k = 0; k < CHUNK_ROWS; k++) {
        const struct mdx_rul_row *r = &x->chunk[k];
        int complete = 1;

        if (!mdx_rul_row_has_data(r, n)) {
            continue;
        }
        mdx_rul_row_values(r, n, x->has_prev ? x->prev : NULL, v);
        for (size_t i = 0; i < n; i++) {
            complete = complete && !isnan(v[i]);
        }
        if (!complete) {
            x->stats->rows_incomplete++;
            continue; /* the life's first rows, before every sensor reported */
        }
        if (fprintf(x->out, "%s.life%u,%" PRId64, x->device, x->life, r->start) < 0) {
            return MDX_EIO;
        }
        for (size_t i = 0; i < n; i++) {
            fprintf(x->out, ",%.9g", v[i]);
        }
        if (fputc('\n', x->out) == EOF) {
            return MDX_EIO;
        }
        memcpy(x->prev, v, n * sizeof(double));
        x->has_prev = 1;
        x->life_rows++;
        x->stats->rows++;
    }
    return MDX_OK;
}

/* Writes the rows of points in [lo, hi] as asset DEVICE.lifeN. */
static int write_life(struct exp *x, int64_t lo, int64_t hi)
{
    int64_t span = (int64_t)CHUNK_ROWS * x->o->row_ms;
    int rc;

    x->life_rows = 0;
    x->has_prev = 0;
    for (int64_t cs = mdx_rul_row_start(lo, x->o->row_ms); cs <= hi; cs += span) {
        for (size_t k = 0; k < CHUNK_ROWS; k++) {
            mdx_rul_row_clear(&x->chunk[k]);
        }
        x->chunk_start = cs;
        for (size_t i = 0; i < x->sensors->n; i++) {
            struct mdx_query q = {
                .tenant = x->o->tenant,
                .device = x->device,
                .sensor = x->sensors->v[i],
                .from_ms = cs > lo ? cs : lo,
                .to_ms = cs + span - 1 < hi ? cs + span - 1 : hi,
            };
            x->sensor = i;
            rc = mdx_store_query_points(x->st, &q, take_point, x);
            if (rc != MDX_OK) {
                return rc;
            }
        }
        rc = write_chunk(x);
        if (rc != MDX_OK) {
            return rc;
        }
        if (hi - cs < span) {
            break; /* also keeps cs + span from overflowing near INT64_MAX */
        }
    }
    return MDX_OK;
}

static int take_first(void *arg, int64_t ts_ms, double value, unsigned flags)
{
    int64_t *first = arg;

    (void)value;
    (void)flags;
    if (ts_ms < *first) {
        *first = ts_ms;
    }
    return MDX_OK;
}

static int take_latest(void *arg, const char *sensor, int64_t ts_ms, double value,
                       unsigned flags)
{
    int64_t *last = arg;

    (void)sensor;
    (void)value;
    (void)flags;
    if (ts_ms > *last) {
        *last = ts_ms;
    }
    return MDX_OK;
}

/* The device's points' time range within the options' range; MDX_ENOTFOUND: none. */
static int device_range(struct exp *x, int64_t *lo, int64_t *hi)
{
    int64_t first = INT64_MAX, last = INT64_MIN;
    int rc;

    for (size_t i = 0; i < x->sensors->n; i++) {
        struct mdx_query q = {.tenant = x->o->tenant, .device = x->device,
                              .sensor = x->sensors->v[i], .from_ms = x->o->from_ms,
                              .to_ms = x->o->to_ms, .limit = 1};
        rc = mdx_store_query_points(x->st, &q, take_first, &first);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    rc = mdx_store_latest(x->st, x->o->tenant, x->device, take_latest, &last);
    if (rc != MDX_OK) {
        return rc;
    }
    if (first == INT64_MAX) {
        return MDX_ENOTFOUND;
    }
    *lo = first;
    *hi = last < x->o->to_ms ? last : x->o->to_ms;
    return *hi >= *lo ? MDX_OK : MDX_ENOTFOUND;
}

static int export_device(struct exp *x, struct fails *f, char *why, size_t whylen)
{
    int64_t lo, hi, start;
    int rc;

    rc = device_range(x, &lo, &hi);
    if (rc == MDX_ENOTFOUND) {
        return MDX_OK; /* no points in range */
    }
    if (rc != MDX_OK) {
        return rc;
    }
    f->n = 0;
    f->full = 0;
    f->from = x->o->from_ms;
    f->to = x->o->to_ms;
    rc = mdx_store_event_list(x->st, x->o->tenant, x->device, 0, take_failure, f);
    if (f->full) {
        snprintf(why, whylen, "device %s has more than %d failures in the range; narrow it "
                 "with --from/--to", x->device, FAILS_MAX);
        return MDX_EINVAL;
    }
    if (rc != MDX_OK) {
        return rc;
    }
    if (f->n > 1) {
        qsort(f->ts, f->n, sizeof(*f->ts), cmp_i64);
    }
    x->stats->devices++;
    x->life = 0;
    start = lo;
    for (size_t i = 0; i <= f->n; i++) {
        int ended = i < f->n;
        int64_t end = ended ? f->ts[i] : hi;

        if (ended && i + 1 < f->n && f->ts[i + 1] == end) {
            continue; /* the same marker twice (redelivered) */
        }
        if (end < start) {
            continue;
        }
        if (!ended && !x->o->open_lives) {
            x->stats->open_lives++;
            break;
        }
        x->life++;
        rc = write_life(x, start, end);
        if (rc != MDX_OK) {
            return rc;
        }
        if (x->life_rows > 0) {
            x->stats->lives++;
        } else {
            x->life--; /* no rows: no asset */
        }
        if (end == INT64_MAX) {
            break;
        }
        start = end + 1;
    }
    return MDX_OK;
}

int mdx_rul_export(struct mdx_store *st, const struct mdx_rul_export_opts *o, FILE *out,
                   struct mdx_rul_export_stats *stats, char *why, size_t whylen)
{
    struct names devs = {.max = DEVICES_MAX}, sensors = {.max = SENSORS_MAX};
    struct names dev_sensors = {.max = SENSORS_MAX};
    struct fails f = {0};
    struct exp x = {.st = st, .o = o, .out = out, .stats = stats, .sensors = &sensors};
    struct mdx_device_info info;
    int rc;

    memset(stats, 0, sizeof(*stats));
    why[0] = '\0';
    if (o->row_ms <= 0 || o->from_ms > o->to_ms) {
        snprintf(why, whylen, "the row interval must be > 0 and from <= to");
        return MDX_EINVAL;
    }
    if (o->device != NULL) {
        rc = mdx_store_device_get(st, o->tenant, o->device, &info);
        if (rc == MDX_OK) {
            rc = names_add(&devs, o->device);
        } else if (rc == MDX_ENOTFOUND) {
            snprintf(why, whylen, "no device '%s' in tenant '%s'", o->device, o->tenant);
        }
    } else {
        rc = mdx_store_tenant_exists(st, o->tenant);
        if (rc == MDX_OK) {
            rc = mdx_store_device_list(st, o->tenant, take_device, &devs);
        } else if (rc == MDX_ENOTFOUND) {
            snprintf(why, whylen, "no tenant '%s'", o->tenant);
        }
    }
    /* The sensors every device with points has, in name order. */
    for (size_t d = 0, with_points = 0; rc == MDX_OK && d < devs.n; d++) {
        dev_sensors.n = 0;
        rc = mdx_store_sensor_list(st, o->tenant, devs.v[d], take_name, &dev_sensors);
        if (rc != MDX_OK || dev_sensors.n == 0) {
            continue;
        }
        if (with_points++ == 0) {
            for (size_t i = 0; rc == MDX_OK && i < dev_sensors.n; i++) {
                rc = names_add(&sensors, dev_sensors.v[i]);
            }
        } else {
            intersect(&sensors, &dev_sensors);
        }
    }
    if (sensors.n > 1) {
        qsort(sensors.v, sensors.n, sizeof(name_t), cmp_name);
    }
    if (rc == MDX_OK && sensors.n == 0) {
        snprintf(why, whylen, "no sensor that every device of '%s' has sent", o->tenant);
        rc = MDX_EINVAL;
    }
    if (sensors.n > MDX_RUL_INPUTS_MAX) {
        sensors.n = MDX_RUL_INPUTS_MAX; /* a model reads at most these */
    }
    stats->inputs = sensors.n;
    if (rc == MDX_OK) {
        x.chunk = mdx_malloc(CHUNK_ROWS * sizeof(*x.chunk));
        f.ts = mdx_malloc(FAILS_MAX * sizeof(*f.ts));
        rc = x.chunk != NULL && f.ts != NULL ? MDX_OK : MDX_ENOMEM;
    }
    if (rc == MDX_OK) {
        fprintf(out, "asset,ts_ms");
        for (size_t i = 0; i < sensors.n; i++) {
            fprintf(out, ",%s", sensors.v[i]);
        }
        rc = fputc('\n', out) == EOF ? MDX_EIO : MDX_OK;
    }
    for (size_t d = 0; rc == MDX_OK && d < devs.n; d++) {
        x.device = devs.v[d];
        rc = export_device(&x, &f, why, whylen);
    }
    if (rc == MDX_OK && (fflush(out) != 0 || ferror(out))) {
        rc = MDX_EIO;
    }
    mdx_free(x.chunk);
    mdx_free(f.ts);
    mdx_free(devs.v);
    mdx_free(sensors.v);
    mdx_free(dev_sensors.v);
    return rc;
}
