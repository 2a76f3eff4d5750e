/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert.c - names of alert states, severities and comparisons, and the helpers the
 * sinks share (HTTP verdicts, alert identity, Alertmanager alert names).
 */
#include <stdio.h>
#include <string.h>

#include "alert/alert_int.h"
#include "base/htab.h"
#include "modax/status.h"

static const char *const state_names[] = {"open", "acknowledged", "resolved"};
static const char *const severity_names[] = {"info", "warning", "critical"};

const char *mdx_alert_state_name(int state)
{
    if (state < 0 || state > MDX_ALERT_RESOLVED) {
        return "unknown";
    }
    return state_names[state];
}

const char *mdx_severity_name(int severity)
{
    if (severity < 0 || severity > MDX_SEVERITY_CRITICAL) {
        return "unknown";
    }
    return severity_names[severity];
}

int mdx_severity_parse(const char *name, int *out)
{
    if (name == NULL) {
        return MDX_EINVAL;
    }
    for (int i = 0; i <= MDX_SEVERITY_CRITICAL; i++) {
        if (strcmp(name, severity_names[i]) == 0) {
            *out = i;
            return MDX_OK;
        }
    }
    return MDX_EINVAL;
}

static const char *const cmp_names[] = {"gt", "ge", "lt", "le"};
static const char *const cmp_symbols[] = {">", ">=", "<", "<="};

int mdx_cmp_parse(const char *s, int *out)
{
    if (s == NULL) {
        return MDX_EINVAL;
    }
    for (int i = 0; i <= MDX_CMP_LE; i++) {
        if (strcmp(s, cmp_names[i]) == 0 || strcmp(s, cmp_symbols[i]) == 0) {
            *out = i;
            return MDX_OK;
        }
    }
    return MDX_EINVAL;
}

const char *mdx_cmp_symbol(int cmp)
{
    if (cmp < 0 || cmp > MDX_CMP_LE) {
        return "?";
    }
    return cmp_symbols[cmp];
}

enum mdx_sink_verdict mdx_alert_http_verdict(int rc, long status, const char **why)
{
    if (rc != MDX_OK && status == 0) {
        /* No answer: refused, reset, timed out, or out of memory here. */
        *why = rc == MDX_EAGAIN ? "unreachable or timed out" : "transport failure";
        return MDX_SINK_RETRY;
    }
    if (status >= 200 && status <= 299) {
        return MDX_SINK_DONE; /* an over-long answer to a good request is still delivered */
    }
    if (status == 408 || status == 429 || status >= 500) {
        *why = status >= 500 ? "server error" : "throttled";
        return MDX_SINK_RETRY;
    }
    *why = "refused by the receiver";
    return MDX_SINK_REJECT;
}

int mdx_alert_same(const struct mdx_alert *a, const struct mdx_alert *b)
{
    return a->opened_ms == b->opened_ms && strcmp(a->device, b->device) == 0 &&
           strcmp(a->source, b->source) == 0 && strcmp(a->sensor, b->sensor) == 0 &&
           strcmp(a->tenant, b->tenant) == 0;
}

uint64_t mdx_alert_hash(const struct mdx_alert *a)
{
    /* Each name's NUL separates it from the next ("ab"+"c" is not "a"+"bc"). */
    uint64_t h = mdx_hash_bytes(0, a->tenant, strlen(a->tenant) + 1);

    h = mdx_hash_bytes(h, a->device, strlen(a->device) + 1);
    h = mdx_hash_bytes(h, a->source, strlen(a->source) + 1);
    h = mdx_hash_bytes(h, a->sensor, strlen(a->sensor) + 1);
    return mdx_hash_bytes(h, &a->opened_ms, sizeof(a->opened_ms));
}

void mdx_alert_name(const char *source, char *out, size_t len)
{
    const char *prefix = "Modax_", *rest = source;
    size_t n;

    if (len == 0) {
        return;
    }
    if (strncmp(source, "rule:", 5) == 0) {
        prefix = "ModaxRule_";
        rest = source + 5;
    } else if (strcmp(source, "detector") == 0) {
        prefix = "ModaxAnomaly";
        rest = "";
    } else if (strncmp(source, "safety:", 7) == 0) {
        prefix = "ModaxSafety_";
        rest = source + 7;
    }
    snprintf(out, len, "%s%s", prefix, rest);
    n = strlen(prefix);
    for (char *p = out + (n < len ? n : len - 1); *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            *p = '_';
        }
    }
}
