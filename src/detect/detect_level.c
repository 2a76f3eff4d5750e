/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_level.c - estimator of values far from the series' level: the
 * distance from the slow baseline in baseline sd. Stateless; it sees
 * outliers and large shifts, not changes that stay within the usual range.
 */
#include <math.h>

#include "modax/detect.h"

static void level_init(void *state)
{
    (void)state;
}

static double level_update(void *state, const struct mdx_detect_input *in)
{
    (void)state;
    return (in->x - in->mean) * in->inv_sd;
}

const struct mdx_estimator mdx_estimator_level = {
    .name = "level",
    .two_sided = 1,
    .state_size = 0,
    .init = level_init,
    .update = level_update,
};
