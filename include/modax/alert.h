/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alert.h - alerts and where they go.
 *
 * An alert belongs to one (tenant, device) and one source: a threshold
 * rule, the anomaly detector on one sensor, or a safety event from the
 * device. Its lifecycle is open -> acknowledged -> resolved; there is at
 * most one alert not yet resolved per (tenant, device, source, sensor).
 *
 * Sinks deliver alert changes to the outside world (a webhook, the
 * Prometheus Alertmanager API). A sink only reports what happened; the
 * dispatcher (alert_dispatch.c) owns queues, retries and back-off, so a
 * sink that is down or slow never slows the ingest.
 */
#ifndef MODAX_ALERT_H
#define MODAX_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "modax/conf.h"
#include "modax/msg.h"

enum mdx_alert_state { MDX_ALERT_OPEN = 0, MDX_ALERT_ACKNOWLEDGED, MDX_ALERT_RESOLVED };
enum mdx_severity { MDX_SEVERITY_INFO = 0, MDX_SEVERITY_WARNING, MDX_SEVERITY_CRITICAL };

struct mdx_alert {
    int64_t id;                       /* store id; 0 until stored */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    char source[96];                  /* "rule:<name>", "detector", "safety:<flag>" */
    char sensor[MDX_NAME_MAX + 1];    /* "" when not about one sensor */
    int severity;                     /* enum mdx_severity */
    int state;                        /* enum mdx_alert_state */
    int64_t opened_ms;                /* when it started (point time) */
    int64_t updated_ms;               /* last state change */
    int64_t resolved_ms;              /* 0 while not resolved */
    double value;                     /* the value that raised it */
    double score;                     /* detector score, 0 for rules and safety */
    char summary[256];                /* one line for people */
};

/* Names: "open", "acknowledged", "resolved"; "info", "warning", "critical". */
const char *mdx_alert_state_name(int state);
const char *mdx_severity_name(int severity);
/* Parses a severity name; MDX_EINVAL if unknown. */
int mdx_severity_parse(const char *name, int *out);
/*
 * 'a' as one JSON object on one line (the webhook body, the MQTT alert
 * payload, `modax alert list --json`); a new string the caller frees with
 * cJSON_free(), or NULL when out of memory.
 */
char *mdx_alert_json(const struct mdx_alert *a);

/* Comparison of a threshold rule. */
enum mdx_cmp { MDX_CMP_GT = 0, MDX_CMP_GE, MDX_CMP_LT, MDX_CMP_LE };

/*
 * A threshold rule of a tenant. The most specific rule of a given name
 * applies to a device: one for the device itself, else one for its device
 * type, else the tenant-wide one. Each tenant starts with the platform's
 * defaults: "overcurrent" (current_mean > 10.0 A) and "overtemperature"
 * (temperature_mean > 80.0 degC), editable like any rule.
 */
struct mdx_rule {
    int64_t id;                       /* store id; 0 until stored */
    char tenant[MDX_NAME_MAX + 1];
    char name[MDX_NAME_MAX + 1];      /* [A-Za-z0-9_-]{1,64} */
    char device_type[MDX_NAME_MAX + 1]; /* "" = any type */
    char device[MDX_NAME_MAX + 1];    /* "" = any device */
    char sensor[MDX_NAME_MAX + 1];
    int cmp;                          /* enum mdx_cmp */
    double threshold;
    double hysteresis;                /* >= 0: the alert clears once the value is back past
                                         threshold -/+ hysteresis */
    int64_t min_duration_ms;          /* the condition must hold this long to open an alert */
    int severity;                     /* enum mdx_severity */
    int enabled;
};

/* Filter for listing alerts; NULL / -1 / 0 mean "any". */
struct mdx_alert_filter {
    const char *tenant;               /* NULL: every tenant (platform operators only) */
    const char *device;
    int state;                        /* enum mdx_alert_state, -1 any; MDX_ALERT_ACTIVE: open or acked */
    int severity;                     /* minimum severity, -1 any */
    int64_t limit;                    /* 0: no limit; newest first */
};

#define MDX_ALERT_ACTIVE 100

