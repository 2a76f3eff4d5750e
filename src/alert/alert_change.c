/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert_change.c - an operator's acknowledge or resolve of a stored alert,
 * shared by `modax alert ack|resolve` and the HTTP API, so both move an
 * alert on by the same rules: open -> acknowledged -> resolved, and
 * nothing changes (MDX_EEXIST) when the alert is there already.
 */
#include <string.h>

#include "modax/alert.h"
#include "modax/status.h"
#include "modax/store.h"

int mdx_alert_state_parse(const char *s, int *out)
{
    if (s == NULL) {
        return MDX_EINVAL;
    }
    if (strcmp(s, "active") == 0) {
        *out = MDX_ALERT_ACTIVE;
        return MDX_OK;
    }
    for (int i = 0; i <= MDX_ALERT_RESOLVED; i++) {
        if (strcmp(s, mdx_alert_state_name(i)) == 0) {
            *out = i;
            return MDX_OK;
        }
    }
    return MDX_EINVAL;
}

int mdx_alert_change(struct mdx_store *st, const char *tenant, int64_t id, int want,
                     int64_t now_ms, struct mdx_alert *out)
{
    int rc;

    if (want != MDX_ALERT_ACKNOWLEDGED && want != MDX_ALERT_RESOLVED) {
        return MDX_EINVAL;
    }
    rc = mdx_store_alert_get(st, tenant, id, out);
    if (rc != MDX_OK) {
        return rc;
    }
    /* A resolved alert cannot be acknowledged; an acknowledged one is not acknowledged twice. */
    if (out->state == MDX_ALERT_RESOLVED || out->state == want) {
        return MDX_EEXIST;
    }
    out->state = want;
    out->updated_ms = now_ms > out->updated_ms ? now_ms : out->updated_ms;
    if (want == MDX_ALERT_RESOLVED) {
        out->resolved_ms = out->updated_ms;
    }
    return mdx_store_alert_put(st, out);
}
