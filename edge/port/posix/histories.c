/* SPDX-License-Identifier: Apache-2.0 */
/*
 * histories.c - run-to-failure histories as CSV (histories.h).
 *
 * The rows are what the live RUL stage and `modax rul export` make from
 * the same readings stored by `modax serve`: the mean of each sensor over
 * an epoch-aligned row, per life of a device. The simulated clock starts
 * at a fixed time, so the file depends only on the arguments.
 */
#include "histories.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "sim_machine.h"

#define START_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define SENSORS 7

/* Column names, in the order of the values below (those of the cloud payload). */
static const char *const sensor_names[SENSORS] = {
    "current_max",         "current_mean", "temperature_mean", "vibration_magnitude",
    "vibration_x",         "vibration_y",  "vibration_z",
};

struct row {
    int64_t start;   /* epoch ms; INT64_MIN: empty */
    double sum[SENSORS];
    uint32_t n;
};

/* As the payload prints it: three decimals. */
static double payload_value(float v)
{
    return round((double)v * 1000.0) / 1000.0;
}

static int row_write(FILE *out, const char *prefix, uint32_t number, uint32_t life,
                     const struct row *r)
{
    if (r->n == 0) {
        return 0;
    }
    fprintf(out, "%s%04" PRIu32 ".life%" PRIu32 ",%" PRId64, prefix, number, life, r->start);
    for (int i = 0; i < SENSORS; i++) {
        fprintf(out, ",%.4f", r->sum[i] / r->n);
    }
    return fputc('\n', out) == EOF ? -1 : 1;
}

int64_t mdx_edge_histories_write(FILE *out, const struct mdx_edge_conf *conf, uint32_t lives,
                                 uint32_t row_s)
{
    static struct mdx_sim_machine m;
    double dt = 1.0 / conf->rate_hz;
    int64_t row_ms = (int64_t)row_s * 1000, rows = 0;

    fputs("asset,ts_ms", out);
    for (int i = 0; i < SENSORS; i++) {
        fprintf(out, ",%s", sensor_names[i]);
    }
    fputc('\n', out);
    for (uint32_t k = 0; k < conf->machines; k++) {
        uint32_t number = conf->first + k, life = 1;
        struct row r = {.start = INT64_MIN};
        uint64_t step = 0;

        mdx_sim_init(&m, conf->seed, number, conf->life_s);
        while (life <= lives) {
            struct mdx_edge_reading rd;
            int failed = mdx_sim_step(&m, dt, &rd);
            int64_t ts = START_MS + (int64_t)llround((double)++step * dt * 1000.0);
            int64_t start = ts - ts % row_ms;
            const double v[SENSORS] = {
                payload_value(rd.current_max),  payload_value(rd.current_mean),
                payload_value(rd.temperature),  payload_value(rd.vibration[3]),
                payload_value(rd.vibration[0]), payload_value(rd.vibration[1]),
                payload_value(rd.vibration[2]),
            };
            int w;

            if (start != r.start) {
                w = row_write(out, conf->prefix, number, life, &r);
                if (w < 0) {
                    return -1;
                }
                rows += w;
                memset(&r, 0, sizeof(r));
                r.start = start;
            }
            for (int i = 0; i < SENSORS; i++) {
                r.sum[i] += v[i];
            }
            r.n++;
            if (failed) {
                /* This reading is the life's last: its row ends the life. */
                w = row_write(out, conf->prefix, number, life, &r);
                if (w < 0) {
                    return -1;
                }
                rows += w;
                memset(&r, 0, sizeof(r));
                r.start = INT64_MIN;
                life++;
            }
        }
    }
    return fflush(out) != 0 || ferror(out) ? -1 : rows;
}
