/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_devices.c - the per-device gauges of /metrics: the latest
 * temperature and current of each device, labelled tenant, device and
 * sensor, as the cloud guide publishes them per tenant and device.
 *
 * Which sensors: a name starting with "temperature" (temperature_mean of
 * the cloud form, temperature_0.. of the field form) is a temperature in
 * degrees Celsius; one starting with "current" or "motor_current"
 * (current_mean, current_max, motor_current_0..) a current in amperes. A
 * device can have several of each, hence the sensor label. The value is
 * the sensor's newest stored point, however old.
 *
 * Devices are taken in (tenant, device) order up to api.metrics_devices_max;
 * the others are counted and the page says it is truncated. Memory is
 * bounded by that cap: the names of at most 'max' devices are held while
 * their latest values are read.
 */
#include <string.h>

#include "modax/alloc.h"
#include "modax/status.h"

#include "api/metrics_int.h"

struct dev_name {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
};

struct dev_walk {
    struct dev_name *v;
    size_t n, cap;
    size_t max;
    uint64_t skipped;
};

enum sensor_kind { SENSOR_OTHER = 0, SENSOR_TEMPERATURE, SENSOR_CURRENT };

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static enum sensor_kind sensor_kind(const char *sensor)
{
    if (starts_with(sensor, "temperature")) {
        return SENSOR_TEMPERATURE;
    }
    if (starts_with(sensor, "current") || starts_with(sensor, "motor_current")) {
        return SENSOR_CURRENT;
    }
    return SENSOR_OTHER;
}

static int on_device(void *arg, const struct mdx_device_info *dev)
{
    struct dev_walk *w = arg;

    if (w->n >= w->max) {
        w->skipped++;
        return MDX_OK;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap == 0 ? 64 : w->cap * 2;
        if (cap > w->max) {
            cap = w->max;
        }
        struct dev_name *v = mdx_realloc(w->v, cap * sizeof(*v));
        if (v == NULL) {
            return MDX_ENOMEM;
        }
        w->v = v;
        w->cap = cap;
    }
    memcpy(w->v[w->n].tenant, dev->tenant, sizeof(w->v[w->n].tenant));
    memcpy(w->v[w->n].device, dev->device, sizeof(w->v[w->n].device));
    w->n++;
    return MDX_OK;
}

struct latest_ctx {
    const struct dev_name *dev;
    struct metrics_buf *temperature, *current;
};

static int on_latest(void *arg, const char *sensor, int64_t ts_ms, double value, unsigned flags)
{
    struct latest_ctx *c = arg;
    struct metrics_buf *b;
    const char *name;

    (void)ts_ms;
    (void)flags;
    switch (sensor_kind(sensor)) {
    case SENSOR_TEMPERATURE:
        b = c->temperature;
        name = "modax_device_temperature_celsius";
        break;
    case SENSOR_CURRENT:
        b = c->current;
        name = "modax_device_current_amperes";
        break;
    default:
        return MDX_OK;
    }
    metrics_buf_printf(b, "%s{tenant=\"", name);
    metrics_buf_label(b, c->dev->tenant);
    metrics_buf_lit(b, "\",device=\"");
    metrics_buf_label(b, c->dev->device);
    metrics_buf_lit(b, "\",sensor=\"");
    metrics_buf_label(b, sensor);
    metrics_buf_lit(b, "\"} ");
    metrics_buf_value(b, value);
    metrics_buf_lit(b, "\n");
    return b->oom ? MDX_ENOMEM : MDX_OK;
}

int metrics_devices_render(struct metrics_buf *b, struct mdx_store *st, int64_t max)
{
    struct dev_walk w = {.max = max > 0 ? (size_t)max : 0};
    struct metrics_buf temperature = {0}, current = {0};
    int rc = MDX_OK;

    if (st == NULL) {
        rc = MDX_EIO;
    } else {
        rc = mdx_store_device_list(st, NULL, on_device, &w);
    }
    for (size_t i = 0; rc == MDX_OK && i < w.n; i++) {
        struct latest_ctx c = {&w.v[i], &temperature, &current};
        rc = mdx_store_latest(st, w.v[i].tenant, w.v[i].device, on_latest, &c);
        if (rc == MDX_ENOTFOUND) {
            rc = MDX_OK; /* deleted meanwhile */
        }
    }
    metrics_buf_printf(b, "# HELP modax_device_temperature_celsius Latest value of each "
                          "temperature sensor of a device.\n"
                          "# TYPE modax_device_temperature_celsius gauge\n");
    if (temperature.len > 0) {
        metrics_buf_append(b, temperature.p, temperature.len);
    }
    metrics_buf_printf(b, "# HELP modax_device_current_amperes Latest value of each "
                          "current sensor of a device.\n"
                          "# TYPE modax_device_current_amperes gauge\n");
    if (current.len > 0) {
        metrics_buf_append(b, current.p, current.len);
    }
    metrics_buf_printf(b,
                       "# HELP modax_device_metrics_devices Devices with per-device gauges on "
                       "this page.\n"
                       "# TYPE modax_device_metrics_devices gauge\n"
                       "modax_device_metrics_devices %zu\n"
                       "# HELP modax_device_metrics_truncated 1 if devices were left out "
                       "(api.metrics_devices_max reached).\n"
                       "# TYPE modax_device_metrics_truncated gauge\n"
                       "modax_device_metrics_truncated %d\n"
                       "# HELP modax_device_metrics_skipped Devices left out of this page by "
                       "api.metrics_devices_max.\n"
                       "# TYPE modax_device_metrics_skipped gauge\n"
                       "modax_device_metrics_skipped %llu\n",
                       w.n, w.skipped > 0, (unsigned long long)w.skipped);
    if (temperature.oom || current.oom) {
        b->oom = 1;
    }
    metrics_buf_free(&temperature);
    metrics_buf_free(&current);
    mdx_free(w.v);
    return rc;
}
