/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert_int.h - what the alert sinks share: the mapping of an HTTP
 * outcome to a sink verdict, and alert identity for the dispatcher.
 *
 * Internal to src/alert; not part of the public interface.
 */
#ifndef MODAX_ALERT_INT_H
#define MODAX_ALERT_INT_H

#include <stdint.h>

#include "modax/alert.h"

/*
 * Verdict for one HTTP attempt: 'rc' from mdx_http_do() and the status it
 * got. 2xx DONE; 408, 429, 5xx, timeouts, refused or reset connections
 * RETRY; any other answer REJECT. *why (static) is set when not DONE.
 */
enum mdx_sink_verdict mdx_alert_http_verdict(int rc, long status, const char **why);

/*
 * Non-zero when 'a' and 'b' are states of the same alert: same tenant,
 * device, source, sensor and opening time. The store id is not used, as
 * it is 0 until the alert is stored.
 */
int mdx_alert_same(const struct mdx_alert *a, const struct mdx_alert *b);
/* Hash of the identity above (mdx_hash_bytes of its fields). */
uint64_t mdx_alert_hash(const struct mdx_alert *a);

/*
 * Alertmanager alertname for a source: "rule:<name>" -> "ModaxRule_<name>",
 * "detector" -> "ModaxAnomaly", "safety:<flag>" -> "ModaxSafety_<flag>",
 * anything else "Modax_<source>". Bytes outside [A-Za-z0-9_] become '_'.
 * Always NUL-terminated in 'out' (size 'len'); cut when too long.
 */
void mdx_alert_name(const char *source, char *out, size_t len);

#endif
