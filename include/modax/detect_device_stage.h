/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_device_stage.h - the device-level detector (detect_device.h) as a
 * stage of the ingest (stage.h): one detector per (tenant, device) over
 * its sensors, raising "device" alerts through the alerting stage.
 *
 * The points of a message update the device's current reading (one value
 * per sensor, in the order the sensors first appeared). A reading is
 * scored once every sensor has reported since the last one, or when a
 * sensor reports again before the others have (their last values are
 * carried). A score from alert.detector_threshold on, after
 * alert.detector_warmup readings, raises the alert of source "device"
 * (sensor ""), whose summary names the sensors that contributed most; it
 * is held while the score stays above 0.5 and resolves after
 * alert.auto_resolve_s of normal readings, with alert.flap_s of flap
 * suppression: the same threshold and lifecycle as per-sensor alerts.
 *
 * Memory: about 4.3 KB per device (the detector, the latest value and the
 * name of up to MDX_DEVICE_SENSORS_MAX sensors), for at most
 * alert.series_max / 8 devices (at least 16); when the table is full it is
 * emptied and refilled like the alerting stage's, and the detectors learn
 * again (active alerts stay). Sensors beyond the first
 * MDX_DEVICE_SENSORS_MAX of a device are counted and left out. A new
 * sensor of a device restarts its detector's learning.
 */
#ifndef MODAX_DETECT_DEVICE_STAGE_H
#define MODAX_DETECT_DEVICE_STAGE_H

#include <stdint.h>

#include "modax/alerting.h"
#include "modax/stage.h"

#define MDX_DEVICE_ALERT_TOP 3    /* sensors named in a device alert's summary */

/* Counters; read with mdx_device_stage_stats() on the writer thread. */
struct mdx_device_stage_stats {
    uint64_t devices;             /* devices tracked now */
    uint64_t devices_cleared;     /* times the table was full and emptied */
    uint64_t readings;            /* readings scored */
    uint64_t sensors_dropped;     /* points of sensors beyond MDX_DEVICE_SENSORS_MAX */
    uint64_t raised;              /* readings that raised (or re-raised) a device alert */
};

struct mdx_device_stage;

/*
 * Creates the stage. 'conf' is copied; 'alerting' (borrowed, outlives the
 * stage) raises and resolves the alerts. NULL on failure (*err set).
 */
struct mdx_device_stage *mdx_device_stage_create(const struct mdx_alerting_conf *conf,
                                                 struct mdx_alerting *alerting, int *err);
void mdx_device_stage_destroy(struct mdx_device_stage *s);

/* Its operations; on_points only. Context: a struct mdx_device_stage. */
extern const struct mdx_stage_ops mdx_device_stage_ops;

void mdx_device_stage_stats(const struct mdx_device_stage *s, struct mdx_device_stage_stats *out);

#endif
