/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device_stage.c - the device-level detector as a stage of the ingest
 * (detect_device_stage.h): per (tenant, device) the current reading and
 * its detector, found with one hash lookup per message; alerts of source
 * "device" go through the alerting stage (mdx_alerting_detected), so they
 * are stored, handed to the sinks and published like the others.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/htab.h"
#include "modax/alloc.h"
#include "modax/detect_device.h"
#include "modax/detect_device_stage.h"
#include "modax/log.h"
#include "modax/msg.h"
#include "modax/status.h"

#define MOD "detect"
#define SOURCE "device"
#define HOLD_SCORE 0.5        /* an open device alert is held while the score is above this */
#define DEVICES_PER_SERIES 8  /* devices tracked: alert.series_max / this */
#define DEVICES_MIN 16

struct dev {
    struct mdx_hnode node;        /* first member: a node pointer is the device */
    struct dev *next_all;         /* list of every device, to free them */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    uint8_t sensors;              /* sensors known, in the order they first came */
    uint8_t alert;                /* an alert may be active (1 until we know better) */
    uint16_t fresh;               /* bit i: sensor i reported for the pending reading */
    uint32_t readings;            /* readings scored since the detector started (saturates) */
    int64_t ts_ms;                /* newest point time in the pending reading */
    uint8_t sensor_len[MDX_DEVICE_SENSORS_MAX];
    char sensor[MDX_DEVICE_SENSORS_MAX][MDX_NAME_MAX + 1];
    double x[MDX_DEVICE_SENSORS_MAX]; /* latest value of each sensor */
    struct mdx_device_detector det;
};

_Static_assert(MDX_DEVICE_SENSORS_MAX <= 16, "the fresh mask holds 16 sensors");

struct mdx_device_stage {
    struct mdx_alerting_conf conf;
    struct mdx_alerting *alerting;
    struct mdx_htab devs;         /* struct dev by (tenant, device) */
    struct dev *all;
    size_t n_devs, devs_max;
    struct mdx_device_stage_stats st;
};

static void clear_devices(struct mdx_device_stage *s)
{
    struct dev *d, *next;

    for (d = s->all; d != NULL; d = next) {
        next = d->next_all;
        mdx_free(d);
    }
    s->all = NULL;
    mdx_htab_clear(&s->devs);
    s->n_devs = 0;
}

/* The device's entry, created if new; empties the table first when it is full. */
static struct dev *dev_get(struct mdx_device_stage *s, const char *tenant, const char *device)
{
    uint64_t h = mdx_hash_bytes(mdx_hash_bytes(0, tenant, strlen(tenant) + 1), device,
                                strlen(device));
    struct dev *d;

    for (struct mdx_hnode *n = mdx_htab_bucket(&s->devs, h); n != NULL; n = n->next) {
        d = (struct dev *)n;
        if (n->hash == h && strcmp(d->device, device) == 0 && strcmp(d->tenant, tenant) == 0) {
            return d;
        }
    }
    if (s->n_devs >= s->devs_max) {
        s->st.devices_cleared++;
        mdx_log_warn(MOD, "device detector table full; emptied, device detectors learn again "
                          "(raise alert.series_max)",
                     MDX_F_INT("devices", s->n_devs), MDX_F_INT("max", s->devs_max));
        clear_devices(s);
    }
    d = mdx_calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->node.hash = h;
    snprintf(d->tenant, sizeof(d->tenant), "%s", tenant);
    snprintf(d->device, sizeof(d->device), "%s", device);
    /*
     * An alert of this device may be active (adopted from the store after a
     * restart, or from before the table was emptied): the first verdicts
     * resolve or hold it, and tell us.
     */
    d->alert = 1;
    d->ts_ms = INT64_MIN;
    d->next_all = s->all;
    s->all = d;
    mdx_htab_insert(&s->devs, &d->node);
    s->n_devs++;
    return d;
}

/* Index of the sensor of 'p' in 'd', added if new; -1 when the device has too many. */
static int sensor_slot(struct mdx_device_stage *s, struct dev *d, const struct mdx_point *p)
{
    for (int i = 0; i < d->sensors; i++) {
        if (d->sensor_len[i] == p->sensor_len &&
            memcmp(d->sensor[i], p->sensor, p->sensor_len) == 0) {
            return i;
        }
    }
    if (d->sensors >= MDX_DEVICE_SENSORS_MAX) {
        s->st.sensors_dropped++;
        return -1;
    }
    memcpy(d->sensor[d->sensors], p->sensor, p->sensor_len);
    d->sensor[d->sensors][p->sensor_len] = '\0';
    d->sensor_len[d->sensors] = p->sensor_len;
    d->sensors++;
    /* A new sensor changes what a reading is: the detector learns the device again. */
    if (d->sensors >= 2) {
        mdx_device_detector_init(&d->det, d->sensors);
        d->readings = 0;
    }
    return d->sensors - 1;
}

