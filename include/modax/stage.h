/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stage.h - a stage of the ingest pipeline: what runs on the engine's
 * writer thread beside the store (alerting, live RUL, the live stream).
 *
 * The engine (src/pipeline/engine.c) knows stages only through this table
 * of operations and loops over the ones registered with
 * mdx_engine_add_stage(), in registration order. A new stage is one file
 * that fills a struct mdx_stage_ops, plus one line in the table of
 * `modax serve` (src/cli/serve_stages.c).
 *
 * Every operation runs on the writer thread, one at a time, so a stage
 * needs no lock for its own state. A stage never calls the store in the
 * middle of a batch: what it needs of the device comes with the
 * registry's answer (struct mdx_device_ref). Operations a stage does not
 * need are NULL.
 */
#ifndef MODAX_STAGE_H
#define MODAX_STAGE_H

#include <stddef.h>

#include "modax/store_series.h"

/*
 * What the ingest's registry (src/pipeline/registry.h) knows of the device
 * a message came from, from its cache: at most MDX_REGISTRY_REFRESH_MS old.
 * Borrowed: valid for the duration of the call only.
 */
struct mdx_device_ref {
    const char *tenant;
    const char *device;
    const char *type;             /* device type, "" if none (rules can target types) */
};

struct mdx_stage_ops {
    const char *name;             /* for logs: "alerting", "rul", "live" */
    /* The validated points of one message (borrowed for the call); O(1) per point. */
    void (*on_points)(void *stage, const struct mdx_point_group *g,
                      const struct mdx_device_ref *dev);
    /* One decoded event (safety, status, command_ack), borrowed for the call. */
    void (*on_event)(void *stage, const struct mdx_event_rec *ev,
                     const struct mdx_device_ref *dev);
    /* Periodic work between batches (reloads, due predictions); cheap when nothing is due. */
    void (*tick)(void *stage);
    /* Non-zero when the stage has something to store even without new records. */
    int (*pending)(void *stage);
    /*
     * Adds what the stage stores with the batch (alert changes) to 'b'.
     * What it points to stays owned by the stage until after_commit().
     */
    void (*before_commit)(void *stage, struct mdx_batch *b);
    /* The batch is stored: hand on what may only leave once it is durable. */
    void (*after_commit)(void *stage);
    /*
     * Devices are about to move to another worker (a pull source gives
     * partitions up in a rebalance): from now on pending() and
     * before_commit() put into the batches whatever the next owner needs
     * (detector states), and the engine commits until pending() is 0.
     */
    void (*handover)(void *stage);
};

/* A registered stage: its operations and its context (borrowed by the engine). */
struct mdx_stage {
    const struct mdx_stage_ops *ops;
    void *ctx;
};

#endif
