/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_export.h - training histories from the store (issue 7): the rows of
 * a tenant's devices as `modax train --format csv` reads them, one asset
 * per machine life.
 *
 * A row is what the live stage predicts from (rul_rows.h): the mean of
 * each sensor over row_ms of point time, aligned to the epoch, a sensor
 * without a sample carried from the previous row. A device's lives are
 * split at its status events {"state":"failed"} (the simulator publishes
 * one when a machine runs to failure and is replaced): points at or
 * before the failure's time belong to the life that ended there. Only
 * lives that ended in a failure are run-to-failure histories; the life a
 * device is still in is left out unless asked for.
 *
 * Output: CSV with a header "asset,ts_ms,SENSOR,...": asset "DEVICE.lifeN"
 * (N from 1, counted in the exported range), ts_ms the row's start (epoch
 * ms), then the mean of each sensor, sensors in name order: those every
 * exported device has (at most MDX_RUL_INPUTS_MAX). Leading rows of a life
 * in which a sensor has not reported yet are left out (counted).
 */
#ifndef MODAX_RUL_EXPORT_H
#define MODAX_RUL_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "modax/store.h"

struct mdx_rul_export_opts {
    const char *tenant;
    const char *device;           /* NULL: every device of the tenant */
    int64_t from_ms;              /* inclusive; INT64_MIN: from the first point */
    int64_t to_ms;                /* inclusive; INT64_MAX: to the last point */
    int64_t row_ms;               /* rul.row_interval_s * 1000 */
    int open_lives;               /* also the lives not ended by a failure (yet) */
};

struct mdx_rul_export_stats {
    size_t devices;               /* devices exported (with points) */
    size_t inputs;                /* sensor columns */
    size_t lives;                 /* assets written */
    size_t open_lives;            /* lives left out: no failure at their end */
    size_t rows;                  /* rows written */
    size_t rows_incomplete;       /* leading rows left out: a sensor without a value yet */
};

/*
 * Writes the histories to 'out'. MDX_ENOTFOUND (with 'why') for an unknown
 * tenant or device, MDX_EINVAL for bad options or no common sensor, or the
 * store's error.
 */
int mdx_rul_export(struct mdx_store *st, const struct mdx_rul_export_opts *o, FILE *out,
                   struct mdx_rul_export_stats *stats, char *why, size_t whylen);

#endif
