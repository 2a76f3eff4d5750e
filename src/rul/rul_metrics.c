/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_metrics.c - the two RUL error measures: RMSE and the asymmetric PHM08
 * score (Saxena et al. 2008), where late predictions cost more than early.
 */
#include <math.h>

#include "modax/rul.h"

double mdx_rul_rmse(const float *pred, const float *truth, size_t n)
{
    double s = 0.0;

    if (n == 0) {
        return 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)truth[i];
        s += d * d;
    }
    return sqrt(s / (double)n);
}

double mdx_rul_phm08(const float *pred, const float *truth, size_t n)
{
    double s = 0.0;

    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)truth[i];
        s += d < 0.0 ? exp(-d / 13.0) - 1.0 : exp(d / 10.0) - 1.0;
    }
    return s;
}
