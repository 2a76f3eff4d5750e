/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_int.h - what the metrics files share: the main figures of the
 * process in one snapshot (for the embedded-metric-format lines), the
 * per-device gauges of the /metrics page, the text buffer the page is
 * rendered into, and the EMF writer thread.
 */
#ifndef MODAX_API_METRICS_INT_H
#define MODAX_API_METRICS_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api_int.h"

/* The page being rendered; grows up to METRICS_PAGE_MAX, then refuses more (full set). */
#define METRICS_PAGE_MAX ((size_t)64 << 20)

struct metrics_buf {
    char *p;                      /* NUL-terminated text, mdx_malloc'd */
    size_t len, cap;
    int oom;                      /* an append failed (out of memory or over the limit) */
};

void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends 's' as a label value: backslash, double quote and newline escaped. */
void metrics_buf_label(struct metrics_buf *b, const char *s);
/* Appends a sample value: integers exactly, NaN and infinities as the format spells them. */
void metrics_buf_value(struct metrics_buf *b, double v);
void metrics_buf_append(struct metrics_buf *b, const char *s, size_t len);
/* Appends a string literal. */
#define metrics_buf_lit(b, lit) metrics_buf_append((b), (lit), sizeof(lit) - 1)
void metrics_buf_free(struct metrics_buf *b);

/*
 * Appends the per-device gauges of the devices in 'st' (at most 'max'
 * devices), and the truncation gauges. Returns MDX_OK, or the store's
 * error (the page then says so in modax_device_metrics_error).
 */
int metrics_devices_render(struct metrics_buf *b, struct mdx_store *st, int64_t max);

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

/* Reads every part of 'api' into 'out'. */
void metrics_main_collect(struct api *api, struct metrics_main *out);
/* Requests counted so far, and those of them answered 5xx. */
void metrics_http_totals(struct api_metrics *m, uint64_t *requests, uint64_t *errors_5xx);
/* Resident set size of this process in bytes (/proc/self/statm), 0 if unknown. */
uint64_t metrics_resident_bytes(void);

/*
 * One EMF line (JSON without the newline) for 'now', counters as the
 * change since 'prev' (NULL: since start), stamped 'ts_ms'. mdx_malloc'd;
 * NULL when out of memory.
 */
char *metrics_emf_line(const struct metrics_main *now, const struct metrics_main *prev,
                       int64_t ts_ms);

/* The EMF writer: a thread writing one line to stdout every 'interval_s'. */
struct metrics_emf;
struct metrics_emf *metrics_emf_start(struct api *api, int64_t interval_s, int *err);
void metrics_emf_stop(struct metrics_emf *w);

#endif
