/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_rows.c - rows of live devices and the per-row EWMA step (rul_rows.h).
 */
#include <math.h>

#include "modax/rul_rows.h"

int64_t mdx_rul_row_start(int64_t ts_ms, int64_t row_ms)
{
    int64_t rem = ts_ms % row_ms;

    return ts_ms - (rem < 0 ? rem + row_ms : rem);
}

void mdx_rul_row_clear(struct mdx_rul_row *r)
{
    r->start = INT64_MIN;
    r->last_ts = INT64_MIN;
    for (size_t i = 0; i < MDX_RUL_INPUTS_MAX; i++) {
        r->sum[i] = 0.0;
        r->cnt[i] = 0;
    }
}

void mdx_rul_row_add(struct mdx_rul_row *r, size_t i, int64_t ts_ms, double v)
{
    if (i >= MDX_RUL_INPUTS_MAX || !isfinite(v)) {
        return;
    }
    r->sum[i] += v;
    r->cnt[i]++;
    if (ts_ms > r->last_ts) {
        r->last_ts = ts_ms;
    }
}

int mdx_rul_row_has_data(const struct mdx_rul_row *r, size_t n_inputs)
{
    for (size_t i = 0; i < n_inputs && i < MDX_RUL_INPUTS_MAX; i++) {
        if (r->cnt[i] > 0) {
            return 1;
        }
    }
    return 0;
}

void mdx_rul_row_values(const struct mdx_rul_row *r, size_t n_inputs, const double *prev,
                        double *out)
{
    for (size_t i = 0; i < n_inputs && i < MDX_RUL_INPUTS_MAX; i++) {
        if (r->cnt[i] > 0) {
            out[i] = r->sum[i] / r->cnt[i];
        } else {
            out[i] = prev != NULL ? prev[i] : NAN;
        }
    }
}

void mdx_rul_ewma_step(const struct mdx_rul_spec *spec, double *ewma, const double *row)
{
    size_t n = spec->n_inputs < MDX_RUL_INPUTS_MAX ? spec->n_inputs : MDX_RUL_INPUTS_MAX;

    for (size_t i = 0; i < n; i++) {
        if (isnan(ewma[i])) {
            ewma[i] = row[i];
        } else if (!isnan(row[i])) {
            ewma[i] = spec->ewma_alpha * row[i] + (1.0 - spec->ewma_alpha) * ewma[i];
        }
    }
}
