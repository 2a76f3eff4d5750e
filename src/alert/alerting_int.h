/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alerting_int.h - the parts of the alerting stage: the rule set and its
 * evaluation (rules.c) and the alert lifecycle (alert_manager.c).
 *
 * Internal to src/alert; alerting.c ties them to the ingest (alerting.h).
 */
#ifndef MODAX_ALERTING_INT_H
#define MODAX_ALERTING_INT_H

#include <stddef.h>
#include <stdint.h>

#include "modax/alert.h"
#include "modax/detect.h"
#include "modax/store.h"

#define MDX_RULES_MAX 100000 /* rules loaded over all tenants; more are left out and logged */

/* ---- rules.c ---- */

/* A snapshot of every tenant's rules, read-only once loaded. */
struct mdx_rules;

/*
 * Reads all rules from 'st'. NULL on failure (*err set); an empty set is
 * not a failure.
 */
struct mdx_rules *mdx_rules_load(struct mdx_store *st, int *err);
void mdx_rules_free(struct mdx_rules *r);
/* Non-zero when 'a' and 'b' hold the same rules (a reload that changed nothing). */
int mdx_rules_equal(const struct mdx_rules *a, const struct mdx_rules *b);

/*
 * The rules that apply to 'sensor' of 'device' (of device type 'type', ""
 * if none): for each rule name of the tenant, the most specific enabled
 * rule (device > device type > tenant-wide), kept if it is about 'sensor'.
 * Writes up to 'max' pointers (borrowed from 'r') to 'out'; returns how
 * many apply, which may exceed 'max'.
 */
size_t mdx_rules_for(const struct mdx_rules *r, const char *tenant, const char *device,
                     const char *type, const char *sensor, const struct mdx_rule **out,
                     size_t max);

/* Where a rule's condition stands for one series. */
struct mdx_rule_state {
    int64_t since_ms;   /* point time the condition started to hold; INT64_MIN: it does not */
    int firing;         /* it held for min_duration and has not cleared (hysteresis) since */
};

enum mdx_rule_verdict {
    MDX_RULE_NORMAL = 0, /* condition does not hold (past the hysteresis when it was firing) */
    MDX_RULE_PENDING,    /* holds, not yet for min_duration */
    MDX_RULE_FIRE,       /* started firing with this point */
    MDX_RULE_FIRING      /* still firing */
};

void mdx_rule_state_init(struct mdx_rule_state *s);
/* Evaluates one point; NaN never holds. */
enum mdx_rule_verdict mdx_rule_eval(const struct mdx_rule *r, struct mdx_rule_state *s,
                                    int64_t ts_ms, double x);

/* ---- alert_manager.c ---- */

/* What identifies an alert: at most one active per key. */
struct mdx_alert_key {
    const char *tenant;
    const char *device;
    const char *source;  /* "rule:<name>", "detector", "stale", "safety:<flag>" */
    const char *sensor;  /* "" when not about one sensor */
};

struct mdx_alert_mgr;

struct mdx_alert_mgr_stats {
    uint64_t active, tracked, opened, resolved, reopened, overflow;
};

/*
 * A table of at most 'max' alerts (active ones, and resolved ones kept for
 * 'flap_ms' to re-open them). 'auto_resolve_ms': normal this long, resolved.
 */
struct mdx_alert_mgr *mdx_alert_mgr_create(size_t max, int64_t auto_resolve_ms, int64_t flap_ms);
void mdx_alert_mgr_destroy(struct mdx_alert_mgr *m);

/*
 * The condition of 'k' is out of normal at 'ts_ms': opens an alert (or
 * re-opens the one resolved less than flap_ms ago), or, when one is
 * active, only marks it abnormal again. 'summary' may be NULL. Returns 1
 * when an alert is active after the call, 0 when the table was full
 * (counted as overflow).
 */
int mdx_alert_mgr_raise(struct mdx_alert_mgr *m, const struct mdx_alert_key *k, int severity,
                        int64_t ts_ms, double value, double score, const char *summary);
