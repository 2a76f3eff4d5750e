/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alerting.c - the alerting stage of the ingest (alerting.h): per series
 * state, the detector and the rules on every point, safety events, silent
 * sensors, and handing stored alert changes to the sinks and to MQTT.
 *
 * State per (tenant, device, sensor): a detector (MDX_DETECTOR_BYTES), the
 * states of the rules that apply to it (only when some do), its newest
 * point time and usual interval. Series hang off a device entry, so a
 * message costs one hash lookup (src/base/htab.h) and then a short scan of
 * the device's sensors (starting where the previous message left off).
 * Both tables are bounded by alert.series_max; when full they are emptied
 * and refilled (like the registry): the detectors then learn again (from
 * their saved states, when saving is on), active alerts stay.
 *
 * Saved detector states (alert.detector_state_save_s, detector_saves.c):
 * a series whose detector has learned since its last save, and whose last
 * save is older than that, is saved with the next batch, in the batch's
 * transaction (at most STATE_ROWS per batch; a bounded scan per batch finds
 * them). When the stage first sees a device, it reads the device's saved
 * states from the store, once, and each series it then creates resumes
 * from its state instead of warming up. That read is a store call in the
 * middle of a batch, like the registry's read of a device it does not
 * know, and happens at the same moment (a device new to this worker); it
 * costs one indexed query per device per worker life, nothing per point.
 * In a rebalance the engine calls handover, and every series that learned
 * since its last save is saved at once: the worker that takes the
 * partition over resumes exactly. After a worker dies, its successor
 * loses at most alert.detector_state_save_s of a series' learning, not
 * its baseline (docs/scaling.md, item 4 of "What breaks first").
 *
 * The device's type, which rules can target, comes with every message
 * from the ingest's registry (struct mdx_device_ref); the stage never asks
 * the store mid-batch. When it changes, the device's series pick their
 * rules again.
 *
 * Sources of alerts (the alert key's "source"):
 *   rule:<name>    a threshold rule fired (rules.c)
 *   detector       a detector score >= alert.detector_threshold after warm-up
 *   stale          a sensor silent for alert.stale_intervals of its usual
 *                  interval while its device goes on sending others
 *   device         the device-level detector's stage (detect_device_stage.h),
 *                  through mdx_alerting_detected()
 *   safety:<flag>  the device reported emergency_stop, overload_detected,
 *                  temperature_ok false or door_closed false: critical at once,
 *                  resolved when the device reports the flag normal again
 * Rule, detector and stale alerts resolve after alert.auto_resolve_s of
 * normal points (point time). A detector alert is normal once the
 * detector's episode is over (its score has calmed down). A detector score
 * alerts only if the value is also alert.detector_min_change (relative)
 * away from the detector's slow baseline: statistically unusual and large
 * enough to matter.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alert/alert_int.h"
#include "alert/alerting_int.h"
#include "base/htab.h"
#include "modax/alerting.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/detect.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "alert"
#define RULES_PER_SERIES 8     /* rules evaluated per series; more are counted */
#define SENSORS_PER_DEVICE 1024
#define BATCH_ALERTS 2048      /* alert changes per store batch */
#define STALE_MIN_POINTS 10    /* a series needs this many points before it can go stale */
#define STATE_ROWS 256         /* detector states saved per store batch */
#define STATE_SCAN 8192        /* series looked at per batch for states due */
#define STATE_RECHECK_US 100000 /* a scan that found nothing due waits at least this */

const struct mdx_conf_key mdx_alerting_conf_keys[] = {
    MDX_CONF_BOOL("alert.detect", "true", struct mdx_alerting_conf, detect,
                  "Run the anomaly detector on every stored point"),
    MDX_CONF_BOOL("alert.rules", "true", struct mdx_alerting_conf, rules,
                  "Evaluate the tenants' threshold rules (modax rule) on every stored point"),
    MDX_CONF_DBL("alert.detector_threshold", "0.9", 0.5, 1.0, struct mdx_alerting_conf,
                 detector_threshold, "Detector score from which an anomaly alert opens"),
    MDX_CONF_DBL("alert.detector_min_change", "0.02", 0.0, 10.0, struct mdx_alerting_conf,
                 detector_min_change,
                 "Detector alerts need the value this far from the learned level (0.02 = 2 %)"),
    MDX_CONF_INT("alert.detector_warmup", "300", 30, 1000000, struct mdx_alerting_conf,
                 detector_warmup, "Points a series needs before its detector may raise alerts"),
    MDX_CONF_INT("alert.series_max", "100000", 16, 10000000, struct mdx_alerting_conf, series_max,
                 "(tenant, device, sensor) series with detector state (~560 bytes each)"),
    MDX_CONF_INT("alert.alerts_max", "50000", 16, 10000000, struct mdx_alerting_conf, alerts_max,
                 "Alerts tracked, active or recently resolved; more are counted and logged"),
    MDX_CONF_INT("alert.auto_resolve_s", "300", 0, 604800, struct mdx_alerting_conf,
                 auto_resolve_s, "A series normal this long (point time) resolves its alert"),
    MDX_CONF_INT("alert.flap_s", "600", 0, 604800, struct mdx_alerting_conf, flap_s,
                 "An alert raised again within this of its resolve re-opens (flap suppression)"),
    MDX_CONF_INT("alert.stale_intervals", "30", 0, 1000000, struct mdx_alerting_conf,
                 stale_intervals,
                 "A sensor silent this many of its usual intervals while its device sends: alert"),
    MDX_CONF_INT("alert.reload_s", "5", 1, 3600, struct mdx_alerting_conf, reload_s,
                 "Re-read rules and operators' acks/resolves from the store this often"),
    MDX_CONF_INT("alert.detector_state_save_s", "-1", -1, 86400, struct mdx_alerting_conf,
                 detector_state_save_s,
                 "Save a learning series' detector state with a batch this often, so the worker "
                 "that takes its partition over resumes it (0 never; -1: 30 with Kafka or "
                 "Pub/Sub, never with MQTT)"),
    MDX_CONF_END,
};

struct rule_slot {
    const struct mdx_rule *rule;  /* in a->rules */
    char name[MDX_NAME_MAX + 1];
    struct mdx_rule_state st;
    int alerting;                 /* an alert of this rule is active, as far as we know */
};

struct dev;

struct series {
    struct dev *dev;
    struct rule_slot *slots;      /* n_slots of them; NULL when no rule applies */
    uint32_t rules_gen;           /* generation of the rule set the slots are for; 0: none */
    uint8_t n_slots;
    uint8_t det_alert, stale_alert;
    uint8_t sensor_len;
    uint8_t state_dirty;          /* the detector learned since its state was last saved */
    int64_t state_saved_us;       /* when its state was last saved (or the series created) */
    uint32_t n;                   /* points seen (saturates) */
    int64_t last_ts;              /* newest point time */
    double interval_ms;           /* usual time between points */
    char sensor[MDX_NAME_MAX + 1];
    struct mdx_detector det;
};

struct dev {
    struct mdx_hnode node;        /* first member: a node pointer is the device */
    struct dev *next_all;         /* list of every device, to free them */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    char type[MDX_NAME_MAX + 1];  /* as the registry last said */
    int64_t clock_ms;             /* newest point time of any of its sensors */
    struct series **series;
    uint32_t n, cursor;
    size_t cap;
    struct mdx_saved_detector *saved; /* saved states its series have not taken yet; owned */
    size_t n_saved;
};

struct mdx_alerting {
    struct mdx_alerting_conf conf;
    struct mdx_store *store;
    struct mdx_dispatch *dispatch;
    mdx_publish_fn publish;
    void *publish_arg;
    struct mdx_alert_mgr *mgr;
    struct mdx_rules *rules;
    uint32_t rules_gen;           /* starts at 1: a series with 0 picks its rules */
    int64_t next_reload_us;
    struct mdx_htab devs;         /* struct dev by (tenant, device) */
    struct dev *all_devs;         /* the same, listed */
    struct series **all;          /* every series */
    size_t n_series, n_devs;
    struct mdx_alert *batch;      /* changes in the batch being committed */
    size_t n_batch;
    int64_t state_save_us;        /* alert.detector_state_save_s in us; 0: never */
    struct mdx_state_batch states; /* states in the batch being committed */
    size_t n_dirty;               /* series with state_dirty */
    size_t state_cursor;          /* where the next scan for due states starts in 'all' */
    size_t state_lap;             /* series looked at in the current lap of scans */
    int64_t state_lap_due_us;     /* earliest due time of series dirty and not saved in the lap */
    int64_t state_next_us;        /* no state is due before this */
    int state_all;                /* handing devices over: every dirty state is due now */
    struct mdx_alerting_stats st;
    pthread_mutex_t shared_mu;    /* guards 'shared' */
    struct mdx_alerting_stats shared; /* copy of the counters for other threads */
};

static void share_stats(struct mdx_alerting *a);
static int states_due(const struct mdx_alerting *a, int64_t now);

static void clear_series(struct mdx_alerting *a)
{
    struct dev *d, *next;

    for (size_t i = 0; i < a->n_series; i++) {
        mdx_free(a->all[i]->slots);
        mdx_free(a->all[i]);
    }
    for (d = a->all_devs; d != NULL; d = next) {
        next = d->next_all;
        mdx_free(d->series);
        mdx_free(d->saved);
        mdx_free(d);
    }
    a->all_devs = NULL;
    mdx_htab_clear(&a->devs);
    a->n_series = a->n_devs = 0;
    a->n_dirty = a->state_cursor = a->state_lap = 0;
    a->state_all = 0;
    a->state_next_us = a->state_lap_due_us = INT64_MAX;
    a->states.n = 0; /* cleared between batches only: no batch holds its rows */
}

/* ---- publishing ---- */

/* Hands one stored alert change to the sinks and publishes it. */
static void notify(void *arg, const struct mdx_alert *al)
{
    struct mdx_alerting *a = arg;
    char topic[16 + 2 * MDX_NAME_MAX];
    char *json;

    if (a->dispatch != NULL) {
        mdx_dispatch_submit(a->dispatch, al);
    }
    if (a->publish == NULL) {
        return;
    }
    json = mdx_alert_json(al);
    if (json == NULL) {
        a->st.publish_dropped++;
        return;
    }
    snprintf(topic, sizeof(topic), "modax/%s/%s/alerts", al->tenant, al->device);
    if (a->publish(a->publish_arg, topic, json, strlen(json), 1, 0) == MDX_OK) {
        a->st.published++;
    } else {
        /* Not connected, or too much in flight: the store and the sinks still have it. */
        a->st.publish_dropped++;
        mdx_log_warn(MOD, "alert not published on MQTT (not connected or backlog full)",
                     MDX_F_STR("tenant", al->tenant), MDX_F_STR("device", al->device),
                     MDX_F_STR("topic", topic));
    }
    cJSON_free(json);
}

/* ---- rules and the store ---- */

static void reload(struct mdx_alerting *a)
{
    int rc = MDX_OK;

    if (a->conf.rules) {
        struct mdx_rules *r = mdx_rules_load(a->store, &rc);
        if (r == NULL) {
            a->st.store_errors++;
            mdx_log_warn(MOD, "cannot read the rules; keeping the ones loaded", MDX_F_ERR(rc));
        } else if (a->rules != NULL && mdx_rules_equal(r, a->rules)) {
            mdx_rules_free(r);
        } else {
            /* Slots point into the old set; the new generation makes each series rebuild them. */
            struct mdx_rules *old = a->rules;
            a->rules = r;
            a->rules_gen++;
            for (size_t i = 0; i < a->n_series; i++) {
                for (uint8_t k = 0; k < a->all[i]->n_slots; k++) {
                    a->all[i]->slots[k].rule = NULL;
                }
            }
            mdx_rules_free(old);
            mdx_log_debug(MOD, "rules loaded", MDX_F_INT("generation", a->rules_gen));
        }
    }
    rc = mdx_alert_mgr_sync(a->mgr, a->store, notify, a);
    if (rc != MDX_OK) {
        a->st.store_errors++;
        mdx_log_warn(MOD, "cannot read the active alerts; retrying", MDX_F_ERR(rc));
    }
}

static void rule_source(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "rule:%s", name);
}

