/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detector_state.c - the PostgreSQL store's saved detector states
 * (store_detector.h): one row per series, replaced by each save, written
 * by mdx_pg_detector_states_write() inside the batch's transaction
 * (write.c) and listed per device when a worker first sees the device.
 *
 * A batch's states go in one statement, whatever their number: the
 * columns travel as array parameters (names quoted as array elements, the
 * states as hex) and are unnested, joined to their devices and upserted,
 * so saving costs one round trip per batch. A save does not replace a
 * state that has seen newer points. A state of a device that is
 * not registered (deleted meanwhile) inserts nothing. Listing reads the
 * states back as hex.
 */
#include <stdint.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/buf.h"
#include "base/encode.h"
#include "modax/status.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"

#define BUF_MAX ((size_t)64 << 20) /* bound of one array parameter; far above a capped batch */

/* Appends 's' as one quoted element of a text array literal. */
static void add_elem(struct mdx_buf *b, const char *s)
{
    mdx_buf_adds(b, b->len > 1 ? ",\"" : "\"");
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            mdx_buf_add(b, "\\", 1);
        }
        mdx_buf_add(b, s, 1);
    }
    mdx_buf_add(b, "\"", 1);
}

int mdx_pg_detector_states_write(struct pg *h, const struct mdx_batch *b)
{
    enum { TENANT, DEVICE, SENSOR, FORMAT, STATE, LAST_TS, SAVED, COLS };
    struct mdx_buf col[COLS];
    const char *v[COLS];
    char hex[2 * MDX_DETECTOR_STATE_MAX + 1], num[24];
    PGresult *res = NULL;
    int rc = MDX_OK;

    if (b->n_detector_states == 0) {
        return MDX_OK;
    }
    for (int c = 0; c < COLS; c++) {
        mdx_buf_init(&col[c], BUF_MAX);
        mdx_buf_add(&col[c], "{", 1);
    }
    for (size_t i = 0; i < b->n_detector_states; i++) {
        const struct mdx_detector_state_row *r = &b->detector_states[i];

        if (r->len == 0 || r->len > MDX_DETECTOR_STATE_MAX) {
            rc = MDX_EINVAL;
            break;
        }
        add_elem(&col[TENANT], r->tenant);
        add_elem(&col[DEVICE], r->device);
        add_elem(&col[SENSOR], r->sensor);
        add_elem(&col[FORMAT], mdx_pg_fmt(num, r->format));
        mdx_hex(r->state, r->len, hex);
        add_elem(&col[STATE], hex);
        add_elem(&col[LAST_TS], mdx_pg_fmt(num, r->last_ts_ms));
        add_elem(&col[SAVED], mdx_pg_fmt(num, r->saved_ms));
    }
    for (int c = 0; c < COLS; c++) {
        mdx_buf_add(&col[c], "}", 1);
        if (col[c].err) {
            rc = MDX_ENOMEM;
        }
        v[c] = mdx_buf_str(&col[c]);
    }
    if (rc == MDX_OK) {
        rc = mdx_pg_run(h, 1,
                        "INSERT INTO detector_state AS s (device_id, sensor, format, state,"
                        " last_ts_ms, saved_ms)"
                        " SELECT d.id, x.sensor, x.format, decode(x.state, 'hex'), x.last_ts_ms,"
                        " x.saved_ms"
                        " FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[],"
                        " $5::text[], $6::bigint[], $7::bigint[]) AS x(tenant, device, sensor,"
                        " format, state, last_ts_ms, saved_ms)"
                        " JOIN tenants t ON t.name = x.tenant"
                        " JOIN devices d ON d.tenant_id = t.id AND d.name = x.device"
                        " ON CONFLICT (device_id, sensor) DO UPDATE SET format = excluded.format,"
                        " state = excluded.state, last_ts_ms = excluded.last_ts_ms,"
                        " saved_ms = excluded.saved_ms WHERE excluded.last_ts_ms >= s.last_ts_ms",
                        COLS, v, &res);
        PQclear(res);
    }
    for (int c = 0; c < COLS; c++) {
        mdx_buf_fini(&col[c]);
    }
    return rc;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The caller's callback, and room for one state read back from hex. */
struct list_ctx {
    const char *tenant, *device;
    mdx_detector_state_fn fn;
    void *arg;
    uint8_t state[MDX_DETECTOR_STATE_MAX];
};

static int list_row(const PGresult *res, int row, void *ctx)
{
    struct list_ctx *c = ctx;
    const char *hex = PQgetvalue(res, row, 2);
    size_t n = strlen(hex) / 2;
    struct mdx_detector_state_row r = {
        .tenant = c->tenant,
        .device = c->device,
        .sensor = PQgetvalue(res, row, 0),
        .format = (int32_t)mdx_pg_i64(res, row, 1),
        .state = c->state,
        .len = 0,
        .last_ts_ms = mdx_pg_i64(res, row, 4),
        .saved_ms = mdx_pg_i64(res, row, 3),
    };

    /* A state longer than any this program writes is handed on empty: the reader refuses it. */
    if (n <= sizeof(c->state)) {
        for (size_t i = 0; i < n; i++) {
            int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                return MDX_ESTORE;
            }
            c->state[i] = (uint8_t)(hi << 4 | lo);
        }
        r.len = n;
    }
    return c->fn(c->arg, &r);
}

static int pg_state_list(void *impl, const char *tenant, const char *device,
                         mdx_detector_state_fn fn, void *arg)
{
    struct list_ctx c = {tenant, device, fn, arg, {0}};
    const char *v[2] = {tenant, device};

    return mdx_pg_list(impl,
                       "SELECT s.sensor, s.format, encode(s.state, 'hex'), s.saved_ms,"
                       " s.last_ts_ms"
                       " FROM detector_state s JOIN devices d ON d.id = s.device_id"
                       " JOIN tenants t ON t.id = d.tenant_id"
                       " WHERE t.name = $1 AND d.name = $2 ORDER BY s.sensor",
                       2, v, list_row, &c);
}

const struct mdx_store_detector_ops mdx_pg_detector = {
    .state_list = pg_state_list,
};
