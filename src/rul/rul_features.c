/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_features.c - the RUL feature specification and the rolling window of
 * one asset: the features of its newest row, computed the same way in
 * training, offline prediction and the live pipeline.
 *
 * Feature order: for each input in spec order, its statistics in bit order
 * (level, mean, slope, spread, ewma, min, max), then the age (rows seen)
 * when spec->with_age.
 *
 * Partial windows: with n = min(rows seen, window) rows, mean, slope
 * (least squares over row numbers 0..n-1), spread (population standard
 * deviation), min and max are those of the last n rows, so a short history
 * has features of the same meaning; the age tells the model how much
 * history there is. Fewer than min_rows rows: no features (MDX_EAGAIN).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modax/rul.h"
#include "modax/rul_rows.h"
#include "modax/status.h"

#define KNOWN_STATS (MDX_RUL_LEVEL | MDX_RUL_MEAN | MDX_RUL_SLOPE | MDX_RUL_SPREAD | \
                     MDX_RUL_EWMA | MDX_RUL_MINMAX)

/* Features per input for 'stats' (min/max count two). */
static size_t per_input(unsigned stats)
{
    size_t n = 0;

    for (unsigned bit = MDX_RUL_LEVEL; bit <= MDX_RUL_MINMAX; bit <<= 1) {
        if (stats & bit) {
            n += bit == MDX_RUL_MINMAX ? 2 : 1;
        }
    }
    return n;
}

int mdx_rul_spec_min_rows(const struct mdx_rul_spec *spec)
{
    return spec->min_rows > 0 ? spec->min_rows : spec->window;
}

size_t mdx_rul_n_features(const struct mdx_rul_spec *spec)
{
    return spec->n_inputs * per_input(spec->stats) + (spec->with_age ? 1 : 0);
}

int mdx_rul_spec_check(const struct mdx_rul_spec *spec, char *why, size_t whylen)
{
    if (spec->n_inputs == 0 || spec->n_inputs > MDX_RUL_INPUTS_MAX) {
        snprintf(why, whylen, "the feature specification needs 1 to %d inputs (has %zu)",
                 MDX_RUL_INPUTS_MAX, spec->n_inputs);
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < spec->n_inputs; i++) {
        if (spec->inputs[i][0] == '\0' || memchr(spec->inputs[i], '\0', MDX_NAME_MAX + 1) == NULL) {
            snprintf(why, whylen, "input %zu of the feature specification has no valid name", i + 1);
            return MDX_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(spec->inputs[i], spec->inputs[j]) == 0) {
                snprintf(why, whylen, "input '%s' appears twice in the feature specification",
                         spec->inputs[i]);
                return MDX_EINVAL;
            }
        }
    }
    if (spec->window < 2 || spec->window > MDX_RUL_WINDOW_MAX) {
        snprintf(why, whylen, "window %d is outside [2, %d]", spec->window, MDX_RUL_WINDOW_MAX);
        return MDX_EINVAL;
    }
    if (spec->min_rows != 0 && (spec->min_rows < 2 || spec->min_rows > spec->window)) {
        snprintf(why, whylen, "min_rows %d is outside [2, window %d]", spec->min_rows,
                 spec->window);
        return MDX_EINVAL;
    }
    if (spec->stats == 0 || (spec->stats & ~(unsigned)KNOWN_STATS) != 0) {
        snprintf(why, whylen, "unknown statistics 0x%x in the feature specification", spec->stats);
        return MDX_EINVAL;
    }
    if ((spec->stats & MDX_RUL_EWMA) && !(spec->ewma_alpha > 0.0 && spec->ewma_alpha <= 1.0)) {
        snprintf(why, whylen, "ewma alpha %g is outside (0, 1]", spec->ewma_alpha);
        return MDX_EINVAL;
    }
    return MDX_OK;
}

int mdx_rul_spec_compare(const struct mdx_rul_spec *want, const struct mdx_rul_spec *have,
                         char *why, size_t whylen)
{
    if (want->n_inputs != have->n_inputs) {
        snprintf(why, whylen, "the model reads %zu inputs, the specification has %zu",
                 want->n_inputs, have->n_inputs);
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < want->n_inputs; i++) {
        if (strcmp(want->inputs[i], have->inputs[i]) != 0) {
            snprintf(why, whylen, "input %zu is '%s' in the model, '%s' in the specification",
                     i + 1, want->inputs[i], have->inputs[i]);
            return MDX_EINVAL;
        }
    }
    if (want->window != have->window) {
        snprintf(why, whylen, "window %d in the model, %d in the specification", want->window,
                 have->window);
        return MDX_EINVAL;
    }
    if (mdx_rul_spec_min_rows(want) != mdx_rul_spec_min_rows(have)) {
        snprintf(why, whylen, "min_rows %d in the model, %d in the specification",
                 mdx_rul_spec_min_rows(want), mdx_rul_spec_min_rows(have));
        return MDX_EINVAL;
    }
    if (want->stats != have->stats || want->with_age != have->with_age) {
        snprintf(why, whylen, "the model computes other statistics (0x%x%s) than the "
                 "specification (0x%x%s)", want->stats, want->with_age ? "+age" : "",
                 have->stats, have->with_age ? "+age" : "");
        return MDX_EINVAL;
    }
    if ((want->stats & MDX_RUL_EWMA) && fabs(want->ewma_alpha - have->ewma_alpha) > 1e-12) {
        snprintf(why, whylen, "ewma alpha %g in the model, %g in the specification",
                 want->ewma_alpha, have->ewma_alpha);
        return MDX_EINVAL;
    }
    return MDX_OK;
}

