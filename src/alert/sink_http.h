/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink_http.h - the delivery step the HTTP alert sinks share
 * (sink_webhook.c, sink_alertmanager.c): POST one JSON body and judge
 * the answer.
 *
 * Internal to src/alert; not part of the public interface.
 */
#ifndef MODAX_ALERT_SINK_HTTP_H
#define MODAX_ALERT_SINK_HTTP_H

#include <stddef.h>

#include "modax/alert.h"
#include "net/http_client.h"

/* How the log record of a failed delivery reads. */
struct mdx_sink_http_log {
    const char *msg;  /* the record's message, e.g. "webhook delivery failed" */
    int with_answer;  /* non-zero: the receiver's answer body is logged as "answer" */
};

/*
 * POSTs 'body' ('len' bytes, headers 'hdrs', both borrowed) to 'url'
 * and returns mdx_alert_http_verdict() of the outcome, with *why set when
 * not DONE. A failed delivery is logged at debug level with the alert's
 * tenant and device, the HTTP status and the transport error.
 */
enum mdx_sink_verdict mdx_sink_http_post(struct mdx_http *http, const char *url,
                                         const struct curl_slist *hdrs, const char *body,
                                         size_t len, const struct mdx_alert *alert,
                                         const struct mdx_sink_http_log *log, const char **why);

#endif