/* Rebuilds the rule slots of 's' for the current rule set, keeping states by rule name. */
static void rebuild_slots(struct mdx_alerting *a, struct series *s)
{
    const struct mdx_rule *found[RULES_PER_SERIES];
    struct rule_slot *slots = NULL;
    struct dev *d = s->dev;
    char src[96];
    size_t n;

    n = mdx_rules_for(a->rules, d->tenant, d->device, d->type, s->sensor, found,
                      RULES_PER_SERIES);
    if (n > RULES_PER_SERIES) {
        a->st.rules_overflow += n - RULES_PER_SERIES;
        mdx_log_warn(MOD, "too many rules on one sensor; some are not evaluated",
                     MDX_F_STR("tenant", d->tenant), MDX_F_STR("device", d->device),
                     MDX_F_STR("sensor", s->sensor), MDX_F_INT("rules", n));
        n = RULES_PER_SERIES;
    }
    if (n > 0) {
        slots = mdx_calloc(n, sizeof(*slots));
        if (slots == NULL) {
            return; /* keep the old ones; tried again next point */
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct rule_slot *sl = &slots[i];
        uint8_t k;

        sl->rule = found[i];
        memcpy(sl->name, found[i]->name, sizeof(sl->name));
        for (k = 0; k < s->n_slots && strcmp(s->slots[k].name, sl->name) != 0; k++) {
        }
        if (k < s->n_slots) {
            sl->st = s->slots[k].st;
            sl->alerting = s->slots[k].alerting;
            s->slots[k].name[0] = '\0'; /* taken over */
        } else {
            struct mdx_alert_key key = {d->tenant, d->device, src, s->sensor};
            rule_source(src, sizeof(src), sl->name);
            mdx_rule_state_init(&sl->st);
            sl->alerting = mdx_alert_mgr_active(a->mgr, &key);
        }
    }
    /* A rule that no longer applies takes its alert with it. */
    for (uint8_t k = 0; k < s->n_slots; k++) {
        if (s->slots[k].name[0] != '\0' && s->slots[k].alerting) {
            struct mdx_alert_key key = {d->tenant, d->device, src, s->sensor};
            rule_source(src, sizeof(src), s->slots[k].name);
            mdx_alert_mgr_resolve(a->mgr, &key, s->last_ts, "rule removed or changed");
        }
    }
    mdx_free(s->slots);
    s->slots = slots;
    s->n_slots = (uint8_t)n;
    s->rules_gen = a->rules_gen;
}

/* ---- series ---- */

/* A device new to the stage: the saved detector states of its series (once). */
static void load_saved(struct mdx_alerting *a, struct dev *d)
{
    int rc = mdx_saved_detectors_load(a->store, d->tenant, d->device, SENSORS_PER_DEVICE,
                                      &d->saved, &d->n_saved, &a->st.detector_states_refused);

    if (rc != MDX_OK) {
        a->st.store_errors++;
        mdx_log_warn(MOD, "cannot read the device's saved detector states; its detectors learn "
                          "from scratch",
                     MDX_F_ERR(rc), MDX_F_STR("tenant", d->tenant),
                     MDX_F_STR("device", d->device));
    }
}

/* A new series of 'd' resumes from its saved state, if the device has one for it. */
static void resume_saved(struct mdx_alerting *a, struct dev *d, struct series *s)
{
    for (size_t i = 0; i < d->n_saved; i++) {
        if (strcmp(d->saved[i].sensor, s->sensor) != 0) {
            continue;
        }
        s->det = d->saved[i].det;
        s->n = s->det.n;
        s->interval_ms = s->det.interval_ms;
        a->st.detector_states_loaded++;
        d->saved[i] = d->saved[--d->n_saved];
        if (d->n_saved == 0) {
            mdx_free(d->saved);
            d->saved = NULL;
        }
        return;
    }
}

/* The device's entry, created if new (NULL when the table is full or out of memory). */
static struct dev *dev_get(struct mdx_alerting *a, const struct mdx_device_ref *ref)
{
    uint64_t h = mdx_hash_bytes(mdx_hash_bytes(0, ref->tenant, strlen(ref->tenant) + 1),
                                ref->device, strlen(ref->device));
    struct dev *d;

    for (struct mdx_hnode *n = mdx_htab_bucket(&a->devs, h); n != NULL; n = n->next) {
        d = (struct dev *)n;
        if (n->hash == h && strcmp(d->device, ref->device) == 0 &&
            strcmp(d->tenant, ref->tenant) == 0) {
            return d;
        }
    }
    if (a->n_devs >= (size_t)a->conf.series_max) {
        return NULL; /* the caller empties the tables */
    }
    d = mdx_calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->node.hash = h;
    snprintf(d->tenant, sizeof(d->tenant), "%s", ref->tenant);
    snprintf(d->device, sizeof(d->device), "%s", ref->device);
    snprintf(d->type, sizeof(d->type), "%s", ref->type);
    d->clock_ms = INT64_MIN;
    mdx_htab_insert(&a->devs, &d->node);
    d->next_all = a->all_devs;
    a->all_devs = d;
    a->n_devs++;
    if (a->state_save_us > 0) {
        load_saved(a, d);
    }
    return d;
}

/* The registry says the device's type changed: its series pick their rules again. */
static void dev_set_type(struct dev *d, const char *type)
{
    snprintf(d->type, sizeof(d->type), "%s", type);
    for (uint32_t i = 0; i < d->n; i++) {
        d->series[i]->rules_gen = 0;
    }
}

static struct series *series_find(struct dev *d, const struct mdx_point *p)
{
    for (uint32_t i = 0; i < d->n; i++) {
        uint32_t at = d->cursor + i < d->n ? d->cursor + i : d->cursor + i - d->n;
        struct series *s = d->series[at];

        if (s->sensor_len == p->sensor_len && memcmp(s->sensor, p->sensor, p->sensor_len) == 0) {
            d->cursor = at + 1 < d->n ? at + 1 : 0;
            return s;
        }
    }
    return NULL;
}

static struct series *series_new(struct mdx_alerting *a, struct dev *d, const struct mdx_point *p)
{
    struct series *s, **v;
    char src[16];

    if (d->n >= SENSORS_PER_DEVICE) {
        return NULL;
    }
    v = mdx_grow(d->series, &d->cap, d->n + 1, sizeof(*v), 8);
    if (v == NULL) {
        return NULL;
    }
    d->series = v;
    s = mdx_calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->dev = d;
    s->sensor_len = p->sensor_len;
    memcpy(s->sensor, p->sensor, p->sensor_len);
    s->last_ts = INT64_MIN;
    s->state_saved_us = mdx_mono_us();
    mdx_detector_init(&s->det);
    if (d->n_saved > 0) {
        resume_saved(a, d, s);
    }
    /* After the tables were emptied, alerts of this series may still be active. */
    {
        struct mdx_alert_key key = {d->tenant, d->device, src, s->sensor};
        snprintf(src, sizeof(src), "detector");
        s->det_alert = (uint8_t)mdx_alert_mgr_active(a->mgr, &key);
        snprintf(src, sizeof(src), "stale");
        s->stale_alert = (uint8_t)mdx_alert_mgr_active(a->mgr, &key);
    }
    d->series[d->n++] = s;
    a->all[a->n_series++] = s;
    a->st.series = a->n_series;
    return s;
}

/* The series of point 'p' of device '*dp', created if new; may empty the tables (and *dp). */
static struct series *series_get(struct mdx_alerting *a, struct dev **dp,
                                 const struct mdx_device_ref *ref, const struct mdx_point *p)
{
    struct series *s;

    if (*dp != NULL && (s = series_find(*dp, p)) != NULL) {
        return s;
    }
    if (*dp == NULL || a->n_series >= (size_t)a->conf.series_max) {
        if (a->n_series >= (size_t)a->conf.series_max || a->n_devs >= (size_t)a->conf.series_max) {
            a->st.series_cleared++;
            mdx_log_warn(MOD, "series table full; emptied, detectors learn again "
                              "(raise alert.series_max)",
                         MDX_F_INT("series", a->n_series), MDX_F_INT("max", a->conf.series_max));
            clear_series(a);
        }
        *dp = dev_get(a, ref);
        if (*dp == NULL) {
            return NULL;
        }
    }
    return series_new(a, *dp, p);
}

/* ---- per point ---- */

static void eval_rules(struct mdx_alerting *a, struct series *s, const struct mdx_point *p)
{
    struct dev *d = s->dev;
    char src[96];
    struct mdx_alert_key key = {d->tenant, d->device, src, s->sensor};

    if (s->rules_gen != a->rules_gen) {
        rebuild_slots(a, s);
    }
    for (uint8_t i = 0; i < s->n_slots; i++) {
        struct rule_slot *sl = &s->slots[i];
        enum mdx_rule_verdict v;

        if (sl->rule == NULL) {
            continue;
        }
        v = mdx_rule_eval(sl->rule, &sl->st, p->ts_ms, p->value);
        if (v == MDX_RULE_FIRE) {
            char summary[256];
            const struct mdx_rule *r = sl->rule;

            rule_source(src, sizeof(src), sl->name);
            snprintf(summary, sizeof(summary), "%s %g %s %g for %lld s", s->sensor, p->value,
                     mdx_cmp_symbol(r->cmp), r->threshold,
                     (long long)((p->ts_ms - sl->st.since_ms) / 1000));
            sl->alerting = mdx_alert_mgr_raise(a->mgr, &key, r->severity, p->ts_ms, p->value,
                                               0.0, summary);
        } else if (!sl->alerting) {
            if (v == MDX_RULE_FIRING) {
                /* Its alert was resolved (by an operator) while still firing: count again. */
                mdx_rule_state_init(&sl->st);
            }
        } else {
            rule_source(src, sizeof(src), sl->name);
            if (v == MDX_RULE_FIRING || v == MDX_RULE_PENDING) {
                sl->alerting = mdx_alert_mgr_hold(a->mgr, &key, p->ts_ms);
                if (!sl->alerting) {
                    mdx_rule_state_init(&sl->st);
                }
            } else {
                sl->alerting = mdx_alert_mgr_normal(a->mgr, &key, p->ts_ms);
            }
        }
    }
}

/* The detector of 's' learned: its state is due alert.detector_state_save_s after its last save. */
static void mark_dirty(struct mdx_alerting *a, struct series *s)
{
    int64_t due = s->state_saved_us + a->state_save_us;

    s->state_dirty = 1;
    a->n_dirty++;
    if (due < a->state_next_us) {
        a->state_next_us = due;
    }
    if (due < a->state_lap_due_us) {
        a->state_lap_due_us = due; /* the current lap may have passed it already */
    }
}

static void eval_detector(struct mdx_alerting *a, struct series *s, const struct mdx_point *p)
{
    struct dev *d = s->dev;
    struct mdx_alert_key key = {d->tenant, d->device, "detector", s->sensor};
    double score = mdx_detector_push(&s->det, p->ts_ms, p->value);

    a->st.points_scored++;
    if (!s->state_dirty) {
        mark_dirty(a, s);
    }
    /*
     * A high score on a very smooth series can mean a change too small to
     * matter (a machine's temperature following the day by a degree): the
     * value must also stand apart from the series' learned level. The
     * detector reports an anomaly at its onset and damps the rest of its
     * episode, so an episode that reached the threshold (its peak) alerts
     * as soon as the value has moved that far: an overheat is scored at its
     * first tenth of a degree, and alerts when it has become large.
     */
    if ((double)s->det.peak > score) {
        score = s->det.peak;
    }
    /* The peak is a float: the threshold is compared at that precision (0.9f < 0.9). */
    if (score >= (double)(float)a->conf.detector_threshold &&
        s->n > (uint32_t)a->conf.detector_warmup &&
        fabs(p->value - s->det.mean) >= a->conf.detector_min_change * fabs(s->det.mean)) {
        char summary[256];

        snprintf(summary, sizeof(summary), "anomaly on %s: score %.3f at value %g", s->sensor,
                 score, p->value);
        s->det_alert = (uint8_t)mdx_alert_mgr_raise(a->mgr, &key, MDX_SEVERITY_WARNING, p->ts_ms,
                                                    p->value, score, summary);
    } else if (s->det_alert) {
        /* Abnormal while the detector's episode lasts; normal once it has calmed down. */
        if (s->det.peak > 0.0) {
            s->det_alert = (uint8_t)mdx_alert_mgr_hold(a->mgr, &key, p->ts_ms);
        } else {
            s->det_alert = (uint8_t)mdx_alert_mgr_normal(a->mgr, &key, p->ts_ms);
        }
    }
}

static void track_time(struct series *s, const struct mdx_point *p)
{
    if (s->last_ts != INT64_MIN && p->ts_ms > s->last_ts) {
        double dt = (double)(p->ts_ms - s->last_ts);

        if (s->interval_ms <= 0.0) {
            s->interval_ms = dt;
        } else if (dt < 4.0 * s->interval_ms) {
            s->interval_ms += 0.1 * (dt - s->interval_ms);
        } else {
            /* A gap is not an interval; a lasting slower rate is still learned, slowly. */
            double capped = dt < 10.0 * s->interval_ms ? dt : 10.0 * s->interval_ms;
            s->interval_ms += 0.02 * (capped - s->interval_ms);
        }
    }
    if (p->ts_ms > s->last_ts) {
        s->last_ts = p->ts_ms;
    }
    if (p->ts_ms > s->dev->clock_ms) {
        s->dev->clock_ms = p->ts_ms;
    }
    if (s->n < UINT32_MAX) {
        s->n++;
    }
}

/*
 * Checks the other sensors of a device that just sent: one silent for
 * alert.stale_intervals of its usual interval, by the device's own clock,
 * raises "stale". O(sensors of the device) per message, so O(1) per point
 * when a message carries most of them.
 */
static void check_silent(struct mdx_alerting *a, struct dev *d)
{
    for (uint32_t i = 0; i < d->n; i++) {
        struct series *s = d->series[i];
        double silent;

        if (s->stale_alert || s->n < STALE_MIN_POINTS || s->interval_ms <= 0.0) {
            continue;
        }
        silent = (double)(d->clock_ms - s->last_ts);
        if (silent > (double)a->conf.stale_intervals * s->interval_ms) {
            struct mdx_alert_key key = {d->tenant, d->device, "stale", s->sensor};
            char summary[256];

            snprintf(summary, sizeof(summary),
                     "%s silent for %.0f s while the device sends (usual interval %.1f s)",
                     s->sensor, silent / 1000.0, s->interval_ms / 1000.0);
            s->stale_alert = (uint8_t)mdx_alert_mgr_raise(a->mgr, &key, MDX_SEVERITY_WARNING,
                                                          d->clock_ms, NAN, 0.0, summary);
        }
    }
}

/* The validated points of one message; O(1) per point. */
static void alerting_on_points(void *ctx, const struct mdx_point_group *g,
                               const struct mdx_device_ref *ref)
{
    struct mdx_alerting *a = ctx;
    struct dev *d = dev_get(a, ref);

    if (d != NULL && strcmp(d->type, ref->type) != 0) {
        dev_set_type(d, ref->type);
    }
    for (size_t i = 0; i < g->n; i++) {
        const struct mdx_point *p = &g->points[i];
        struct series *s = series_get(a, &d, ref, p);

        if (s == NULL) {
            continue;
        }
        track_time(s, p);
        if (s->stale_alert) {
            struct mdx_alert_key key = {d->tenant, d->device, "stale", s->sensor};
            s->stale_alert = (uint8_t)mdx_alert_mgr_normal(a->mgr, &key, p->ts_ms);
        }
        if (a->conf.detect) {
            eval_detector(a, s, p);
        }
        if (a->conf.rules && a->rules != NULL) {
            eval_rules(a, s, p);
        }
    }
    if (d != NULL && a->conf.stale_intervals > 0) {
        check_silent(a, d);
    }
}

/* Safety flags and the value that is out of normal. */
static const struct {
    const char *flag;
    int bad;
} safety_flags[] = {
    {"emergency_stop", 1},
    {"overload_detected", 1},
    {"temperature_ok", 0},
    {"door_closed", 0},
};

/* One event; safety flags out of normal raise critical alerts at once. */
static void alerting_on_event(void *ctx, const struct mdx_event_rec *ev,
                              const struct mdx_device_ref *ref)
{
    struct mdx_alerting *a = ctx;
    const struct mdx_event *e = ev->event;
    cJSON *root;

    (void)ref;

    if (e->kind != MDX_MSG_SAFETY) {
        return;
    }
    root = cJSON_Parse(e->body);
    if (root == NULL) {
        return; /* the decoder checked it; only out of memory gets here */
    }
    for (size_t i = 0; i < sizeof(safety_flags) / sizeof(safety_flags[0]); i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, safety_flags[i].flag);
        char src[64], summary[160];
        struct mdx_alert_key key = {ev->tenant, ev->device, src, ""};

        if (!cJSON_IsBool(item)) {
            continue;
        }
        snprintf(src, sizeof(src), "safety:%s", safety_flags[i].flag);
        if (cJSON_IsTrue(item) == safety_flags[i].bad) {
            snprintf(summary, sizeof(summary), "device reports %s %s", safety_flags[i].flag,
                     safety_flags[i].bad ? "true" : "false");
            mdx_alert_mgr_raise(a->mgr, &key, MDX_SEVERITY_CRITICAL, e->ts_ms,
                                safety_flags[i].bad ? 1.0 : 0.0, 0.0, summary);
        } else {
            snprintf(summary, sizeof(summary), "device reports %s %s again", safety_flags[i].flag,
                     safety_flags[i].bad ? "false" : "true");
            mdx_alert_mgr_resolve(a->mgr, &key, e->ts_ms, summary);
        }
    }
    cJSON_Delete(root);
}