void mdx_rul_feature_name(const struct mdx_rul_spec *spec, size_t i, char *buf, size_t len)
{
    static const char *const names[] = {"level", "mean", "slope", "spread", "ewma", "min", "max"};
    const char *stat_names[8];
    size_t per = 0;

    for (unsigned b = 0; b < 6; b++) {
        if (spec->stats & (1u << b)) {
            stat_names[per++] = names[b];
            if ((1u << b) == MDX_RUL_MINMAX) {
                stat_names[per++] = names[6];
            }
        }
    }
    if (per > 0 && i < spec->n_inputs * per) {
        snprintf(buf, len, "%s.%s", spec->inputs[i / per], stat_names[i % per]);
    } else if (spec->with_age && i == spec->n_inputs * per) {
        snprintf(buf, len, "age");
    } else {
        snprintf(buf, len, "?");
    }
}

void mdx_rul_window_init(struct mdx_rul_window *w)
{
    w->head = 0;
    w->seen = 0;
    for (size_t i = 0; i < MDX_RUL_INPUTS_MAX; i++) {
        w->ewma[i] = NAN;
        w->rows[MDX_RUL_WINDOW_MAX - 1][i] = NAN; /* the "previous row" of the first push */
    }
}

void mdx_rul_window_push(struct mdx_rul_window *w, const struct mdx_rul_spec *spec,
                         const double *values)
{
    size_t prev = (w->head + MDX_RUL_WINDOW_MAX - 1) % MDX_RUL_WINDOW_MAX;
    size_t n = spec->n_inputs < MDX_RUL_INPUTS_MAX ? spec->n_inputs : MDX_RUL_INPUTS_MAX;

    for (size_t i = 0; i < n; i++) {
        double v = values[i];

        if (isnan(v)) {
            v = w->seen > 0 ? w->rows[prev][i] : NAN; /* carried from the previous row */
        }
        w->rows[w->head][i] = v;
    }
    mdx_rul_ewma_step(spec, w->ewma, w->rows[w->head]); /* rul_rows.c: the live stage's too */
    w->head = (w->head + 1) % MDX_RUL_WINDOW_MAX;
    w->seen++;
}

int mdx_rul_window_features(const struct mdx_rul_window *w, const struct mdx_rul_spec *spec,
                            float *out)
{
    size_t n_w, k = 0, first;
    double xbar, sxx;

    if (spec->window < 2 || spec->window > MDX_RUL_WINDOW_MAX ||
        w->seen < mdx_rul_spec_min_rows(spec) || w->seen < 1) {
        return MDX_EAGAIN;
    }
    n_w = w->seen < spec->window ? (size_t)w->seen : (size_t)spec->window;
    first = (w->head + MDX_RUL_WINDOW_MAX - n_w) % MDX_RUL_WINDOW_MAX;
    xbar = ((double)n_w - 1.0) / 2.0;
    sxx = (double)n_w * ((double)n_w * (double)n_w - 1.0) / 12.0;
    for (size_t i = 0; i < spec->n_inputs; i++) {
        double sum = 0.0, sxy = 0.0, ss = 0.0, lo = INFINITY, hi = -INFINITY, mean, last;

        for (size_t j = 0; j < n_w; j++) {
            double y = w->rows[(first + j) % MDX_RUL_WINDOW_MAX][i];
            sum += y;
            lo = y < lo ? y : lo;
            hi = y > hi ? y : hi;
        }
        mean = sum / (double)n_w;
        for (size_t j = 0; j < n_w; j++) {
            double d = w->rows[(first + j) % MDX_RUL_WINDOW_MAX][i] - mean;
            sxy += ((double)j - xbar) * d;
            ss += d * d;
        }
        last = w->rows[(first + n_w - 1) % MDX_RUL_WINDOW_MAX][i];
        if (spec->stats & MDX_RUL_LEVEL) {
            out[k++] = (float)last;
        }
        if (spec->stats & MDX_RUL_MEAN) {
            out[k++] = (float)mean;
        }
        if (spec->stats & MDX_RUL_SLOPE) {
            out[k++] = (float)(sxx > 0.0 ? sxy / sxx : 0.0);
        }
        if (spec->stats & MDX_RUL_SPREAD) {
            out[k++] = (float)sqrt(ss / (double)n_w);
        }
        if (spec->stats & MDX_RUL_EWMA) {
            out[k++] = (float)w->ewma[i];
        }
        if (spec->stats & MDX_RUL_MINMAX) {
            out[k++] = (float)lo;
            out[k++] = (float)hi;
        }
    }
    if (spec->with_age) {
        out[k++] = (float)w->seen;
    }
    return MDX_OK;
}
