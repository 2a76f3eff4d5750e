/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert_json.c - an alert change as one JSON object: the body the webhook
 * posts and the payload published on modax/{tenant}/{device}/alerts.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alert/alert_int.h"
#include "modax/clock.h"
#include "modax/status.h"

/* Adds "<name>": ISO time and "<name>_ms": epoch ms; null and 0 when ms is 0. */
static int add_time(cJSON *o, const char *name, int64_t ms)
{
    char iso[32], key[32];

    snprintf(key, sizeof(key), "%s_ms", name);
    if (ms == 0 && strcmp(name, "resolved") == 0) {
        if (cJSON_AddNullToObject(o, name) == NULL) {
            return MDX_ENOMEM;
        }
    } else {
        mdx_format_iso_ms(ms, iso, sizeof(iso));
        if (cJSON_AddStringToObject(o, name, iso) == NULL) {
            return MDX_ENOMEM;
        }
    }
    return cJSON_AddNumberToObject(o, key, (double)ms) != NULL ? MDX_OK : MDX_ENOMEM;
}

char *mdx_alert_json(const struct mdx_alert *a)
{
    cJSON *o = cJSON_CreateObject();
    char *out = NULL;

    if (o == NULL) {
        return NULL;
    }
    if (cJSON_AddNumberToObject(o, "id", (double)a->id) == NULL ||
        cJSON_AddStringToObject(o, "tenant", a->tenant) == NULL ||
        cJSON_AddStringToObject(o, "device", a->device) == NULL ||
        cJSON_AddStringToObject(o, "source", a->source) == NULL ||
        cJSON_AddStringToObject(o, "sensor", a->sensor) == NULL ||
        cJSON_AddStringToObject(o, "severity", mdx_severity_name(a->severity)) == NULL ||
        cJSON_AddStringToObject(o, "state", mdx_alert_state_name(a->state)) == NULL) {
        goto cleanup;
    }
    if (add_time(o, "opened", a->opened_ms) != MDX_OK ||
        add_time(o, "updated", a->updated_ms) != MDX_OK ||
        add_time(o, "resolved", a->resolved_ms) != MDX_OK) {
        goto cleanup;
    }
    /* cJSON writes NaN and infinities as null, which keeps the body valid JSON. */
    if (cJSON_AddNumberToObject(o, "value", a->value) == NULL ||
        cJSON_AddNumberToObject(o, "score", a->score) == NULL ||
        cJSON_AddStringToObject(o, "summary", a->summary) == NULL) {
        goto cleanup;
    }
    out = cJSON_PrintUnformatted(o);

cleanup:
    cJSON_Delete(o);
    return out;
}
