/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules.c - the tenants' threshold rules: which apply to a series, and
 * whether a point makes one fire.
 *
 * A snapshot holds every rule, sorted by (tenant, name), so a tenant's
 * rules are one range found by binary search. For a series, each rule
 * name of its tenant contributes its most specific enabled rule (one for
 * the device, else one for its device type, else the tenant-wide one), if
 * that rule is about the series' sensor. A disabled device rule therefore
 * switches a tenant-wide rule off for that device.
 *
 * A rule fires once its condition has held for min_duration_ms of point
 * time, and clears only when the value is back past the threshold by the
 * hysteresis, so a value hovering at the threshold does not flap.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alerting_int.h"
#include "modax/alloc.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "alert"

struct mdx_rules {
    struct mdx_rule *v;
    size_t n, cap;
    size_t dropped;           /* past MDX_RULES_MAX */
};

static int collect(void *arg, const struct mdx_rule *rule)
{
    struct mdx_rules *r = arg;
    struct mdx_rule *v;

    if (r->n == MDX_RULES_MAX) {
        r->dropped++;
        return MDX_OK;
    }
    v = mdx_grow(r->v, &r->cap, r->n + 1, sizeof(*v), 64);
    if (v == NULL) {
        return MDX_ENOMEM;
    }
    r->v = v;
    r->v[r->n++] = *rule;
    return MDX_OK;
}

/* 3 device, 2 device type, 1 tenant-wide. */
static int specificity(const struct mdx_rule *r)
{
    if (r->device[0] != '\0') {
        return 3;
    }
    return r->device_type[0] != '\0' ? 2 : 1;
}

static int rule_cmp(const void *pa, const void *pb)
{
    const struct mdx_rule *a = pa, *b = pb;
    int c = strcmp(a->tenant, b->tenant);

    if (c == 0) {
        c = strcmp(a->name, b->name);
    }
    if (c == 0) {
        c = specificity(b) - specificity(a);
    }
    if (c == 0) {
        c = a->id < b->id ? -1 : (a->id > b->id ? 1 : 0);
    }
    return c;
}

struct mdx_rules *mdx_rules_load(struct mdx_store *st, int *err)
{
    struct mdx_rules *r = mdx_calloc(1, sizeof(*r));
    int rc;

    if (r == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    rc = mdx_store_rule_list(st, NULL, collect, r);
    if (rc != MDX_OK) {
        *err = rc;
        mdx_rules_free(r);
        return NULL;
    }
    if (r->dropped > 0) {
        mdx_log_warn(MOD, "too many rules; some are not evaluated",
                     MDX_F_INT("loaded", r->n), MDX_F_INT("left_out", r->dropped));
    }
    if (r->n > 1) {
        qsort(r->v, r->n, sizeof(*r->v), rule_cmp);
    }
    return r;
}

void mdx_rules_free(struct mdx_rules *r)
{
    if (r == NULL) {
        return;
    }
    mdx_free(r->v);
    mdx_free(r);
}

int mdx_rules_equal(const struct mdx_rules *a, const struct mdx_rules *b)
{
    if (a == NULL || b == NULL || a->n != b->n) {
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        const struct mdx_rule *x = &a->v[i], *y = &b->v[i];
        if (x->id != y->id || x->cmp != y->cmp || x->threshold != y->threshold ||
            x->hysteresis != y->hysteresis || x->min_duration_ms != y->min_duration_ms ||
            x->severity != y->severity || x->enabled != y->enabled ||
            strcmp(x->tenant, y->tenant) != 0 || strcmp(x->name, y->name) != 0 ||
            strcmp(x->device_type, y->device_type) != 0 || strcmp(x->device, y->device) != 0 ||
            strcmp(x->sensor, y->sensor) != 0) {
            return 0;
        }
    }
    return 1;
}

/* The range [*lo, *hi) of 'tenant's rules. */
static void tenant_range(const struct mdx_rules *r, const char *tenant, size_t *lo, size_t *hi)
{
    size_t a = 0, b = r->n;

    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (strcmp(r->v[mid].tenant, tenant) < 0) {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    *lo = a;
    b = a;
    while (b < r->n && strcmp(r->v[b].tenant, tenant) == 0) {
        b++;
    }
    *hi = b;
}

static int applies(const struct mdx_rule *r, const char *device, const char *type)
{
    if (r->device[0] != '\0' && strcmp(r->device, device) != 0) {
        return 0;
    }
    return r->device_type[0] == '\0' || strcmp(r->device_type, type) == 0;
}

size_t mdx_rules_for(const struct mdx_rules *r, const char *tenant, const char *device,
                     const char *type, const char *sensor, const struct mdx_rule **out,
                     size_t max)
{
    size_t lo, hi, n = 0, i;

    if (r == NULL) {
        return 0;
    }
    tenant_range(r, tenant, &lo, &hi);
    for (i = lo; i < hi;) {
        const struct mdx_rule *best = NULL;
        size_t j = i;

        /* One name: sorted most specific first, so the first that applies wins. */
        for (; j < hi && strcmp(r->v[j].name, r->v[i].name) == 0; j++) {
            if (best == NULL && applies(&r->v[j], device, type)) {
                best = &r->v[j];
            }
        }
        if (best != NULL && best->enabled && strcmp(best->sensor, sensor) == 0) {
            if (n < max) {
                out[n] = best;
            }
            n++;
        }
        i = j;
    }
    return n;
}

void mdx_rule_state_init(struct mdx_rule_state *s)
{
    s->since_ms = INT64_MIN;
    s->firing = 0;
}

/* Whether x is past 'limit' on the rule's bad side. */
static int past(int cmp, double x, double limit)
{
    switch (cmp) {
    case MDX_CMP_GT: return x > limit;
    case MDX_CMP_GE: return x >= limit;
    case MDX_CMP_LT: return x < limit;
    case MDX_CMP_LE: return x <= limit;
    default: return 0;
    }
}

enum mdx_rule_verdict mdx_rule_eval(const struct mdx_rule *r, struct mdx_rule_state *s,
                                    int64_t ts_ms, double x)
{
    int upward = r->cmp == MDX_CMP_GT || r->cmp == MDX_CMP_GE;
    double hyst = r->hysteresis > 0 ? r->hysteresis : 0.0;

    if (isnan(x)) {
        return s->firing ? MDX_RULE_FIRING : MDX_RULE_NORMAL;
    }
    if (s->firing) {
        /* Clears only once back past the threshold by the hysteresis. */
        if (past(r->cmp, x, upward ? r->threshold - hyst : r->threshold + hyst)) {
            return MDX_RULE_FIRING;
        }
        s->firing = 0;
        s->since_ms = INT64_MIN;
        return MDX_RULE_NORMAL;
    }
    if (!past(r->cmp, x, r->threshold)) {
        s->since_ms = INT64_MIN;
        return MDX_RULE_NORMAL;
    }
    if (s->since_ms == INT64_MIN || ts_ms < s->since_ms) {
        s->since_ms = ts_ms; /* a timestamp going backwards restarts the count */
    }
    if (ts_ms - s->since_ms >= r->min_duration_ms) {
        s->firing = 1;
        return MDX_RULE_FIRE;
    }
    return MDX_RULE_PENDING;
}