/* Reloads rules and operators' acks and resolves when alert.reload_s has passed. */
static void alerting_tick(void *ctx)
{
    struct mdx_alerting *a = ctx;
    int64_t now = mdx_mono_us();

    if (mdx_due(now, &a->next_reload_us, a->conf.reload_s * 1000000LL)) {
        reload(a);
    }
    share_stats(a);
}

static int alerting_pending(void *ctx)
{
    const struct mdx_alerting *a = ctx;

    return mdx_alert_mgr_pending(a->mgr) > 0 ||
           (a->state_save_us > 0 && a->n_dirty > 0 && states_due(a, mdx_mono_us()));
}

/* Non-zero when a detector state may be due for saving at 'now' (us). */
static int states_due(const struct mdx_alerting *a, int64_t now)
{
    return a->state_save_us > 0 && a->n_dirty > 0 && (a->state_all || now >= a->state_next_us);
}

/*
 * Collects detector states due for saving into a->states: a scan of at
 * most STATE_SCAN series from where the last one stopped. A lap over all
 * series that found nothing more to save waits until the earliest due
 * time it saw (or a newly dirty series' due time, mark_dirty()).
 */
static void collect_states(struct mdx_alerting *a, int64_t now)
{
    int64_t wall = mdx_now_ms();
    size_t looked = 0;

    while (looked < STATE_SCAN && a->n_series > 0) {
        struct series *s;

        if (a->state_cursor >= a->n_series) {
            a->state_cursor = 0;
        }
        s = a->all[a->state_cursor];
        if (s->state_dirty) {
            int64_t due = s->state_saved_us + a->state_save_us;

            if (now >= due || a->state_all) {
                struct dev *d = s->dev;
                if (!mdx_state_batch_add(&a->states, d->tenant, d->device, s->sensor, &s->det, s,
                                         wall)) {
                    break; /* full: the rest with the next batch, from this series on */
                }
                s->state_dirty = 0;
                a->n_dirty--;
            } else if (due < a->state_lap_due_us) {
                a->state_lap_due_us = due;
            }
        }
        a->state_cursor++;
        looked++;
        if (a->n_dirty == 0) {
            a->state_all = 0; /* handed over */
        }
        if (++a->state_lap >= a->n_series) {
            /* A whole lap: nothing else is due before the earliest it saw. */
            a->state_next_us = a->state_lap_due_us;
            a->state_lap = 0;
            a->state_lap_due_us = INT64_MAX;
            if (a->state_next_us < now + STATE_RECHECK_US) {
                a->state_next_us = now + STATE_RECHECK_US;
            }
            return;
        }
    }
    a->state_next_us = now; /* the lap goes on with the next batch */
}

