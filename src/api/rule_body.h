/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rule_body.h - a threshold rule read from the body of POST /api/v1/rules,
 * checked as `modax rule add` checks its options (see body_check.h for the
 * way refusals are reported).
 */
#ifndef MODAX_API_RULE_BODY_H
#define MODAX_API_RULE_BODY_H

#include <cjson/cJSON.h>

#include "api/body_check.h"
#include "modax/alert.h"

#define API_RULE_MIN_DURATION_MAX_MS (7LL * 24 * 3600 * 1000) /* a week, as the CLI allows */

/*
 * Fills the rule fields the body gives into 'ru', whose tenant and
 * defaults (severity, enabled) the caller has set: 0, or -1 with the reason
 * in 'why'. A NULL body is refused ("body required").
 */
int api_rule_read(const cJSON *body, struct mdx_rule *ru, struct api_why *why);

#endif
