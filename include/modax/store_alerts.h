/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_alerts.h - the store's threshold rules and alerts (the types are
 * in alert.h). Alert changes of the ingest travel in the batch
 * (store_series.h); the functions here serve operators and the API.
 *
 * Included by store.h; see there for the handle and the rules every store
 * function follows (returns, callbacks, ownership).
 */
#ifndef MODAX_STORE_ALERTS_H
#define MODAX_STORE_ALERTS_H

#include <stdint.h>

struct mdx_store;
struct mdx_rule;
struct mdx_alert;
struct mdx_alert_filter;

/* A rule or an alert; borrowed for the call only: copy what you keep. */
typedef int (*mdx_rule_fn)(void *arg, const struct mdx_rule *rule);
typedef int (*mdx_alert_fn)(void *arg, const struct mdx_alert *alert);

/*
 * Stores a rule: inserts it (rule->id set) or, when the tenant already has a
 * rule with the same (name, device_type, device), replaces that one (its id
 * is kept and set). MDX_OK; MDX_ENOTFOUND for an unknown tenant, MDX_EINVAL
 * for bad names. A new tenant gets the default rules (see struct mdx_rule).
 */
int mdx_store_rule_put(struct mdx_store *st, struct mdx_rule *rule);
/*
 * Calls fn for the tenant's rules (NULL: all tenants), by name then
 * specificity. MDX_OK, fn's stop value, or an error.
 */
int mdx_store_rule_list(struct mdx_store *st, const char *tenant, mdx_rule_fn fn, void *arg);
/* MDX_OK; MDX_ENOTFOUND if the tenant has no rule 'id'. */
int mdx_store_rule_delete(struct mdx_store *st, const char *tenant, int64_t id);
/*
 * Inserts (alert->id == 0; the id is set) or updates an alert (state,
 * updated/resolved times, value, score, summary). Outside a batch: for
 * operators' acknowledge and resolve. MDX_OK; MDX_ENOTFOUND for an unknown
 * id.
 */
int mdx_store_alert_put(struct mdx_store *st, struct mdx_alert *alert);
/*
 * Alert 'id' of 'tenant' (NULL: any tenant) into *out (owned by the
 * caller). MDX_OK; MDX_ENOTFOUND otherwise, also for another tenant's.
 */
int mdx_store_alert_get(struct mdx_store *st, const char *tenant, int64_t id,
                        struct mdx_alert *out);
/* Calls fn for each alert that passes 'f' (alert.h). MDX_OK, fn's stop value, or an error. */
int mdx_store_alert_list(struct mdx_store *st, const struct mdx_alert_filter *f, mdx_alert_fn fn,
                         void *arg);

/* What a back end implements for rules and alerts. 'impl' is its own handle. */
struct mdx_store_alerts_ops {
    int (*rule_put)(void *impl, struct mdx_rule *rule);
    int (*rule_list)(void *impl, const char *tenant, mdx_rule_fn fn, void *arg);
    int (*rule_delete)(void *impl, const char *tenant, int64_t id);
    int (*alert_put)(void *impl, struct mdx_alert *alert);
    int (*alert_get)(void *impl, const char *tenant, int64_t id, struct mdx_alert *out);
    int (*alert_list)(void *impl, const struct mdx_alert_filter *f, mdx_alert_fn fn, void *arg);
};

#endif