/*
 * Alert changes commit with the points that caused them: at most
 * BATCH_ALERTS per batch, the rest with the next. The store sets the ids
 * of new ones in a->batch, which stays ours until after_commit. Detector
 * states due for saving go with the batch too (collect_states()).
 */
static void alerting_before_commit(void *ctx, struct mdx_batch *b)
{
    struct mdx_alerting *a = ctx;

    if (a->n_batch == 0) {
        a->n_batch = mdx_alert_mgr_take(a->mgr, a->batch, BATCH_ALERTS);
    }
    b->alerts = a->batch;
    b->n_alerts = a->n_batch;
    if (a->states.n == 0 && a->state_save_us > 0 && a->n_dirty > 0) {
        int64_t now = mdx_mono_us();
        if (states_due(a, now)) {
            collect_states(a, now);
        }
    }
    b->detector_states = a->states.rows;
    b->n_detector_states = a->states.n;
}

/*
 * Devices move to another worker (a rebalance): every series that learned
 * since its last save is saved with the next batches, whatever its age, so
 * that the next owner resumes exactly where this worker stopped.
 */
static void alerting_handover(void *ctx)
{
    struct mdx_alerting *a = ctx;

    a->state_all = a->state_save_us > 0 && a->n_dirty > 0;
}

/* Stored: to the sinks and MQTT. */
static void alerting_after_commit(void *ctx)
{
    struct mdx_alerting *a = ctx;

    mdx_alert_mgr_stored(a->mgr, a->batch, a->n_batch);
    for (size_t i = 0; i < a->n_batch; i++) {
        notify(a, &a->batch[i]);
    }
    a->n_batch = 0;
    if (a->states.n > 0) {
        int64_t now = mdx_mono_us();
        for (size_t i = 0; i < a->states.n; i++) {
            ((struct series *)a->states.owners[i])->state_saved_us = now;
        }
        a->st.detector_states_saved += a->states.n;
        a->states.n = 0;
    }
    share_stats(a);
}

