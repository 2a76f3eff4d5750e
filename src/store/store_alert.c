/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_alert.c - checks of rules and alerts before either back end stores
 * them, and the settling of a batch's new alert ids (see
 * store_alert_int.h). The back ends are sqlite/alerts.c and
 * pgsql/alerts.c.
 */
#include <math.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/store_alert_int.h"

/* NUL-terminated within 'size' bytes. */
static int terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static int valid_name(const char *s, size_t size)
{
    return terminated(s, size) && mdx_valid_segment(s, strlen(s));
}

int mdx_store_type_valid(const char *type)
{
    return type != NULL &&
           (type[0] == '\0' || mdx_valid_segment(type, strnlen(type, MDX_NAME_MAX + 1)));
}

int mdx_store_rule_check(const struct mdx_rule *r)
{
    if (!valid_name(r->tenant, sizeof(r->tenant)) || !valid_name(r->name, sizeof(r->name)) ||
        !terminated(r->sensor, sizeof(r->sensor)) ||
        !mdx_valid_sensor(r->sensor, strlen(r->sensor)) ||
        !terminated(r->device_type, sizeof(r->device_type)) ||
        !terminated(r->device, sizeof(r->device))) {
        return MDX_EINVAL;
    }
    if (!mdx_store_type_valid(r->device_type) || !mdx_store_type_valid(r->device) ||
        (r->device_type[0] != '\0' && r->device[0] != '\0')) {
        return MDX_EINVAL;
    }
    if (r->cmp < MDX_CMP_GT || r->cmp > MDX_CMP_LE || r->severity < MDX_SEVERITY_INFO ||
        r->severity > MDX_SEVERITY_CRITICAL) {
        return MDX_EINVAL;
    }
    if (!isfinite(r->threshold) || !isfinite(r->hysteresis) || r->hysteresis < 0 ||
        r->min_duration_ms < 0 || r->min_duration_ms > MDX_RULE_MIN_DURATION_MAX_MS) {
        return MDX_EINVAL;
    }
    return MDX_OK;
}

int mdx_store_alert_check(const struct mdx_alert *a)
{
    if (a->id < 0) {
        return MDX_EINVAL;
    }
    if (!valid_name(a->tenant, sizeof(a->tenant)) || !valid_name(a->device, sizeof(a->device)) ||
        !terminated(a->source, sizeof(a->source)) || a->source[0] == '\0' ||
        !terminated(a->sensor, sizeof(a->sensor)) || !terminated(a->summary, sizeof(a->summary))) {
        return MDX_EINVAL;
    }
    if (a->sensor[0] != '\0' && !mdx_valid_sensor(a->sensor, strlen(a->sensor))) {
        return MDX_EINVAL;
    }
    if (a->state < MDX_ALERT_OPEN || a->state > MDX_ALERT_RESOLVED ||
        a->severity < MDX_SEVERITY_INFO || a->severity > MDX_SEVERITY_CRITICAL) {
        return MDX_EINVAL;
    }
    if (!mdx_valid_utf8((const uint8_t *)a->source, strlen(a->source)) ||
        !mdx_valid_utf8((const uint8_t *)a->summary, strlen(a->summary))) {
        return MDX_EINVAL;
    }
    return MDX_OK;
}

void mdx_store_alerts_settle(const struct mdx_batch *b, int committed)
{
    for (size_t i = 0; i < b->n_alerts; i++) {
        struct mdx_alert *a = &b->alerts[i];

        if (a->id < 0) {
            a->id = committed ? -a->id : 0;
        }
    }
}
