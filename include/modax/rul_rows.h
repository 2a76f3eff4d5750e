/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_rows.h - what a row of a live device is, in one place: the mean of
 * each input sensor over rul.row_interval_s of point time, aligned to the
 * epoch, a sensor without a sample carried from the previous row; and how
 * an asset's history state (the EWMA) advances by one row. Used by the
 * live stage (rul_live.c), the export of training histories from the store
 * (rul_export.c) and the feature window (rul_features.c).
 */
#ifndef MODAX_RUL_ROWS_H
#define MODAX_RUL_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "modax/rul.h"

/* Start of the row holding point time ts_ms (rows of row_ms, aligned to the epoch). */
int64_t mdx_rul_row_start(int64_t ts_ms, int64_t row_ms);

/* A row being filled: sums and counts per input. */
struct mdx_rul_row {
    int64_t start;                /* mdx_rul_row_start() of its points; INT64_MIN: empty */
    int64_t last_ts;              /* newest point added */
    double sum[MDX_RUL_INPUTS_MAX];
    uint32_t cnt[MDX_RUL_INPUTS_MAX];
};

/* Empties the row. */
void mdx_rul_row_clear(struct mdx_rul_row *r);
/* Adds value v of input i (< MDX_RUL_INPUTS_MAX) at point time ts_ms; non-finite values are ignored. */
void mdx_rul_row_add(struct mdx_rul_row *r, size_t i, int64_t ts_ms, double v);
/* Non-zero when some input has a sample. */
int mdx_rul_row_has_data(const struct mdx_rul_row *r, size_t n_inputs);
/*
 * The row's values into out[n_inputs]: the mean per input, or prev[i]
 * where the input had no sample (prev NULL, the asset's first row: NaN).
 */
void mdx_rul_row_values(const struct mdx_rul_row *r, size_t n_inputs, const double *prev,
                        double *out);

/*
 * Advances the exponentially weighted means ewma[spec->n_inputs] by one row
 * (NaN in ewma: no row yet, the row's value starts it; NaN in row: kept).
 */
void mdx_rul_ewma_step(const struct mdx_rul_spec *spec, double *ewma, const double *row);

#endif