struct mdx_alerting *mdx_alerting_create(const struct mdx_alerting_conf *conf,
                                         struct mdx_store *store, struct mdx_dispatch *dispatch,
                                         mdx_publish_fn publish, void *publish_arg, int *err)
{
    struct mdx_alerting *a = mdx_calloc(1, sizeof(*a));
    int rc;

    *err = MDX_ENOMEM;
    if (a == NULL) {
        return NULL;
    }
    a->conf = *conf;
    pthread_mutex_init(&a->shared_mu, NULL);
    a->store = store;
    a->dispatch = dispatch;
    a->publish = publish;
    a->publish_arg = publish_arg;
    a->rules_gen = 1;
    a->state_save_us = conf->detector_state_save_s > 0 ? conf->detector_state_save_s * 1000000LL
                                                       : 0;
    a->state_next_us = INT64_MAX;
    a->state_lap_due_us = INT64_MAX;
    rc = mdx_htab_init_for(&a->devs, (size_t)conf->series_max, (size_t)1 << 22);
    if (rc == MDX_OK && a->state_save_us > 0) {
        rc = mdx_state_batch_init(&a->states, STATE_ROWS);
    }
    a->all = mdx_calloc((size_t)conf->series_max, sizeof(*a->all));
    a->batch = mdx_calloc(BATCH_ALERTS, sizeof(*a->batch));
    a->mgr = mdx_alert_mgr_create((size_t)conf->alerts_max, conf->auto_resolve_s * 1000,
                                  conf->flap_s * 1000);
    if (rc != MDX_OK || a->all == NULL || a->batch == NULL || a->mgr == NULL) {
        mdx_alerting_destroy(a);
        return NULL;
    }
    reload(a);
    a->next_reload_us = mdx_mono_us() + conf->reload_s * 1000000LL;
    *err = MDX_OK;
    return a;
}

