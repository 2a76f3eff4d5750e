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
 * The same walk (metrics_devices_each) feeds the per-device EMF lines
 * (metrics_emf.c), so CloudWatch gets what Prometheus gets.
 *
 * Devices are taken in (tenant, device) order up to api.metrics_devices_max;
 * the others are counted and the page says it is truncated. Memory is
 * bounded by that cap: the names of at most 'max' devices are held while
 * their latest values are read.
 */
#include <string.h>

#include "modax/status.h"

#include "api/metrics_int.h"

struct dev_name {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
};

/* The devices taken, in a buffer of struct dev_name capped at 'max' of them. */
struct dev_walk {
    struct mdx_buf names;
    size_t n, max;
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

static const struct dev_name *dev_at(const struct dev_walk *w, size_t i)
{
    return &((const struct dev_name *)(const void *)w->names.p)[i];
}

static int on_device(void *arg, const struct mdx_device_info *dev)
{
    struct dev_walk *w = arg;
    struct dev_name name;
    int rc;

    if (w->n >= w->max) {
        w->skipped++;
        return MDX_OK;
    }
    memcpy(name.tenant, dev->tenant, sizeof(name.tenant));
    memcpy(name.device, dev->device, sizeof(name.device));
    rc = mdx_buf_add(&w->names, &name, sizeof(name));
    if (rc != MDX_OK) {
        return rc;
    }
    w->n++;
    return MDX_OK;
}

struct latest_ctx {
    const struct dev_name *dev;
    metrics_device_fn fn;
    void *arg;
};

static int on_latest(void *arg, const char *sensor, int64_t ts_ms, double value, unsigned flags)
{
    struct latest_ctx *c = arg;
    enum sensor_kind kind = sensor_kind(sensor);

    (void)ts_ms;
    (void)flags;
    if (kind == SENSOR_OTHER) {
        return MDX_OK;
    }
    return c->fn(c->arg, c->dev->tenant, c->dev->device, sensor,
                 kind == SENSOR_TEMPERATURE ? METRICS_TEMPERATURE : METRICS_CURRENT, value);
}

int metrics_devices_each(struct mdx_store *st, int64_t max, metrics_device_fn fn, void *arg,
                         size_t *devices, uint64_t *skipped)
{
    struct dev_walk w = {.max = max > 0 ? (size_t)max : 0};
    int rc;

    mdx_buf_init(&w.names, w.max * sizeof(struct dev_name));
    rc = st != NULL ? mdx_store_device_list(st, NULL, on_device, &w) : MDX_EIO;
    for (size_t i = 0; rc == MDX_OK && i < w.n; i++) {
        struct latest_ctx c = {dev_at(&w, i), fn, arg};
        rc = mdx_store_latest(st, c.dev->tenant, c.dev->device, on_latest, &c);
        if (rc == MDX_ENOTFOUND) {
            rc = MDX_OK; /* deleted meanwhile */
        }
    }
    *devices = w.n;
    *skipped = w.skipped;
    mdx_buf_fini(&w.names);
    return rc;
}

/* The Prometheus samples, gathered per metric family. */
struct page {
    struct mdx_buf temperature, current;
};

static int add_sample(void *arg, const char *tenant, const char *device, const char *sensor,
                      enum metrics_sensor kind, double value)
{
    struct page *pg = arg;
    struct mdx_buf *b = kind == METRICS_TEMPERATURE ? &pg->temperature : &pg->current;

    mdx_buf_addf(b, "%s{tenant=\"", kind == METRICS_TEMPERATURE
                                        ? "modax_device_temperature_celsius"
                                        : "modax_device_current_amperes");
    metrics_text_label(b, tenant);
    mdx_buf_adds(b, "\",device=\"");
    metrics_text_label(b, device);
    mdx_buf_adds(b, "\",sensor=\"");
    metrics_text_label(b, sensor);
    mdx_buf_adds(b, "\"} ");
    metrics_text_value(b, value);
    return mdx_buf_adds(b, "\n");
}

/* Appends the gauges gathered in 'part' to the page, or marks the page failed with its error. */
static void add_part(struct mdx_buf *b, const struct mdx_buf *part)
{
    if (part->err != MDX_OK) {
        if (b->err == MDX_OK) {
            b->err = part->err;
        }
        return;
    }
    mdx_buf_add(b, mdx_buf_str(part), part->len);
}

int metrics_devices_render(struct mdx_buf *b, struct mdx_store *st, int64_t max)
{
    struct page pg;
    size_t n = 0;
    uint64_t skipped = 0;
    int rc;

    mdx_buf_init(&pg.temperature, METRICS_PAGE_MAX);
    mdx_buf_init(&pg.current, METRICS_PAGE_MAX);
    rc = metrics_devices_each(st, max, add_sample, &pg, &n, &skipped);
    mdx_buf_adds(b, "# HELP modax_device_temperature_celsius Latest value of each "
                    "temperature sensor of a device.\n"
                    "# TYPE modax_device_temperature_celsius gauge\n");
    add_part(b, &pg.temperature);
    mdx_buf_adds(b, "# HELP modax_device_current_amperes Latest value of each "
                    "current sensor of a device.\n"
                    "# TYPE modax_device_current_amperes gauge\n");
    add_part(b, &pg.current);
    mdx_buf_addf(b,
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
                 n, skipped > 0, (unsigned long long)skipped);
    mdx_buf_fini(&pg.temperature);
    mdx_buf_fini(&pg.current);
    return rc;
}