/* "current_b_mean 48%, current_mean 41%, vibration_x 4%" */
static void top_sensors(const struct dev *d, char *buf, size_t len)
{
    size_t idx[MDX_DEVICE_ALERT_TOP];
    double share[MDX_DEVICE_ALERT_TOP];
    size_t n = mdx_device_detector_top(&d->det, idx, share, MDX_DEVICE_ALERT_TOP), used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s %.0f%%", i > 0 ? ", " : "",
                         d->sensor[idx[i]], 100.0 * share[i]);
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
}

/* Scores the pending reading of 'd' and raises, holds or resolves its alert. */
static void score_reading(struct mdx_device_stage *s, struct dev *d)
{
    double score = mdx_device_detector_push(&d->det, d->x);
    enum mdx_alerting_verdict v;
    char summary[256], top[200];

    d->fresh = 0;
    if (d->readings < UINT32_MAX) {
        d->readings++;
    }
    s->st.readings++;
    if (score >= s->conf.detector_threshold && d->readings > (uint32_t)s->conf.detector_warmup) {
        v = MDX_ALERTING_RAISE;
        s->st.raised++;
    } else if (!d->alert) {
        return;
    } else {
        v = score >= HOLD_SCORE ? MDX_ALERTING_HOLD : MDX_ALERTING_NORMAL;
    }
    top_sensors(d, top, sizeof(top));
    snprintf(summary, sizeof(summary), "sensors out of their usual relation (score %.3f): %s",
             score, top);
    d->alert = (uint8_t)mdx_alerting_detected(s->alerting, d->tenant, d->device, SOURCE, v,
                                              d->ts_ms, d->det.d2, score, summary);
}

/* The points of one message: O(sensors of the device) per point, O(sensors^2) per reading. */
static void device_on_points(void *ctx, const struct mdx_point_group *g,
                             const struct mdx_device_ref *ref)
{
    struct mdx_device_stage *s = ctx;
    struct dev *d = NULL;

    (void)ref;
    for (size_t i = 0; i < g->n; i++) {
        const struct mdx_point *p = &g->points[i];
        int slot;

        if (!isfinite(p->value)) {
            continue;
        }
        if (d == NULL && (d = dev_get(s, g->tenant, g->device)) == NULL) {
            return; /* out of memory: the next message tries again */
        }
        slot = sensor_slot(s, d, p);
        if (slot < 0) {
            continue;
        }
        if (d->fresh & (1u << slot)) {
            /*
             * This sensor's next reading started before the others reported: carry
             * them. A device with one sensor so far has no relation to score.
             */
            if (d->sensors >= 2) {
                score_reading(s, d);
            }
            d->fresh = 0;
        }
        d->x[slot] = p->value;
        d->fresh |= (uint16_t)(1u << slot);
        d->ts_ms = p->ts_ms > d->ts_ms ? p->ts_ms : d->ts_ms;
        if (d->sensors >= 2 && d->fresh == (1u << d->sensors) - 1u) {
            score_reading(s, d);
        }
    }
    s->st.devices = s->n_devs;
}

struct mdx_device_stage *mdx_device_stage_create(const struct mdx_alerting_conf *conf,
                                                 struct mdx_alerting *alerting, int *err)
{
    struct mdx_device_stage *s = mdx_calloc(1, sizeof(*s));

    *err = MDX_ENOMEM;
    if (s == NULL) {
        return NULL;
    }
    s->conf = *conf;
    s->alerting = alerting;
    s->devs_max = (size_t)conf->series_max / DEVICES_PER_SERIES;
    s->devs_max = s->devs_max < DEVICES_MIN ? DEVICES_MIN : s->devs_max;
    if (mdx_htab_init_for(&s->devs, s->devs_max, (size_t)1 << 20) != MDX_OK) {
        mdx_free(s);
        return NULL;
    }
    *err = MDX_OK;
    return s;
}

void mdx_device_stage_destroy(struct mdx_device_stage *s)
{
    if (s == NULL) {
        return;
    }
    clear_devices(s);
    mdx_htab_fini(&s->devs);
    mdx_free(s);
}

void mdx_device_stage_stats(const struct mdx_device_stage *s, struct mdx_device_stage_stats *out)
{
    *out = s->st;
    out->devices = s->n_devs;
}

const struct mdx_stage_ops mdx_device_stage_ops = {
    .name = "device",
    .on_points = device_on_points,
};