void mdx_alerting_destroy(struct mdx_alerting *a)
{
    if (a == NULL) {
        return;
    }
    if (a->all != NULL) {
        clear_series(a);
    }
    mdx_htab_fini(&a->devs);
    mdx_free(a->all);
    mdx_free(a->batch);
    mdx_state_batch_fini(&a->states);
    mdx_alert_mgr_destroy(a->mgr);
    mdx_rules_free(a->rules);
    pthread_mutex_destroy(&a->shared_mu);
    mdx_free(a);
}

void mdx_alerting_stats(const struct mdx_alerting *a, struct mdx_alerting_stats *out)
{
    struct mdx_alert_mgr_stats ms;

    *out = a->st;
    mdx_alert_mgr_stats(a->mgr, &ms);
    out->series = a->n_series;
    out->alerts_active = ms.active;
    out->opened = ms.opened;
    out->resolved = ms.resolved;
    out->reopened = ms.reopened;
    out->alerts_overflow = ms.overflow;
}

static void share_stats(struct mdx_alerting *a)
{
    struct mdx_alerting_stats s;

    mdx_alerting_stats(a, &s);
    pthread_mutex_lock(&a->shared_mu);
    a->shared = s;
    pthread_mutex_unlock(&a->shared_mu);
}

void mdx_alerting_stats_shared(struct mdx_alerting *a, struct mdx_alerting_stats *out)
{
    pthread_mutex_lock(&a->shared_mu);
    *out = a->shared;
    pthread_mutex_unlock(&a->shared_mu);
}

