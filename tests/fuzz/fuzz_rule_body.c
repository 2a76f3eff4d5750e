/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_rule_body.c - fuzz target for the body of POST /api/v1/rules: the
 * input is parsed as JSON the way the API parses bodies and read by
 * api_rule_read(), the very function the route calls.
 *
 * A refused body has a reason to send. An accepted rule holds what the
 * store and the alert engine rely on: valid names, at most one scope, a
 * valid sensor, a known comparison and severity, finite numbers, a
 * hysteresis >= 0 and a whole duration of at most a week; and reading the
 * same body again gives the same rule.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/rule_body.h"
#include "modax/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_name(const char *s, int empty_ok)
{
    size_t n = strlen(s);

    return (n == 0 && empty_ok) || (n <= MDX_NAME_MAX && mdx_valid_segment(s, n));
}

static void check_rule(const struct mdx_rule *ru)
{
    size_t sn = strlen(ru->sensor);

    if (!valid_name(ru->name, 0) || !valid_name(ru->device_type, 1) ||
        !valid_name(ru->device, 1) || (ru->device_type[0] != '\0' && ru->device[0] != '\0') ||
        sn == 0 || sn > MDX_NAME_MAX || !mdx_valid_sensor(ru->sensor, sn) ||
        ru->cmp < MDX_CMP_GT || ru->cmp > MDX_CMP_LE || ru->severity < MDX_SEVERITY_INFO ||
        ru->severity > MDX_SEVERITY_CRITICAL ||
        !isfinite(ru->threshold) || !isfinite(ru->hysteresis) || ru->hysteresis < 0 ||
        ru->min_duration_ms < 0 || ru->min_duration_ms > API_RULE_MIN_DURATION_MAX_MS ||
        (ru->enabled != 0 && ru->enabled != 1)) {
        abort();
    }
}

/* A rule with the route's defaults, as create_rule() starts it. */
static void rule_defaults(struct mdx_rule *ru)
{
    memset(ru, 0, sizeof(*ru));
    ru->severity = MDX_SEVERITY_WARNING;
    ru->enabled = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mdx_rule ru, again;
    struct api_why why;
    cJSON *body = cJSON_ParseWithLength((const char *)data, size);
    int rc, rc2;

    rule_defaults(&ru);
    why.text[0] = '\0';
    rc = api_rule_read(body, &ru, &why);
    if (rc != 0) {
        if (rc != -1 || why.text[0] == '\0' || strlen(why.text) >= sizeof(why.text)) {
            abort();
        }
    } else {
        check_rule(&ru);
        rule_defaults(&again);
        rc2 = api_rule_read(body, &again, &why);
        if (rc2 != 0 || memcmp(&ru, &again, sizeof(ru)) != 0) {
            abort();
        }
    }
    cJSON_Delete(body);
    return 0;
}
