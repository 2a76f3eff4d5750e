/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alerting.h - the alerting stage of the ingest: detector, threshold
 * rules, safety events and the alert lifecycle, run by the store writer.
 *
 * It is a stage of the engine (stage.h, mdx_alerting_stage): the writer
 * thread feeds it every point it has validated and every safety event,
 * takes the alert changes to commit with the batch (before_commit), and
 * tells it when the batch is stored (after_commit): only then are the
 * changes handed to the sinks and published on modax/{tenant}/{device}/alerts.
 * Everything runs on the writer thread; the store handle is the writer's,
 * used between batches only (rules and operators' changes, on tick).
 *
 * Time is the points' time: auto-resolve, minimum durations, flap
 * suppression and staleness are measured on the timestamps the devices
 * send, so a replay or a compressed clock behaves like the real one.
 * Every table has a maximum set at creation; what does not fit is counted.
 */
#ifndef MODAX_ALERTING_H
#define MODAX_ALERTING_H

#include <stddef.h>
#include <stdint.h>

#include "modax/conf.h"
#include "modax/stage.h"
#include "modax/store.h"

struct mdx_alerting_conf {
    int detect;                   /* run the anomaly detector on every point */
    int rules;                    /* evaluate the tenants' threshold rules */
    double detector_threshold;    /* a score from here on opens a "detector" alert */
    double detector_min_change;   /* ... if the value is this far (relative) from the learned level */
    int64_t detector_warmup;      /* points of a series before its scores may alert */
    int64_t series_max;           /* (tenant, device, sensor) states kept; full: cleared */
    int64_t alerts_max;           /* alerts tracked (active and recently resolved) */
    int64_t auto_resolve_s;       /* normal this long (point time): resolved */
    int64_t flap_s;               /* re-raised within this of its resolve: the same alert */
    int64_t stale_intervals;      /* sensor silent this many usual intervals: "stale"; 0 off */
    int64_t reload_s;             /* rules and operators' acks/resolves re-read this often */
    int64_t detector_state_save_s; /* a learning series' detector state saved this often with a
                                      batch, and read back for a device new to the stage; <= 0
                                      never (-1 is the key's "by source", settled by the caller) */
};

extern const struct mdx_conf_key mdx_alerting_conf_keys[];

/* Publishes one message (the source's publish op); returns MDX_OK or an error. */
typedef int (*mdx_publish_fn)(void *arg, const char *topic, const void *payload, size_t len,
                              int qos, int retain);

struct mdx_dispatch;

/* Counters; read with mdx_alerting_stats(). */
struct mdx_alerting_stats {
    uint64_t series;              /* series tracked now */
    uint64_t series_cleared;      /* times the series table was full and emptied */
    uint64_t points_scored;       /* points through the detector */
    uint64_t alerts_active;       /* open or acknowledged now */
    uint64_t opened, resolved, reopened; /* reopened: flap suppression */
    uint64_t alerts_overflow;     /* not raised: the alert table was full */
    uint64_t rules_overflow;      /* rules not evaluated: too many on one series */
    uint64_t published;           /* alert changes published on MQTT */
    uint64_t publish_dropped;     /* not published: not connected or too many in flight */
    uint64_t store_errors;        /* failed rule or alert reloads, or saved-state reads */
    uint64_t detector_states_saved;   /* detector states stored with batches */
    uint64_t detector_states_loaded;  /* series that resumed from a saved state */
    uint64_t detector_states_refused; /* saved states of another format or size: not used */
};

struct mdx_alerting;

/*
 * Creates the stage. 'store' (the writer's handle), 'dispatch' (may be
 * NULL: no sinks) and 'publish' (may be NULL) are borrowed. Reads the
 * rules and the active alerts from the store once; a store that is down
 * is retried later. NULL on failure (*err set).
 */
struct mdx_alerting *mdx_alerting_create(const struct mdx_alerting_conf *conf,
                                         struct mdx_store *store, struct mdx_dispatch *dispatch,
                                         mdx_publish_fn publish, void *publish_arg, int *err);
void mdx_alerting_destroy(struct mdx_alerting *a);

/*
 * The alerting stage's operations (stage.h); their context is a struct
 * mdx_alerting.
 *   on_points      detector, rules and silent sensors; O(1) per point. The
 *                  rules of the device's type (dev->type) apply.
 *   on_event       safety flags out of normal raise critical alerts at once,
 *                  and resolve when the device reports them normal again.
 *   tick           every alert.reload_s: re-reads the rules and takes over
 *                  operators' acks and resolves. Cheap otherwise.
 *   pending        non-zero when alert changes wait to be stored (the engine
 *                  then commits a batch without points).
 *   before_commit  sets the batch's alerts: the changes to write with it (at
 *                  most a few thousand; the rest go with the next). Owned by
 *                  the stage; the store sets the ids of new ones. Also the
 *                  detector states due for saving (a few hundred at most).
 *   after_commit   the batch is stored: hands its alert changes to the sinks
 *                  and publishes them.
 */
extern const struct mdx_stage_ops mdx_alerting_stage;

/* The counters now; on the writer thread (or once it has stopped). */
void mdx_alerting_stats(const struct mdx_alerting *a, struct mdx_alerting_stats *out);
/*
 * The counters as of the writer's last commit or tick, for other threads
 * (/metrics): a copy the writer refreshes under a lock.
 */
void mdx_alerting_stats_shared(struct mdx_alerting *a, struct mdx_alerting_stats *out);

/*
 * A condition found by another stage on the writer thread (the RUL stage,
 * rul_live.h, source "rul"): 'bad' non-zero raises (or holds) the alert of
 * (tenant, device, source), zero resolves an active one at once. Stored
 * with the next batch and handed to the sinks like the stage's own.
 */
void mdx_alerting_external(struct mdx_alerting *a, const char *tenant, const char *device,
                           const char *source, int severity, int64_t ts_ms, double value, int bad,
                           const char *summary);

/* What a detector of another stage says of its condition at one point. */
enum mdx_alerting_verdict {
    MDX_ALERTING_RAISE = 0,   /* anomalous: open (or re-open within alert.flap_s) or hold */
    MDX_ALERTING_HOLD,        /* still out of normal: keep an active alert open */
    MDX_ALERTING_NORMAL       /* normal: an active alert resolves after alert.auto_resolve_s */
};

/*
 * A detector of another stage on the writer thread (the device stage,
 * detect_device_stage.h, source "device"): the alert of (tenant, device,
 * source) follows 'verdict' with the lifecycle of the stage's own detector
 * alerts (severity warning, auto-resolve and flap suppression by point
 * time). 'summary' may be NULL. Returns 1 while an alert is active after
 * the call, 0 when there is none (or the alert table was full on RAISE).
 */
int mdx_alerting_detected(struct mdx_alerting *a, const char *tenant, const char *device,
                          const char *source, enum mdx_alerting_verdict verdict, int64_t ts_ms,
                          double value, double score, const char *summary);

#endif