void mdx_alerting_external(struct mdx_alerting *a, const char *tenant, const char *device,
                           const char *source, int severity, int64_t ts_ms, double value, int bad,
                           const char *summary)
{
    struct mdx_alert_key key = {tenant, device, source, ""};

    if (bad) {
        mdx_alert_mgr_raise(a->mgr, &key, severity, ts_ms, value, 0.0, summary);
    } else {
        mdx_alert_mgr_resolve(a->mgr, &key, ts_ms, summary);
    }
}

int mdx_alerting_detected(struct mdx_alerting *a, const char *tenant, const char *device,
                          const char *source, enum mdx_alerting_verdict verdict, int64_t ts_ms,
                          double value, double score, const char *summary)
{
    struct mdx_alert_key key = {tenant, device, source, ""};

    switch (verdict) {
    case MDX_ALERTING_RAISE:
        return mdx_alert_mgr_raise(a->mgr, &key, MDX_SEVERITY_WARNING, ts_ms, value, score,
                                   summary);
    case MDX_ALERTING_HOLD:
        return mdx_alert_mgr_hold(a->mgr, &key, ts_ms);
    case MDX_ALERTING_NORMAL:
        return mdx_alert_mgr_normal(a->mgr, &key, ts_ms);
    }
    return 0;
}

/* ---- the stage (stage.h) ---- */

const struct mdx_stage_ops mdx_alerting_stage = {
    .name = "alerting",
    .on_points = alerting_on_points,
    .on_event = alerting_on_event,
    .tick = alerting_tick,
    .pending = alerting_pending,
    .before_commit = alerting_before_commit,
    .after_commit = alerting_after_commit,
    .handover = alerting_handover,
};
