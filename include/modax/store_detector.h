/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_detector.h - the store's saved detector states: per (tenant,
 * device, sensor) the anomaly detector's state as bytes (detect.h's
 * mdx_detector_save), so that the worker that takes a Kafka partition
 * over, or a restarted one, resumes a series' baseline instead of warming
 * up again.
 *
 * States are written with a batch (struct mdx_batch's detector_states), in
 * its transaction, so a saved state never runs ahead of the points and
 * offsets stored with it. A row is replaced by the next save of its
 * series, unless the saved one has seen newer points (last_ts_ms): a
 * worker that lost the partition and saves late cannot undo the newer
 * owner's save. A deleted device takes its rows with it. The store keeps the
 * bytes and their format tag and does not read them.
 *
 * Included by store.h; see there for the handle and the rules every store
 * function follows.
 */
#ifndef MODAX_STORE_DETECTOR_H
#define MODAX_STORE_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

struct mdx_store;

#define MDX_DETECTOR_STATE_MAX 1024 /* bytes of one saved state; longer ones are refused */

/* One saved state. Everything it points to stays the caller's (or is borrowed, when listed). */
struct mdx_detector_state_row {
    const char *tenant;
    const char *device;
    const char *sensor;
    int32_t format;           /* the detector's format version (MDX_DETECTOR_STATE_VERSION) */
    const uint8_t *state;
    size_t len;               /* bytes at 'state', at most MDX_DETECTOR_STATE_MAX */
    int64_t last_ts_ms;       /* point time of the newest point the state has seen */
    int64_t saved_ms;         /* wall clock of the save */
};

/* A listed state; 'row' and what it points to are borrowed for the call only. */
typedef int (*mdx_detector_state_fn)(void *arg, const struct mdx_detector_state_row *row);

/*
 * Calls fn for each saved state of (tenant, device), by sensor. MDX_OK
 * (also for an unknown device: none), fn's stop value, or an error.
 */
int mdx_store_detector_state_list(struct mdx_store *st, const char *tenant, const char *device,
                                  mdx_detector_state_fn fn, void *arg);

/* What a back end implements for saved detector states (the write is in the batch's). */
struct mdx_store_detector_ops {
    int (*state_list)(void *impl, const char *tenant, const char *device,
                      mdx_detector_state_fn fn, void *arg);
};

#endif
