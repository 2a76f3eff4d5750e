/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rule_body.c - the body of POST /api/v1/rules to a struct mdx_rule (see
 * rule_body.h): names, the one scope, a sensor, the comparison, finite
 * numbers, a whole duration of at most a week.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/rule_body.h"
#include "modax/validate.h"

int api_rule_read(const cJSON *body, struct mdx_rule *ru, struct api_why *why)
{
    static const char *const fields[] = {"name", "device_type", "device", "sensor", "cmp",
                                         "threshold", "hysteresis", "min_duration_ms",
                                         "severity", "enabled", NULL};
    const cJSON *sensor, *enabled;
    double dur = 0;

    if (body == NULL) {
        snprintf(why->text, sizeof(why->text), "body required: a JSON object");
        return -1;
    }
    if (api_json_allow(body, fields, why) != 0 ||
        api_json_name(body, "name", API_REQUIRED, ru->name, why) < 0 ||
        api_json_name(body, "device_type", API_EMPTY_OK, ru->device_type, why) < 0 ||
        api_json_name(body, "device", API_EMPTY_OK, ru->device, why) < 0) {
        return -1;
    }
    if (ru->device_type[0] != '\0' && ru->device[0] != '\0') {
        snprintf(why->text, sizeof(why->text),
                 "field 'device' and field 'device_type' exclude each other: a rule targets "
                 "the tenant, one device type or one device");
        return -1;
    }
    sensor = cJSON_GetObjectItemCaseSensitive(body, "sensor");
    if (!cJSON_IsString(sensor) || strlen(sensor->valuestring) > MDX_NAME_MAX ||
        !mdx_valid_sensor(sensor->valuestring, strlen(sensor->valuestring))) {
        snprintf(why->text, sizeof(why->text),
                 "field 'sensor' must be a sensor name: [a-z0-9_]{1,64}, e.g. current_mean");
        return -1;
    }
    memcpy(ru->sensor, sensor->valuestring, strlen(sensor->valuestring) + 1);
    if (api_json_choice(body, "cmp", API_REQUIRED, mdx_cmp_parse, "\">\", \">=\", \"<\", \"<=\"",
                        &ru->cmp, why) != 0 ||
        api_json_number(body, "threshold", API_REQUIRED, &ru->threshold, why) != 0 ||
        api_json_number(body, "hysteresis", 0, &ru->hysteresis, why) != 0 ||
        api_json_number(body, "min_duration_ms", 0, &dur, why) != 0 ||
        api_json_choice(body, "severity", 0, mdx_severity_parse, "info, warning, critical",
                        &ru->severity, why) != 0) {
        return -1;
    }
    if (ru->hysteresis < 0) {
        snprintf(why->text, sizeof(why->text), "field 'hysteresis' must be >= 0");
        return -1;
    }
    if (dur < 0 || dur > (double)API_RULE_MIN_DURATION_MAX_MS || dur != floor(dur)) {
        snprintf(why->text, sizeof(why->text),
                 "field 'min_duration_ms' must be a whole number from 0 to %lld (a week)",
                 (long long)API_RULE_MIN_DURATION_MAX_MS);
        return -1;
    }
    ru->min_duration_ms = (int64_t)dur;
    enabled = cJSON_GetObjectItemCaseSensitive(body, "enabled");
    if (enabled != NULL && !cJSON_IsBool(enabled)) {
        snprintf(why->text, sizeof(why->text), "field 'enabled' must be true or false");
        return -1;
    }
    ru->enabled = enabled == NULL || cJSON_IsTrue(enabled);
    return 0;
}
