/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detector_state.c - the SQLite store's saved detector states
 * (store_detector.h): one row per series, replaced by each save, written
 * by mdx_sq_detector_states_write() inside the batch's transaction
 * (write.c) and listed per device when a worker first sees the device.
 * A save does not replace a state that has seen newer points.
 *
 * A batch carries at most a few hundred states (the alerting stage caps
 * them), so the upsert is prepared once per batch, not kept in the handle.
 * The row names its device by id; a state of a device that is not
 * registered (deleted meanwhile) inserts nothing.
 */
#include <stdint.h>

#include <sqlite3.h>

#include "modax/status.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

int mdx_sq_detector_states_write(struct sq *h, const struct mdx_batch *b)
{
    sqlite3_stmt *st;
    int rc;

    if (b->n_detector_states == 0) {
        return MDX_OK;
    }
    rc = mdx_sq_prepare(h,
                        "INSERT INTO detector_state (device_id, sensor, format, state, last_ts_ms,"
                        " saved_ms)"
                        " SELECT d.id, ?3, ?4, ?5, ?6, ?7 FROM devices d"
                        " JOIN tenants t ON t.id = d.tenant_id WHERE t.name = ?1 AND d.name = ?2"
                        " ON CONFLICT (device_id, sensor) DO UPDATE SET format = excluded.format,"
                        " state = excluded.state, last_ts_ms = excluded.last_ts_ms,"
                        " saved_ms = excluded.saved_ms"
                        " WHERE excluded.last_ts_ms >= detector_state.last_ts_ms",
                        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    for (size_t i = 0; i < b->n_detector_states && rc == MDX_OK; i++) {
        const struct mdx_detector_state_row *r = &b->detector_states[i];

        if (r->len == 0 || r->len > MDX_DETECTOR_STATE_MAX) {
            rc = MDX_EINVAL;
            break;
        }
        sqlite3_bind_text(st, 1, r->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->device, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->sensor, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, r->format);
        sqlite3_bind_blob(st, 5, r->state, (int)r->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, r->last_ts_ms);
        sqlite3_bind_int64(st, 7, r->saved_ms);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* One listed row, handed to the caller's callback. */
struct list_ctx {
    const char *tenant, *device;
    mdx_detector_state_fn fn;
    void *arg;
};

static int list_row(sqlite3_stmt *st, void *ctx)
{
    const struct list_ctx *c = ctx;
    struct mdx_detector_state_row r = {
        .tenant = c->tenant,
        .device = c->device,
        .sensor = (const char *)sqlite3_column_text(st, 0),
        .format = sqlite3_column_int(st, 1),
        .state = sqlite3_column_blob(st, 2),
        .len = (size_t)sqlite3_column_bytes(st, 2),
        .last_ts_ms = sqlite3_column_int64(st, 4),
        .saved_ms = sqlite3_column_int64(st, 3),
    };

    if (r.sensor == NULL) {
        r.sensor = "";
    }
    return c->fn(c->arg, &r);
}

static int sq_state_list(void *impl, const char *tenant, const char *device,
                         mdx_detector_state_fn fn, void *arg)
{
    struct sq *h = impl;
    struct list_ctx c = {tenant, device, fn, arg};
    sqlite3_stmt *st;
    int rc = mdx_sq_prepare_keys(h,
                                 "SELECT s.sensor, s.format, s.state, s.saved_ms, s.last_ts_ms"
                                 " FROM detector_state s"
                                 " JOIN devices d ON d.id = s.device_id"
                                 " JOIN tenants t ON t.id = d.tenant_id"
                                 " WHERE t.name = ?1 AND d.name = ?2 ORDER BY s.sensor",
                                 tenant, device, &st);

    if (rc != MDX_OK) {
        return rc;
    }
    return mdx_sq_each_row(st, list_row, &c);
}

const struct mdx_store_detector_ops mdx_sq_detector = {
    .state_list = sq_state_list,
};
