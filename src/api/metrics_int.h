/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_int.h - what the metrics files share: the text format's parts
 * (metrics_text.c), the per-device gauges of the /metrics page
 * (metrics_devices.c), and the main figures of the process in one snapshot
 * (metrics_collect.c) for the embedded-metric-format lines (metrics_emf.c).
 *
 * Who uses whom, top down: metrics_emf -> metrics_collect -> metrics (the
 * HTTP counters and the page) -> metrics_devices -> metrics_text.
 */
#ifndef MODAX_API_METRICS_INT_H
#define MODAX_API_METRICS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "api/api_int.h"
#include "base/buf.h"

/* The page being rendered grows up to this (mdx_buf's cap); past it the page answers 500. */
#define METRICS_PAGE_MAX ((size_t)64 << 20)

/* metrics_text.c: the text format's parts, appended to 'b' (errors stay in b->err). */
/* Appends 's' as a label value: backslash, double quote and newline escaped. */
void metrics_text_label(struct mdx_buf *b, const char *s);
/* Appends a sample value: integers exactly, NaN and infinities as the format spells them. */
void metrics_text_value(struct mdx_buf *b, double v);

/*
 * Appends the per-device gauges of the devices in 'st' (at most 'max'
 * devices), and the truncation gauges. Returns MDX_OK, or the store's
 * error (the page then says so in modax_device_metrics_error).
 */
int metrics_devices_render(struct mdx_buf *b, struct mdx_store *st, int64_t max);

enum metrics_sensor { METRICS_TEMPERATURE = 1, METRICS_CURRENT };
/* One sensor's latest value; names borrowed for the call. Non-MDX_OK stops the walk. */
typedef int (*metrics_device_fn)(void *arg, const char *tenant, const char *device,
                                 const char *sensor, enum metrics_sensor kind, double value);
/*
 * Calls fn for the latest value of each temperature and current sensor of
 * the first 'max' devices, device by device in (tenant, device) order;
 * *devices is how many were taken, *skipped how many left out.
 */
int metrics_devices_each(struct mdx_store *st, int64_t max, metrics_device_fn fn, void *arg,
                         size_t *devices, uint64_t *skipped);

/* The main figures: what the EMF lines carry. Zero where the part is not in this process. */
struct metrics_main {
    int has_ingest, has_alerting;
    uint64_t msgs_received, msgs_stored, msgs_refused;
    uint64_t points_written, points_duplicate, events_written;
    uint64_t batches, store_retries, spool_pending_bytes;
    uint64_t commit_us_sum, commit_count;
    uint64_t alerts_opened, alerts_resolved, alerts_active;
    uint64_t sink_delivered, sink_failed;  /* failed: rejected + overflow */
    uint64_t http_requests, http_5xx;
    uint64_t stream_clients;
    uint64_t resident_bytes;
};

/* metrics_collect.c: reads every part of 'api' into 'out'. */
void metrics_main_collect(struct api *api, struct metrics_main *out);
/* metrics.c: requests counted so far, and those of them answered 5xx. */
void metrics_http_totals(struct api_metrics *m, uint64_t *requests, uint64_t *errors_5xx);
/* metrics.c: resident set size of this process in bytes (/proc/self/statm), 0 if unknown. */
uint64_t metrics_resident_bytes(void);

/*
 * One EMF line (JSON without the newline) for 'now', counters as the
 * change since 'prev' (NULL: since start), stamped 'ts_ms'. mdx_malloc'd;
 * NULL when out of memory.
 */
char *metrics_emf_line(const struct metrics_main *now, const struct metrics_main *prev,
                       int64_t ts_ms);

/* At most this many values of one metric in one EMF line (CloudWatch's limit is 100). */
#define METRICS_EMF_VALUES_MAX 100
/*
 * One device's EMF line in namespace 'ns' with dimensions TenantId and
 * DeviceId: DeviceTemperature and DeviceCurrent, each a value or an array
 * of values (one per sensor; nt / nc of them, either may be 0). NULL when
 * out of memory.
 */
char *metrics_emf_device_line(const char *ns, const char *tenant, const char *device,
                              const double *temps, size_t nt, const double *currents, size_t nc,
                              int64_t ts_ms);

#endif