/* "open", "acknowledged", "resolved", or "active" (MDX_ALERT_ACTIVE); MDX_EINVAL otherwise. */
int mdx_alert_state_parse(const char *s, int *out);

struct mdx_store;
/*
 * An operator's acknowledge (want MDX_ALERT_ACKNOWLEDGED) or resolve
 * (MDX_ALERT_RESOLVED) of alert 'id' of 'tenant' (alert_change.c), stored
 * at 'now_ms'. MDX_OK with the changed alert in *out; MDX_EEXIST when
 * nothing would change (acknowledged already, or resolved already: a
 * resolved alert cannot be acknowledged) with the alert as it is in *out;
 * MDX_ENOTFOUND for no such alert (also another tenant's); else the
 * store's error.
 */
int mdx_alert_change(struct mdx_store *st, const char *tenant, int64_t id, int want,
                     int64_t now_ms, struct mdx_alert *out);

/* "gt", "ge", "lt", "le" and ">", ">=", "<", "<="; MDX_EINVAL otherwise. */
int mdx_cmp_parse(const char *s, int *out);
const char *mdx_cmp_symbol(int cmp);

enum mdx_sink_verdict {
    MDX_SINK_DONE = 0,  /* delivered (or nothing to deliver) */
    MDX_SINK_RETRY,     /* failed for now (down, timeout, 5xx): try again later */
    MDX_SINK_REJECT     /* will never work (4xx, bad config): drop and count */
};

struct mdx_sink_conf {
    char *webhook_url;            /* "" = no webhook sink */
    char *webhook_secret;         /* secret: HMAC-SHA256 key for the signature header */
    char *alertmanager_url;       /* base URL, e.g. http://127.0.0.1:9093; "" = none */
    int64_t timeout_ms;           /* per delivery attempt */
    int64_t queue_max;            /* alert changes queued per sink; more are counted and dropped */
    int64_t retry_max_ms;         /* longest back-off between attempts */
    int64_t refresh_s;            /* re-post firing alerts this often (Alertmanager forgets) */
};

extern const struct mdx_conf_key mdx_sink_conf_keys[];

/* One kind of sink; one file each, registered in the table in alert_dispatch.c. */
struct mdx_sink_ops {
    const char *name;
    /* NULL when this kind is not configured in 'conf' (*err = MDX_OK) or on failure. */
    void *(*create)(const struct mdx_sink_conf *conf, int *err);
    void (*destroy)(void *sink);
    /* Delivers one alert's current state; *why (static) says why when not DONE. */
    enum mdx_sink_verdict (*deliver)(void *sink, const struct mdx_alert *alert, const char **why);
    /* Non-zero if firing alerts must be re-sent every refresh_s (Alertmanager). */
    int wants_refresh;
};

extern const struct mdx_sink_ops mdx_sink_webhook;
extern const struct mdx_sink_ops mdx_sink_alertmanager;

struct mdx_dispatch;

/* Counters of one sink; read with mdx_dispatch_stats(). */
struct mdx_sink_stats {
    const char *name;
    uint64_t delivered;
    uint64_t retries;
    uint64_t rejected;
    uint64_t overflow;            /* dropped because the queue was full */
    uint64_t queued;              /* now */
};

/* Starts one worker thread per configured sink. NULL on failure (*err set). */
struct mdx_dispatch *mdx_dispatch_create(const struct mdx_sink_conf *conf, int *err);
/*
 * Queues the alert's current state for every sink; never blocks. A newer
 * state of an alert already queued replaces it. When a queue is full the
 * change is counted as overflow and logged (the periodic refresh and the
 * store still have it).
 */
void mdx_dispatch_submit(struct mdx_dispatch *d, const struct mdx_alert *alert);
/* Stops the workers (pending deliveries get 'drain_ms' to finish) and frees. */
void mdx_dispatch_destroy(struct mdx_dispatch *d, int64_t drain_ms);
/* Fills up to 'max' entries; returns how many sinks there are. */
size_t mdx_dispatch_stats(struct mdx_dispatch *d, struct mdx_sink_stats *out, size_t max);

#endif