/* Still out of normal at 'ts_ms'. 1 if an alert is active (operators may have resolved it). */
int mdx_alert_mgr_hold(struct mdx_alert_mgr *m, const struct mdx_alert_key *k, int64_t ts_ms);
/*
 * Normal at 'ts_ms': the alert resolves once normal for auto_resolve_ms of
 * point time. Returns 1 while it stays active, 0 when it is resolved or
 * there is none.
 */
int mdx_alert_mgr_normal(struct mdx_alert_mgr *m, const struct mdx_alert_key *k, int64_t ts_ms);
/* Resolves the active alert of 'k' at once; 1 if there was one. */
int mdx_alert_mgr_resolve(struct mdx_alert_mgr *m, const struct mdx_alert_key *k, int64_t ts_ms,
                          const char *summary);
/* 1 if 'k' has an active alert. */
int mdx_alert_mgr_active(const struct mdx_alert_mgr *m, const struct mdx_alert_key *k);
/* The alert of 'k', active or recently resolved; borrowed, NULL if none. */
const struct mdx_alert *mdx_alert_mgr_get(const struct mdx_alert_mgr *m,
                                          const struct mdx_alert_key *k);

/* Number of changed alerts not yet taken for the store. */
size_t mdx_alert_mgr_pending(const struct mdx_alert_mgr *m);
/* Copies up to 'max' changed alerts to 'out', oldest change first, and forgets they changed. */
size_t mdx_alert_mgr_take(struct mdx_alert_mgr *m, struct mdx_alert *out, size_t max);
/* 'n' alerts taken were stored (new ones have their ids now): remembers the ids. */
void mdx_alert_mgr_stored(struct mdx_alert_mgr *m, const struct mdx_alert *v, size_t n);

typedef void (*mdx_alert_notify_fn)(void *arg, const struct mdx_alert *a);
/*
 * Brings the table in line with the store: active alerts there that are
 * missing here are adopted (after a restart), and acks and resolves done
 * by operators are taken over; 'fn' is called for each alert whose state
 * changed that way. Alerts with unstored changes are left alone. Also
 * forgets resolved alerts past the flap window.
 */
int mdx_alert_mgr_sync(struct mdx_alert_mgr *m, struct mdx_store *st, mdx_alert_notify_fn fn,
                       void *arg);

void mdx_alert_mgr_stats(const struct mdx_alert_mgr *m, struct mdx_alert_mgr_stats *out);

/* ---- detector_saves.c ---- */

/* A detector state read back from the store, for one sensor of a device. */
struct mdx_saved_detector {
    char sensor[MDX_NAME_MAX + 1];
    struct mdx_detector det;
};

/*
 * Reads the saved detector states of (tenant, device) from 'st', at most
 * 'max': a new array in *out (the caller mdx_free()s it; NULL when there
 * are none) and its length in *n. A state of another format version or
 * size than this build's is left out and counted in *refused. MDX_OK, or
 * the store's error with *out NULL.
 */
int mdx_saved_detectors_load(struct mdx_store *st, const char *tenant, const char *device,
                             size_t max, struct mdx_saved_detector **out, size_t *n,
                             uint64_t *refused);

/*
 * The detector states that go with one batch (struct mdx_batch's
 * detector_states): at most 'cap' rows with their bytes, and for each the
 * caller's pointer to the series it saves ('owners').
 */
struct mdx_state_batch {
    struct mdx_detector_state_row *rows;
    uint8_t (*bytes)[MDX_DETECTOR_STATE_BYTES];
    void **owners;
    size_t n, cap;
};

/* Allocates room for 'cap' rows: MDX_OK or MDX_ENOMEM. */
int mdx_state_batch_init(struct mdx_state_batch *b, size_t cap);
void mdx_state_batch_fini(struct mdx_state_batch *b);
/*
 * Adds the state of 'det' for (tenant, device, sensor), saved at 'now_ms'
 * (wall clock). The strings are borrowed: they must stay until the batch
 * is stored. Returns 1, or 0 when the batch is full.
 */
int mdx_state_batch_add(struct mdx_state_batch *b, const char *tenant, const char *device,
                        const char *sensor, const struct mdx_detector *det, void *owner,
                        int64_t now_ms);

#endif
