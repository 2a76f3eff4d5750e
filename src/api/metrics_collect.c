/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_collect.c - the main figures of the process in one snapshot
 * (struct metrics_main): the ingest, alerting and sinks when they run in
 * this process, the HTTP totals, the live stream and the resident memory.
 * The EMF writer (metrics_emf.c) reads them; the /metrics page
 * (metrics.c) renders the same parts in more detail itself.
 */
#include <string.h>

#include "modax/alert.h"
#include "modax/alerting.h"
#include "modax/engine.h"

#include "api/metrics_int.h"

#define SINKS_MAX 32

void metrics_main_collect(struct api *api, struct metrics_main *out)
{
    memset(out, 0, sizeof(*out));
    if (api->deps.engine != NULL) {
        struct mdx_engine_stats s;
        mdx_engine_stats(api->deps.engine, &s);
        out->has_ingest = 1;
        out->msgs_received = s.msgs_received;
        out->msgs_stored = s.msgs_stored;
        out->msgs_refused = s.msgs_refused;
        out->points_written = s.points_written;
        out->points_duplicate = s.points_duplicate;
        out->events_written = s.events_written;
        out->batches = s.batches;
        out->store_retries = s.store_retries;
        out->spool_pending_bytes = s.spool_pending_bytes;
        out->commit_us_sum = s.commit_us_sum;
        for (size_t i = 0; i <= MDX_COMMIT_BUCKETS; i++) {
            out->commit_count += s.commit_buckets[i];
        }
    }
    if (api->deps.alerting != NULL) {
        struct mdx_alerting_stats s;
        mdx_alerting_stats_shared(api->deps.alerting, &s);
        out->has_alerting = 1;
        out->alerts_opened = s.opened;
        out->alerts_resolved = s.resolved;
        out->alerts_active = s.alerts_active;
    }
    if (api->deps.dispatch != NULL) {
        struct mdx_sink_stats sinks[SINKS_MAX];
        size_t n = mdx_dispatch_stats(api->deps.dispatch, sinks, SINKS_MAX);
        for (size_t i = 0; i < n && i < SINKS_MAX; i++) {
            out->sink_delivered += sinks[i].delivered;
            out->sink_failed += sinks[i].rejected + sinks[i].overflow;
        }
    }
    metrics_http_totals(api->metrics, &out->http_requests, &out->http_5xx);
    if (api->hub != NULL) {
        struct api_hub_stats hs;
        api_hub_stats(api->hub, &hs);
        out->stream_clients = hs.clients;
    }
    out->resident_bytes = metrics_resident_bytes();
}
