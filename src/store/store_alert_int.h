/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_alert_int.h - what the SQLite and PostgreSQL stores share about
 * rules and alerts: input checks and the ids of a batch's new alerts.
 * Internal to src/store.
 */
#ifndef MODAX_STORE_ALERT_INT_H
#define MODAX_STORE_ALERT_INT_H

#include "modax/alert.h"
#include "modax/store.h"

/* Longest minimum duration of a rule: a week. */
#define MDX_RULE_MIN_DURATION_MAX_MS (7LL * MDX_DAY_MS)

/*
 * MDX_OK if 'r' can be stored: valid tenant, name and sensor, at most one
 * of device_type and device (each "" or a valid name), a known comparison
 * and severity, a finite threshold, a finite hysteresis >= 0 and
 * 0 <= min_duration_ms <= a week. MDX_EINVAL otherwise.
 */
int mdx_store_rule_check(const struct mdx_rule *r);

/*
 * MDX_OK if 'a' can be stored: an id not negative (0: a new alert),
 * valid tenant and device, a non-empty source, sensor "" or valid, known
 * state and severity, UTF-8 text. MDX_EINVAL otherwise.
 */
int mdx_store_alert_check(const struct mdx_alert *a);

/* Non-zero if 'type' is "" or a valid name. */
int mdx_store_type_valid(const char *type);

/*
 * Inside a batch's transaction a back end marks each new alert it inserted
 * with the negated id. Once the transaction is over this makes the ids
 * real (committed) or resets them to 0 (rolled back), so that no id of a
 * row that does not exist leaks to the caller and a retry inserts again.
 */
void mdx_store_alerts_settle(const struct mdx_batch *b, int committed);

#endif
