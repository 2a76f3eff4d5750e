/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink_http.c - the delivery step the HTTP alert sinks share: one POST,
 * its verdict, and the debug record of a failed attempt.
 */
#include "alert/sink_http.h"

#include "alert/alert_int.h"
#include "modax/log.h"

#define RESP_MAX 4096 /* answers are not used; keep little of them */

enum mdx_sink_verdict mdx_sink_http_post(struct mdx_http *http, const char *url,
                                         const struct curl_slist *hdrs, const char *body,
                                         size_t len, const struct mdx_alert *alert,
                                         const struct mdx_sink_http_log *log, const char **why)
{
    struct mdx_http_req rq = {"POST", url, hdrs, body, len, RESP_MAX};
    struct mdx_http_resp rs;
    enum mdx_sink_verdict v;
    int rc;

    rc = mdx_http_do(http, &rq, &rs);
    v = mdx_alert_http_verdict(rc, rs.status, why);
    if (v != MDX_SINK_DONE && (int)MDX_LOG_DEBUG >= mdx_log_threshold) {
        const struct mdx_field fields[] = {
            MDX_F_STR("tenant", alert->tenant),
            MDX_F_STR("device", alert->device),
            MDX_F_INT("status", rs.status),
            MDX_F_STR("transport", rs.curl_err),
            MDX_F_STR("answer", mdx_buf_str(&rs.body)),
        };
        int n = (int)(sizeof(fields) / sizeof(fields[0]));

        mdx_log_write(MDX_LOG_DEBUG, "alert", log->msg, fields, log->with_answer ? n : n - 1);
    }
    mdx_http_resp_fini(&rs);
    return v;
}
