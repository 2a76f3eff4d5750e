/* SPDX-License-Identifier: Apache-2.0 */
/*
 * histories.h - run-to-failure histories of simulated machines as a CSV
 * file for `modax train --format csv`, made without a broker (modax-edge
 * --histories FILE).
 */
#ifndef MODAX_EDGE_HISTORIES_H
#define MODAX_EDGE_HISTORIES_H

#include <stdint.h>
#include <stdio.h>

#include "agent.h"

/*
 * Runs machines conf->first .. conf->first + conf->machines - 1 of fleet
 * conf->seed (no faults) at conf->rate_hz readings per simulated second
 * until each has failed 'lives' times, and writes one row per 'row_s'
 * seconds of each life to 'out': "asset,ts_ms,<sensor>..." with the
 * sensors of the cloud payload, each the mean of the row's readings
 * (rounded as the payload rounds them), rows aligned to the epoch, asset
 * "DEVICE.lifeN" as `modax rul export` names them. Only lives that end in
 * a failure are written; the first starts part-worn, as live machines do.
 * The same arguments always write the same file. Returns the number of
 * rows written, or -1 on a write error.
 */
int64_t mdx_edge_histories_write(FILE *out, const struct mdx_edge_conf *conf, uint32_t lives,
                                 uint32_t row_s);

#endif
