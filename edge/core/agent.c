/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.c - the edge agent loop; see agent.h.
 *
 * The simulated clock is the wall clock at start plus the elapsed
 * monotonic time times conf.time_scale. Reading k of a machine (k from 0)
 * closes the window ending at start + (k + 1) * interval and is made once
 * the simulated clock passes that point, so timestamps are exact and the
 * same for a seed whatever the host's speed.
 */
#include "agent.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "modax/status.h"

static void say(struct mdx_edge_agent *a, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(struct mdx_edge_agent *a, int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(a->line, sizeof(a->line), fmt, ap);
    va_end(ap);
    a->port->log(a->port->ctx, level, a->line);
}

void mdx_edge_conf_defaults(struct mdx_edge_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->tenant = "demo";
    conf->prefix = "m-";
    conf->first = 1;
    conf->machines = 20;
    conf->rate_hz = 1.0;
    conf->time_scale = 1.0;
    conf->batch = 1;
    conf->form = MDX_EDGE_FORM_CLOUD;
    conf->seed = 1;
    conf->life_s = 30.0 * 24 * 3600;
    conf->safety = 1;
    conf->ring_cap = 3600;
}

uint32_t mdx_edge_chunk(const struct mdx_edge_conf *conf)
{
    if (conf->batch > 1) {
        return conf->batch;
    }
    return conf->flush_chunk > 0 ? conf->flush_chunk : MDX_EDGE_FLUSH_CHUNK;
}

/* Payload bytes of the buffer; the outbox's scratch readings follow, aligned. */
static size_t payload_size(const struct mdx_edge_conf *conf)
{
    size_t n = (size_t)mdx_edge_chunk(conf) * MDX_PAYLOAD_READING_MAX + 16;

    return (n + 15) / 16 * 16;
}

size_t mdx_edge_agent_buf_size(const struct mdx_edge_conf *conf)
{
    return payload_size(conf) + (size_t)mdx_edge_chunk(conf) * sizeof(struct mdx_edge_reading);
}

/* Non-zero when 's' is a usable topic level: [A-Za-z0-9_.-], 'max' chars at most. */
static int topic_safe(const char *s, size_t max, int may_be_empty)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.';
        if (!ok || n >= max) {
            return 0;
        }
    }
    return n > 0 || may_be_empty;
}

static int check_conf(struct mdx_edge_agent *a, const struct mdx_edge_conf *c)
{
    if (c->tenant == NULL || !topic_safe(c->tenant, MDX_EDGE_TENANT_MAX, 0)) {
        say(a, MDX_EDGE_LOG_ERROR, "tenant must be 1-%d characters of [A-Za-z0-9_.-]",
            MDX_EDGE_TENANT_MAX);
        return MDX_EINVAL;
    }
    if (c->prefix == NULL || !topic_safe(c->prefix, MDX_EDGE_PREFIX_MAX, 1)) {
        say(a, MDX_EDGE_LOG_ERROR, "device prefix must be 0-%d characters of [A-Za-z0-9_.-]",
            MDX_EDGE_PREFIX_MAX);
        return MDX_EINVAL;
    }
    if (c->machines < 1 || c->machines > MDX_EDGE_MAX_MACHINES ||
        c->first > UINT32_MAX - c->machines) {
        say(a, MDX_EDGE_LOG_ERROR, "machines must be 1-%d", MDX_EDGE_MAX_MACHINES);
        return MDX_EINVAL;
    }
    if (!(c->rate_hz > 0 && c->rate_hz <= 1000) || !(c->time_scale > 0 && c->time_scale <= 1e6)) {
        say(a, MDX_EDGE_LOG_ERROR, "rate must be in (0, 1000] Hz, time scale in (0, 1e6]");
        return MDX_EINVAL;
    }
    if (c->batch < 1 || c->batch > MDX_EDGE_MAX_BATCH || c->ring_cap < 1 ||
        c->flush_chunk > MDX_EDGE_MAX_BATCH) {
        say(a, MDX_EDGE_LOG_ERROR, "batch must be 1-%d and the buffer at least 1 reading",
            MDX_EDGE_MAX_BATCH);
        return MDX_EINVAL;
    }
    if (!(c->life_s > 0) || !(c->duration_s >= 0) || c->nfaults > MDX_EDGE_MAX_FAULTS) {
        say(a, MDX_EDGE_LOG_ERROR, "life must be > 0, duration >= 0, at most %d faults",
            MDX_EDGE_MAX_FAULTS);
        return MDX_EINVAL;
    }
    return MDX_OK;
}

static int inject_faults(struct mdx_edge_agent *a)
{
    uint32_t i, k;

    for (i = 0; i < a->conf.nfaults; i++) {
        const struct mdx_edge_fault_spec *f = &a->conf.faults[i];

        if (f->kind < 0 || f->kind >= MDX_SIM_FAULT_COUNT || !(f->at_s >= 0)) {
            say(a, MDX_EDGE_LOG_ERROR, "fault %u: bad kind or start time", (unsigned)(i + 1));
            return MDX_EINVAL;
        }
        for (k = 0; k < a->conf.machines; k++) {
            if (strcmp(a->units[k].device_id, f->device) == 0) {
                break;
            }
        }
        if (k == a->conf.machines) {
            say(a, MDX_EDGE_LOG_ERROR, "fault for unknown device %s: this run has %s%04u to %s%04u",
                f->device, a->conf.prefix, (unsigned)a->conf.first, a->conf.prefix,
                (unsigned)(a->conf.first + a->conf.machines - 1));
            return MDX_EINVAL;
        }
        mdx_sim_inject(&a->units[k].sim, (enum mdx_sim_fault)f->kind, f->at_s);
        if (f->pace > 0) {
            mdx_sim_pace(&a->units[k].sim, (enum mdx_sim_fault)f->kind, f->pace);
        }
        if (f->until_s > f->at_s) {
            mdx_sim_repair(&a->units[k].sim, (enum mdx_sim_fault)f->kind, f->until_s);
        }
        say(a, MDX_EDGE_LOG_INFO, "fault %s on %s from simulated second %.0f to %.0f, pace %g",
            mdx_sim_fault_name((enum mdx_sim_fault)f->kind), f->device, f->at_s,
            f->until_s > f->at_s ? f->until_s : -1.0, f->pace > 0 ? f->pace : 1.0);
    }
    return MDX_OK;
}

/* First sequence number of 'u' not released: nothing before it needs sending again. */
static uint64_t unit_oldest(const struct mdx_edge_agent *a, const struct mdx_edge_unit *u)
{
    uint64_t o = u->ob_live, floor;
    uint32_t i;

    if (u->ob_backfill < u->ob_live_from && u->ob_backfill < o) {
        o = u->ob_backfill;
    }
    for (i = 0; i < u->ninflight; i++) {
        o = u->inflight[i].first < o ? u->inflight[i].first : o;
    }
    floor = u->ob_next > a->outbox.slots ? u->ob_next - a->outbox.slots : 1;
    return o < floor ? floor : o;
}

static uint64_t oldest_of(const void *arg, uint32_t m)
{
    const struct mdx_edge_agent *a = arg;

    return unit_oldest(a, &a->units[m]);
}

/* Everything unreleased of 'u' becomes backlog (at start, and after each reconnect). */
static void rewind_unit(struct mdx_edge_agent *a, struct mdx_edge_unit *u)
{
    uint64_t replay = u->ob_marks[MDX_EDGE_REPLAY_S];
    uint64_t floor = u->ob_next > a->outbox.slots ? u->ob_next - a->outbox.slots : 1;

    u->ob_backfill = unit_oldest(a, u);
    if (replay < u->ob_backfill) {
        u->ob_backfill = replay < floor ? floor : replay;
    }
    u->ob_live_from = u->ob_next;
    u->ob_live = u->ob_next;
    u->ninflight = 0;
    if (u->ob_backfill < u->ob_live_from && a->backlog_since_ms < 0) {
        a->backlog_since_ms = a->port->now_ms(a->port->ctx);
        a->backlog_done_at = a->stats.backfilled;
    }
}

/* Logs once the whole backlog went out (sent, not yet all acknowledged). */
static void check_backlog_sent(struct mdx_edge_agent *a, int64_t now)
{
    uint32_t i;

    if (a->backlog_since_ms < 0) {
        return;
    }
    for (i = 0; i < a->conf.machines; i++) {
        if (a->units[i].ob_backfill < a->units[i].ob_live_from) {
            return;
        }
    }
    say(a, MDX_EDGE_LOG_INFO, "backlog sent: %llu readings in %.1f s",
        (unsigned long long)(a->stats.backfilled - a->backlog_done_at),
        (double)(now - a->backlog_since_ms) / 1000.0);
    a->backlog_since_ms = -1;
}

/*
 * The wall clock went back since the outbox's newest reading was made (a
 * device whose clock was reset by a power cut, or corrected by NTP): the
 * readings of this run go on after that reading instead, so that every
 * series keeps rising timestamps and no new reading takes the (series, ts)
 * of one already stored, where the store would drop it as a resend.
 */
static void continue_after_the_outbox(struct mdx_edge_agent *a)
{
    struct mdx_edge_reading r;
    int64_t newest = INT64_MIN;
    uint32_t i;

    for (i = 0; i < a->conf.machines; i++) {
        const struct mdx_edge_unit *u = &a->units[i];

        if (u->ob_next > 1 && mdx_edge_outbox_get(&a->outbox, i, u->ob_next - 1, &r) == MDX_OK &&
            r.ts_ms > newest) {
            newest = r.ts_ms;
        }
    }
    if (newest > a->start_wall_ms) {
        say(a, MDX_EDGE_LOG_WARN,
            "clock: the outbox's newest reading is %.1f s after the start of this run (the "
            "clock went back); readings go on after it",
            (double)(newest - a->start_wall_ms) / 1000.0);
        a->start_wall_ms = newest;
    }
}

static int open_outbox(struct mdx_edge_agent *a)
{
    char identity[MDX_OUTBOX_IDENTITY_MAX], why[200];
    uint64_t backlog = 0;
    uint32_t i, k;
    int rc;

    snprintf(identity, sizeof(identity), "%s/%s/%u", a->conf.tenant, a->conf.prefix,
             (unsigned)a->conf.first);
    rc = mdx_edge_outbox_open(&a->outbox, a->port, identity, a->conf.machines, why, sizeof(why));
    if (rc != MDX_OK) {
        say(a, MDX_EDGE_LOG_ERROR, "outbox refused: %s; it is left as it is, not replayed", why);
        return rc;
    }
    a->backlog_since_ms = -1;
    for (i = 0; i < a->conf.machines; i++) {
        struct mdx_edge_unit *u = &a->units[i];
        uint64_t oldest;

        rc = mdx_edge_outbox_recover(&a->outbox, i, &u->ob_next, &oldest);
        if (rc != MDX_OK) {
            say(a, MDX_EDGE_LOG_ERROR, "outbox: cannot read the records of %s", u->device_id);
            return rc;
        }
        u->ob_backfill = oldest;
        u->ob_live_from = u->ob_next;
        u->ob_live = u->ob_next;
        backlog += u->ob_next - oldest;
        if (u->ob_next > oldest && a->backlog_since_ms < 0) {
            a->backlog_since_ms = a->start_mono_ms;
        }
        for (k = 0; k <= MDX_EDGE_REPLAY_S; k++) {
            u->ob_marks[k] = u->ob_next; /* a replay goes back to the start at most */
        }
    }
    continue_after_the_outbox(a);
    a->has_outbox = 1;
    a->checkpoint_ms = a->start_mono_ms;
    a->bf_refill_ms = a->start_mono_ms;
    say(a, MDX_EDGE_LOG_INFO,
        "outbox: %u readings per machine, %llu unreleased to send, %llu damaged records skipped",
        (unsigned)a->outbox.slots, (unsigned long long)backlog,
        (unsigned long long)a->outbox.damaged);
    return MDX_OK;
}

int mdx_edge_agent_init(struct mdx_edge_agent *a, const struct mdx_edge_conf *conf,
                        const struct mdx_edge_port *port, struct mdx_edge_unit *units,
                        struct mdx_edge_reading *slots, char *buf, size_t buf_cap)
{
    uint32_t i;
    int rc;

    memset(a, 0, sizeof(*a));
    a->port = port;
    rc = check_conf(a, conf);
    if (rc != MDX_OK) {
        return rc;
    }
    if (buf_cap < mdx_edge_agent_buf_size(conf)) {
        say(a, MDX_EDGE_LOG_ERROR, "payload buffer too small");
        return MDX_EINVAL;
    }
    a->conf = *conf;
    if (a->conf.profile == NULL) {
        a->conf.profile = &mdx_edge_profile_mqtt;
    }
    a->conf.link.tenant = a->conf.tenant;
    a->conf.link.form = a->conf.form == MDX_EDGE_FORM_FIELD ? "field" : "cloud";
    a->units = units;
    a->buf = buf;
    a->buf_cap = payload_size(conf);
    a->scratch = (struct mdx_edge_reading *)(void *)(buf + a->buf_cap);
    a->chunk = mdx_edge_chunk(conf);
    a->interval_ms = 1000.0 / conf->rate_hz;
    a->done_at_ms = -1;
    for (i = 0; i < conf->machines; i++) {
        struct mdx_edge_unit *u = &units[i];

        memset(u, 0, sizeof(*u));
        snprintf(u->device_id, sizeof(u->device_id), "%s%04u", conf->prefix,
                 (unsigned)(conf->first + i));
        mdx_sim_init(&u->sim, conf->seed, conf->first + i, conf->life_s);
        mdx_edge_ring_init(&u->ring, slots + (size_t)i * conf->ring_cap, conf->ring_cap);
        u->safety.door_closed = 1;
        u->safety.temperature_ok = 1;
        u->safety_sent = u->safety;
    }
    rc = inject_faults(a);
    if (rc != MDX_OK) {
        return rc;
    }
    a->start_mono_ms = port->now_ms(port->ctx);
    a->start_wall_ms = port->wall_ms(port->ctx) - (int64_t)(conf->start_ago_s * 1000.0);
    if (port->store_size != NULL) {
        return open_outbox(a);
    }
    if (conf->drain_only) {
        say(a, MDX_EDGE_LOG_ERROR, "draining needs an outbox");
        return MDX_EINVAL;
    }
    return MDX_OK;
}

/* Timestamp of reading 'k' (from 0) of any machine. */
static int64_t reading_ts(const struct mdx_edge_agent *a, uint64_t k)
{
    return a->start_wall_ms + (int64_t)llround((double)(k + 1) * a->interval_ms);
}

static void update_safety(struct mdx_edge_unit *u, const struct mdx_edge_reading *r)
{
    struct mdx_safety_state s = u->safety;

    if (r->present & MDX_EDGE_HAS_TEMPERATURE) {
        if (r->temperature > MDX_EDGE_TEMP_TRIP_C) {
            s.temperature_ok = 0;
        } else if (r->temperature < MDX_EDGE_TEMP_CLEAR_C) {
            s.temperature_ok = 1;
        }
    }
    if (r->present & MDX_EDGE_HAS_CURRENT) {
        s.overload_detected = r->current_max > MDX_EDGE_OVERLOAD_A;
    }
    s.emergency_stop = (uint8_t)(mdx_sim_fault_active(&u->sim, MDX_SIM_FAULT_ESTOP) != 0);
    if (memcmp(&s, &u->safety, sizeof(s)) != 0) {
        u->safety = s;
        u->safety_ts_ms = r->ts_ms;
    }
}

/*
 * Writes 'r' into the outbox as u's next reading. A full ring loses its
 * oldest unreleased reading (counted, reported by a status "gap").
 */
static void outbox_add(struct mdx_edge_agent *a, struct mdx_edge_unit *u,
                       const struct mdx_edge_reading *r)
{
    uint32_t m = (uint32_t)(u - a->units);

    if (u->ob_next >= a->outbox.slots + unit_oldest(a, u)) {
        uint64_t gone = u->ob_next - a->outbox.slots; /* the slot about to be overwritten */

        a->stats.dropped++;
        u->ob_gap++;
        u->ob_backfill = u->ob_backfill <= gone ? gone + 1 : u->ob_backfill;
        u->ob_live = u->ob_live <= gone ? gone + 1 : u->ob_live;
        u->ob_live_from = u->ob_live_from < u->ob_live ? u->ob_live : u->ob_live_from;
    }
    if (mdx_edge_outbox_put(&a->outbox, m, u->ob_next, r) != MDX_OK) {
        a->stats.outbox_errors++;
        a->stats.dropped++;
        say(a, MDX_EDGE_LOG_ERROR, "%s: outbox write failed: reading of %lld lost", u->device_id,
            (long long)r->ts_ms);
    }
    u->ob_next++;
    a->ob_dirty = 1;
}

static void make_reading(struct mdx_edge_agent *a, uint32_t idx)
{
    struct mdx_edge_unit *u = &a->units[idx];
    struct mdx_edge_reading r;

    memset(&r, 0, sizeof(r));
    if (mdx_sim_step(&u->sim, a->interval_ms / 1000.0, &r)) {
        a->stats.failures++;
        say(a, MDX_EDGE_LOG_INFO, "%s ran to failure and was replaced (failure %u)", u->device_id,
            (unsigned)u->sim.failures);
        /* A marker that is still waiting is replaced: only the newest life boundary survives. */
        u->fail_pending = 1;
        u->fail_ts_ms = reading_ts(a, u->generated);
        u->fail_life = u->sim.failures;
    }
    r.ts_ms = reading_ts(a, u->generated);
    r.machine = idx;
    u->generated++;
    a->stats.generated++;
    update_safety(u, &r);
    if (a->has_outbox) {
        outbox_add(a, u, &r);
    } else if (mdx_edge_ring_push(&u->ring, &r)) {
        a->stats.dropped++;
    }
}

/* Non-zero when the port gives each machine its own connection. */
static int per_unit(const struct mdx_edge_agent *a)
{
    return a->port->unit_session != NULL && a->port->unit_publish != NULL;
}

static int publish(struct mdx_edge_agent *a, const struct mdx_edge_unit *u, const char *leaf,
                   const char *payload, size_t len, int retain)
{
    int rc;

    if (a->conf.profile->topic(&a->conf.link, u->device_id, leaf, a->topic, sizeof(a->topic)) !=
        0) {
        a->stats.publish_errors++;
        say(a, MDX_EDGE_LOG_WARN, "%s: no %s topic fits", u->device_id, leaf);
        return MDX_EINVAL;
    }
    retain = retain && a->conf.profile->may_retain(&a->conf.link);
    if (per_unit(a)) {
        rc = a->port->unit_publish(a->port->ctx, (uint32_t)(u - a->units), a->topic, payload, len,
                                   1, retain);
    } else {
        rc = a->port->publish(a->port->ctx, a->topic, payload, len, 1, retain);
    }
    if (rc != MDX_OK && rc != MDX_ECONN && rc != MDX_EBUSY) {
        a->stats.publish_errors++;
        say(a, MDX_EDGE_LOG_WARN, "publish to %s failed (status %d)", a->topic, rc);
    }
    return rc;
}

/* Encodes the 'n' oldest readings of 'u' (an object if 'single', else an array). */
static int encode(struct mdx_edge_agent *a, const struct mdx_edge_unit *u, uint32_t n, int single)
{
    struct mdx_payload pl;
    uint32_t i;

    mdx_payload_init(&pl, a->buf, a->buf_cap);
    if (single) {
        mdx_payload_reading(&pl, a->conf.form, u->device_id, mdx_edge_ring_peek(&u->ring, 0));
    } else {
        mdx_payload_text(&pl, "[");
        for (i = 0; i < n; i++) {
            if (i > 0) {
                mdx_payload_text(&pl, ",");
            }
            mdx_payload_reading(&pl, a->conf.form, u->device_id, mdx_edge_ring_peek(&u->ring, i));
        }
        mdx_payload_text(&pl, "]");
    }
    return pl.status == MDX_OK ? (int)pl.len : pl.status;
}

/* Publishes the answer waiting in 'u', if any. MDX_OK, or the port's refusal (it stays). */
static int send_ack(struct mdx_edge_agent *a, struct mdx_edge_unit *u)
{
    int rc, len;

    if (!u->ack_pending) {
        return MDX_OK;
    }
    len = mdx_payload_encode_ack(u->device_id, u->ack.command_id,
                                 u->ack.rejected ? u->ack.detail : NULL, a->ack_buf,
                                 sizeof(a->ack_buf));
    if (len < 0) {
        /* Only a bug gets here (the buffer fits the longest answer): drop, never loop. */
        say(a, MDX_EDGE_LOG_ERROR, "%s: answer to command %lld could not be encoded",
            u->device_id, (long long)u->ack.command_id);
        u->ack_pending = 0;
        a->stats.acks_dropped++;
        return MDX_OK;
    }
    rc = publish(a, u, "command_ack", a->ack_buf, (size_t)len, 0);
    if (rc == MDX_OK) {
        u->ack_pending = 0;
    }
    return rc;
}

/*
 * Publishes outbox readings [first, first + n) of 'u' as one message (an
 * array unless 'single'), skipping damaged records. *sent: how many went.
 * Returns MDX_OK, or the port's refusal (nothing consumed).
 */
static int send_outbox_range(struct mdx_edge_agent *a, struct mdx_edge_unit *u, uint64_t first,
                             uint32_t n, int single, uint32_t *sent)
{
    uint32_t m = (uint32_t)(u - a->units), k = 0, i;
    struct mdx_payload pl;
    uint32_t token = 0;
    int rc;

    *sent = 0;
    for (i = 0; i < n; i++) {
        rc = mdx_edge_outbox_get(&a->outbox, m, first + i, &a->scratch[k]);
        if (rc == MDX_OK) {
            k++;
        } else {
            a->stats.dropped++;
            a->stats.outbox_errors += rc == MDX_EIO ? 1 : 0;
            say(a, MDX_EDGE_LOG_WARN, "%s: outbox record %llu %s: skipped", u->device_id,
                (unsigned long long)(first + i), rc == MDX_EIO ? "unreadable" : "damaged");
        }
    }
    if (k == 0) {
        *sent = n; /* nothing readable to send: consumed */
        return MDX_OK;
    }
    mdx_payload_init(&pl, a->buf, a->buf_cap);
    if (single && k == 1) {
        mdx_payload_reading(&pl, a->conf.form, u->device_id, &a->scratch[0]);
    } else {
        mdx_payload_text(&pl, "[");
        for (i = 0; i < k; i++) {
            mdx_payload_text(&pl, i > 0 ? "," : "");
            mdx_payload_reading(&pl, a->conf.form, u->device_id, &a->scratch[i]);
        }
        mdx_payload_text(&pl, "]");
    }
    if (pl.status != MDX_OK) {
        say(a, MDX_EDGE_LOG_ERROR, "%s: %u outbox readings could not be encoded", u->device_id,
            (unsigned)k);
        a->stats.dropped += k;
        *sent = n;
        return MDX_OK;
    }
    snprintf(a->topic, sizeof(a->topic), "modax/%s/%s/sensor_data", a->conf.tenant,
             u->device_id);
    if (a->port->publish_tracked != NULL) {
        rc = a->port->publish_tracked(a->port->ctx, m, a->topic, a->buf, pl.len, &token);
    } else {
        rc = publish(a, u, "sensor_data", a->buf, pl.len, 0);
    }
    if (rc != MDX_OK) {
        if (rc != MDX_ECONN && rc != MDX_EBUSY && a->port->publish_tracked != NULL) {
            a->stats.publish_errors++;
            say(a, MDX_EDGE_LOG_WARN, "publish to %s failed (status %d)", a->topic, rc);
        }
        return rc;
    }
    if (a->port->publish_tracked != NULL) {
        u->inflight[u->ninflight].token = token;
        u->inflight[u->ninflight].first = first;
        u->inflight[u->ninflight].last = first + n - 1;
        u->ninflight++;
    } else {
        a->stats.acked_readings += k;
        a->ob_changed = 1;
    }
    a->stats.published_msgs++;
    a->stats.published_readings += k;
    *sent = n;
    return MDX_OK;
}

/* Adds backlog allowance for the time passed since the last refill. */
static void refill_backfill(struct mdx_edge_agent *a, int64_t now)
{
    double cap = a->conf.backfill_rate > a->chunk ? a->conf.backfill_rate : a->chunk;

    if (a->conf.backfill_rate == 0) {
        a->bf_tokens = 1e18;
        return;
    }
    a->bf_tokens += (double)(now - a->bf_refill_ms) * a->conf.backfill_rate / 1000.0;
    a->bf_tokens = a->bf_tokens > cap ? cap : a->bf_tokens;
    a->bf_refill_ms = now;
}

/*
 * Outbox readings of 'u': the gap report first, new readings next (at
 * once, so a backlog never delays them), then the backlog oldest first,
 * in arrays, as far as the rate allows. At most MDX_EDGE_INFLIGHT messages
 * per machine wait for their PUBACK. Returns MDX_OK or the port's refusal.
 */
static int flush_outbox(struct mdx_edge_agent *a, struct mdx_edge_unit *u, int final)
{
    uint32_t n, sent;
    int rc, len;

    if (u->ob_gap > 0) {
        len = snprintf(a->ack_buf, sizeof(a->ack_buf),
                       "{\"device_id\":\"%s\",\"state\":\"gap\",\"dropped\":%llu,"
                       "\"timestamp\":%lld}",
                       u->device_id, (unsigned long long)u->ob_gap,
                       (long long)a->port->wall_ms(a->port->ctx));
        if (len > 0 && (size_t)len < sizeof(a->ack_buf)) {
            rc = publish(a, u, "status", a->ack_buf, (size_t)len, 0);
            if (rc != MDX_OK) {
                return rc;
            }
        }
        say(a, MDX_EDGE_LOG_WARN, "%s: outbox full: %llu oldest readings dropped", u->device_id,
            (unsigned long long)u->ob_gap);
        u->ob_gap = 0;
    }
    if (a->ob_dirty) {
        /* Written before published: what the broker may hold is durable here first. */
        if (mdx_edge_outbox_sync(&a->outbox) != MDX_OK) {
            a->stats.outbox_errors++;
        }
        a->ob_dirty = 0;
    }
    while (u->ob_live < u->ob_next && u->ninflight < MDX_EDGE_INFLIGHT) {
        uint64_t pending = u->ob_next - u->ob_live;

        n = pending < a->chunk ? (uint32_t)pending : a->chunk;
        if (a->conf.batch > 1 && n < a->conf.batch && !final) {
            break;
        }
        rc = send_outbox_range(a, u, u->ob_live, n, a->conf.batch == 1, &sent);
        if (rc != MDX_OK) {
            return rc;
        }
        u->ob_live += sent;
    }
    while (u->ob_backfill < u->ob_live_from && u->ninflight < MDX_EDGE_INFLIGHT &&
           a->bf_tokens >= 1.0) {
        uint64_t pending = u->ob_live_from - u->ob_backfill;

        n = pending < a->chunk ? (uint32_t)pending : a->chunk;
        n = (double)n > a->bf_tokens ? (uint32_t)a->bf_tokens : n;
        rc = send_outbox_range(a, u, u->ob_backfill, n, 0, &sent);
        if (rc != MDX_OK) {
            return rc;
        }
        u->ob_backfill += sent;
        a->bf_tokens -= sent;
        a->stats.backfilled += sent;
        a->stats.backfill_msgs++;
    }
    return MDX_OK;
}

void mdx_edge_agent_acked(struct mdx_edge_agent *a, uint32_t unit, uint32_t token)
{
    uint32_t i, j, lo = 0, hi = a->conf.machines;

    if (!a->has_outbox) {
        return;
    }
    if (per_unit(a)) {
        if (unit >= a->conf.machines) {
            return;
        }
        lo = unit;
        hi = unit + 1;
    }
    for (i = lo; i < hi; i++) {
        struct mdx_edge_unit *u = &a->units[i];

        for (j = 0; j < u->ninflight; j++) {
            if (u->inflight[j].token == token) {
                a->stats.acked_readings += u->inflight[j].last - u->inflight[j].first + 1;
                u->inflight[j] = u->inflight[u->ninflight - 1];
                u->ninflight--;
                a->ob_changed = 1;
                return;
            }
        }
    }
}

int mdx_edge_agent_checkpoint(struct mdx_edge_agent *a)
{
    int rc;

    if (!a->has_outbox) {
        return MDX_OK;
    }
    rc = mdx_edge_outbox_checkpoint(&a->outbox, oldest_of, a);
    if (rc != MDX_OK) {
        a->stats.outbox_errors++;
        say(a, MDX_EDGE_LOG_ERROR, "outbox: cannot write the checkpoint (status %d)", rc);
        return rc;
    }
    a->ob_changed = 0;
    a->ob_dirty = 0;
    return MDX_OK;
}

/*
 * Sends what 'u' has pending: status, safety, a command's answer, then
 * readings. 'final'
 * allows a short last batch. Returns MDX_OK, or the port's refusal
 * (everything not sent stays pending).
 */
static int flush_unit(struct mdx_edge_agent *a, struct mdx_edge_unit *u, int final)
{
    int rc, len;

    if (u->fail_pending) {
        /* Before the readings still buffered: the new life's come after it. */
        len = snprintf(a->ack_buf, sizeof(a->ack_buf),
                       "{\"device_id\":\"%s\",\"state\":\"failed\",\"timestamp\":%lld,"
                       "\"failures\":%u}",
                       u->device_id, (long long)u->fail_ts_ms, (unsigned)u->fail_life);
        if (len > 0 && (size_t)len < sizeof(a->ack_buf)) {
            rc = publish(a, u, "status", a->ack_buf, (size_t)len, 0);
            if (rc != MDX_OK) {
                return rc;
            }
        }
        u->fail_pending = 0;
        u->need_online = 1; /* the replacement machine is online */
    }
    if (u->need_online) {
        rc = publish(a, u, "status", "online", 6, 1);
        if (rc != MDX_OK) {
            return rc;
        }
        u->need_online = 0;
    }
    if (a->conf.safety &&
        (u->need_safety || memcmp(&u->safety, &u->safety_sent, sizeof(u->safety)) != 0)) {
        int64_t ts = u->safety_ts_ms != 0 ? u->safety_ts_ms : a->start_wall_ms;

        len = mdx_payload_encode_safety(&u->safety, ts, a->buf, a->buf_cap);
        if (len > 0) {
            rc = publish(a, u, "safety", a->buf, (size_t)len, 0);
            if (rc != MDX_OK) {
                return rc;
            }
        }
        u->safety_sent = u->safety;
        u->need_safety = 0;
    }
    rc = send_ack(a, u);
    if (rc != MDX_OK) {
        return rc;
    }
    if (a->has_outbox) {
        return flush_outbox(a, u, final);
    }
    while (u->ring.count > 0) {
        uint32_t n;
        int single = 0;

        if (a->conf.batch == 1) {
            single = u->ring.count == 1;
            n = u->ring.count < a->chunk ? u->ring.count : a->chunk;
        } else {
            if (u->ring.count < a->conf.batch && !final) {
                break;
            }
            n = u->ring.count < a->conf.batch ? u->ring.count : a->conf.batch;
        }
        len = encode(a, u, n, single);
        if (len < 0) {
            /* Only a bug gets here (non-finite value): drop, never loop. */
            say(a, MDX_EDGE_LOG_ERROR, "%s: %u readings could not be encoded (status %d)",
                u->device_id, (unsigned)n, len);
            mdx_edge_ring_pop(&u->ring, n);
            a->stats.dropped += n;
            continue;
        }
        rc = publish(a, u, "sensor_data", a->buf, (size_t)len, 0);
        if (rc != MDX_OK) {
            return rc;
        }
        mdx_edge_ring_pop(&u->ring, n);
        a->stats.published_msgs++;
        a->stats.published_readings += n;
    }
    return MDX_OK;
}

int mdx_edge_agent_subscription(const struct mdx_edge_agent *a, uint32_t i, uint32_t k,
                                char *buf, size_t cap)
{
    if (i >= a->conf.machines) {
        return -1;
    }
    return a->conf.profile->subscription(&a->conf.link, a->units[i].device_id, k, buf, cap);
}

/* The machine called 'dev' ('n' bytes, not NUL-terminated), or NULL. */
static struct mdx_edge_unit *unit_named(struct mdx_edge_agent *a, const char *dev, size_t n)
{
    size_t lp = strlen(a->conf.prefix);
    uint64_t num = 0;
    size_t i;

    if (n <= lp || strncmp(dev, a->conf.prefix, lp) != 0) {
        return NULL;
    }
    /* device id = prefix + number: find the machine by its number, then compare. */
    for (i = lp; i < n; i++) {
        if (dev[i] < '0' || dev[i] > '9' || num > UINT32_MAX) {
            return NULL;
        }
        num = num * 10 + (uint64_t)(dev[i] - '0');
    }
    if (num < a->conf.first || num - a->conf.first >= a->conf.machines) {
        return NULL;
    }
    {
        struct mdx_edge_unit *u = &a->units[num - a->conf.first];

        return strlen(u->device_id) == n && strncmp(u->device_id, dev, n) == 0 ? u : NULL;
    }
}

/* Queues the answer to command 'id' of 'u' ('detail' NULL: ok) and tries to send it. */
static void answer(struct mdx_edge_agent *a, struct mdx_edge_unit *u, int64_t id,
                   const char *detail)
{
    if (u->ack_pending) {
        a->stats.acks_dropped++;
        say(a, MDX_EDGE_LOG_WARN, "%s: answer to command %lld replaced before it was sent",
            u->device_id, (long long)u->ack.command_id);
    }
    u->ack.command_id = id;
    u->ack.rejected = (uint8_t)(detail != NULL);
    snprintf(u->ack.detail, sizeof(u->ack.detail), "%s", detail != NULL ? detail : "");
    u->ack_pending = 1;
    if (detail != NULL) {
        a->stats.commands_rejected++;
    } else {
        a->stats.commands_applied++;
    }
    if (a->port->connected(a->port->ctx)) {
        send_ack(a, u);
    }
}

/*
 * The local safety interlock, as in the original MODAX control layer: no
 * command while the emergency stop is pressed, the door is open, the motor
 * is overloaded or the temperature is not OK. NULL: commands may go.
 */
static const char *interlock(const struct mdx_safety_state *s)
{
    if (s->emergency_stop) {
        return "emergency stop active: commands are refused until it is released";
    }
    if (!s->door_closed) {
        return "door open: commands are refused until it is closed";
    }
    if (s->overload_detected) {
        return "overload detected: commands are refused until the motor current is normal";
    }
    if (!s->temperature_ok) {
        return "temperature not OK: commands are refused until it is back in range";
    }
    return NULL;
}

/*
 * Answers direct method 'in' of 'u' at once with 'status' and the
 * command_ack body (command 'id', 'detail' NULL: ok). Not kept when the
 * broker refuses: the caller of the method gives up after its timeout.
 */
static void answer_method(struct mdx_edge_agent *a, struct mdx_edge_unit *u,
                          const struct mdx_edge_inbound *in, int status, int64_t id,
                          const char *detail)
{
    const struct mdx_edge_profile *pr = a->conf.profile;
    int len, rc;

    if (status == 200) {
        a->stats.commands_applied++;
    } else {
        a->stats.commands_rejected++;
    }
    len = mdx_payload_encode_ack(u->device_id, id, detail, a->ack_buf, sizeof(a->ack_buf));
    if (len < 0 || pr->reply_topic == NULL ||
        pr->reply_topic(in, status, a->reply_topic, sizeof(a->reply_topic)) != 0) {
        a->stats.acks_dropped++;
        return;
    }
    if (per_unit(a)) {
        rc = a->port->unit_publish(a->port->ctx, (uint32_t)(u - a->units), a->reply_topic,
                                   a->ack_buf, (size_t)len, 1, 0);
    } else {
        rc = a->port->publish(a->port->ctx, a->reply_topic, a->ack_buf, (size_t)len, 1, 0);
    }
    if (rc != MDX_OK) {
        a->stats.acks_dropped++;
        say(a, MDX_EDGE_LOG_WARN, "%s: answer to method %s (rid %s) not sent (status %d)",
            u->device_id, in->method, in->rid, rc);
        return;
    }
    a->stats.methods++;
}

void mdx_edge_agent_command(struct mdx_edge_agent *a, uint32_t unit, const char *topic,
                            const void *payload, size_t len)
{
    struct mdx_edge_command cmd;
    struct mdx_edge_inbound in;
    struct mdx_edge_unit *u = NULL;
    const char *why = NULL;
    char detail[MDX_EDGE_CMD_DETAIL_MAX];

    a->stats.commands++;
    a->conf.profile->inbound(&a->conf.link, topic, &in);
    if (in.kind == MDX_EDGE_IN_METHOD) {
        /* A direct method is for the device of the connection it came on. */
        u = unit < a->conf.machines && (per_unit(a) || a->conf.machines == 1) ? &a->units[unit]
                                                                               : NULL;
    } else if (in.kind != MDX_EDGE_IN_NONE) {
        u = unit_named(a, in.device, in.device_len);
    }
    if (u == NULL) {
        a->stats.commands_ignored++;
        say(a, MDX_EDGE_LOG_WARN, "message on %.100s ignored: not a commands topic of this agent",
            topic);
        return;
    }
    if (in.kind == MDX_EDGE_IN_METHOD && in.rid[0] == '\0') {
        a->stats.commands_ignored++;
        say(a, MDX_EDGE_LOG_WARN,
            "%s: direct method %s without $rid ignored: it cannot be answered", u->device_id,
            in.method);
        return;
    }
    if (mdx_edge_command_parse(payload, len, &cmd, &why) != MDX_OK) {
        if (!cmd.has_id && in.kind != MDX_EDGE_IN_METHOD) {
            a->stats.commands_ignored++;
            say(a, MDX_EDGE_LOG_WARN, "%s: malformed command ignored (no readable id): %s",
                u->device_id, why);
            return;
        }
        snprintf(detail, sizeof(detail), "malformed command: %s", why);
        say(a, MDX_EDGE_LOG_WARN, "%s: command %lld rejected: %s", u->device_id,
            (long long)(cmd.has_id ? cmd.id : 0), detail);
        if (in.kind == MDX_EDGE_IN_METHOD) {
            answer_method(a, u, &in, 400, cmd.has_id ? cmd.id : 0, detail);
        } else {
            answer(a, u, cmd.id, detail);
        }
        return;
    }
    why = interlock(&u->safety);
    if (why == NULL && mdx_sim_command(&u->sim, cmd.name, cmd.value, &why) == 0) {
        why = NULL;
    }
    if (why != NULL) {
        say(a, MDX_EDGE_LOG_WARN, "%s: command %lld (%s = %g) rejected: %s", u->device_id,
            (long long)cmd.id, cmd.name, cmd.value, why);
    } else {
        say(a, MDX_EDGE_LOG_INFO, "%s: command %lld applied: %s = %g", u->device_id,
            (long long)cmd.id, cmd.name, cmd.value);
    }
    if (in.kind == MDX_EDGE_IN_METHOD) {
        answer_method(a, u, &in, why != NULL ? 400 : 200, cmd.id, why);
    } else {
        answer(a, u, cmd.id, why);
    }
}

uint64_t mdx_edge_agent_buffered(const struct mdx_edge_agent *a)
{
    uint64_t n = 0;
    uint32_t i;

    for (i = 0; i < a->conf.machines; i++) {
        n += a->has_outbox ? a->units[i].ob_next - unit_oldest(a, &a->units[i])
                           : a->units[i].ring.count;
    }
    return n;
}

/* Per-machine connections: re-announces each machine whose connection is new. */
static void track_units(struct mdx_edge_agent *a)
{
    uint32_t i;

    for (i = 0; i < a->conf.machines; i++) {
        struct mdx_edge_unit *u = &a->units[i];
        uint32_t s = a->port->unit_session(a->port->ctx, i);

        if (s != 0 && s != u->session) {
            u->need_online = 1;
            u->need_safety = (uint8_t)(a->conf.safety != 0);
            if (a->has_outbox) {
                rewind_unit(a, u);
            }
        }
        u->session = s;
    }
}

static void track_connection(struct mdx_edge_agent *a)
{
    int conn = a->port->connected(a->port->ctx) != 0;
    uint32_t i;

    if (per_unit(a)) {
        track_units(a);
    }
    if (conn && !a->connected) {
        say(a, MDX_EDGE_LOG_INFO, "connected; %llu readings buffered",
            (unsigned long long)mdx_edge_agent_buffered(a));
        for (i = 0; i < a->conf.machines && !per_unit(a); i++) {
            a->units[i].need_online = 1;
            a->units[i].need_safety = (uint8_t)(a->conf.safety != 0);
            if (a->has_outbox) {
                rewind_unit(a, &a->units[i]);
            }
        }
    } else if (!conn && a->connected) {
        if (a->has_outbox) {
            say(a, MDX_EDGE_LOG_WARN, "connection lost; readings wait in the outbox (%u per machine)",
                (unsigned)a->outbox.slots);
        } else {
            say(a, MDX_EDGE_LOG_WARN, "connection lost; buffering up to %u readings per machine",
                (unsigned)a->conf.ring_cap);
        }
    }
    a->connected = conn;
}

/*
 * Flushes machine 'i' if its connection is up. One connection: a refusal
 * (*blocked) stops the pass for every machine; per machine: only for 'i'.
 */
static void flush_if_up(struct mdx_edge_agent *a, uint32_t i, int final, int *blocked)
{
    if (per_unit(a)) {
        if (a->units[i].session != 0) {
            flush_unit(a, &a->units[i], final);
        }
    } else if (a->connected && !*blocked) {
        *blocked = flush_unit(a, &a->units[i], final) != MDX_OK;
    }
}

int mdx_edge_agent_step(struct mdx_edge_agent *a, uint32_t *sleep_ms)
{
    int64_t now = a->port->now_ms(a->port->ctx);
    int64_t sim_now;
    uint32_t step_max = a->conf.ring_cap < MDX_EDGE_STEP_MAX ? a->conf.ring_cap : MDX_EDGE_STEP_MAX;
    double wait_ms = 100.0;
    int behind = 0, blocked = 0, all_counted = a->conf.count > 0;
    uint32_t i;

    track_connection(a);
    if (a->has_outbox) {
        check_backlog_sent(a, now);
        refill_backfill(a, now);
        if (now - a->mark_ms >= 1000) {
            for (i = 0; i < a->conf.machines; i++) {
                struct mdx_edge_unit *u = &a->units[i];

                memmove(&u->ob_marks[1], &u->ob_marks[0],
                        MDX_EDGE_REPLAY_S * sizeof(u->ob_marks[0]));
                u->ob_marks[0] = u->ob_next;
            }
            a->mark_ms = now;
        }
        if ((a->ob_changed || a->ob_dirty) && now - a->checkpoint_ms >= MDX_EDGE_CHECKPOINT_MS) {
            mdx_edge_agent_checkpoint(a);
            a->checkpoint_ms = now;
        }
    }
    if (a->conf.drain_only) {
        a->gen_done = 1;
    }
    if (!a->gen_done && a->conf.duration_s > 0 &&
        (double)(now - a->start_mono_ms) >= a->conf.duration_s * 1000.0) {
        a->gen_done = 1;
    }
    sim_now = a->start_wall_ms + (int64_t)((double)(now - a->start_mono_ms) * a->conf.time_scale);

    for (i = 0; i < a->conf.machines; i++) {
        struct mdx_edge_unit *u = &a->units[i];
        uint32_t made = 0;

        while (!a->gen_done && (a->conf.count == 0 || u->generated < a->conf.count)) {
            int64_t ts = reading_ts(a, u->generated);

            if (ts > sim_now) {
                double w = (double)(ts - sim_now) / a->conf.time_scale;
                wait_ms = w < wait_ms ? w : wait_ms;
                break;
            }
            if (made == step_max) {
                behind = 1;
                break;
            }
            make_reading(a, i);
            made++;
        }
        if (a->conf.count > 0 && u->generated < a->conf.count) {
            all_counted = 0;
        }
        flush_if_up(a, i, a->gen_done, &blocked);
    }
    if (all_counted) {
        a->gen_done = 1;
    }

    *sleep_ms = behind ? 0 : (uint32_t)(wait_ms + 0.999);
    if (!a->gen_done) {
        return MDX_OK;
    }
    if (a->done_at_ms < 0) {
        a->done_at_ms = now;
        /* Short last batches go out now that no more readings come. */
        for (i = 0; i < a->conf.machines; i++) {
            flush_if_up(a, i, 1, &blocked);
        }
    }
    if (mdx_edge_agent_buffered(a) == 0) {
        return MDX_ESTOPPED;
    }
    if (a->has_outbox && a->connected) {
        /* The outbox keeps what is left anyway; while connected, it keeps going out. */
        a->done_at_ms = now;
    }
    if (now - a->done_at_ms > MDX_EDGE_DRAIN_MS) {
        say(a, MDX_EDGE_LOG_WARN, "giving up: %llu readings could not be delivered",
            (unsigned long long)mdx_edge_agent_buffered(a));
        return MDX_ESTOPPED;
    }
    *sleep_ms = 50;
    return MDX_OK;
}

int mdx_edge_agent_run(struct mdx_edge_agent *a)
{
    uint32_t sleep_ms = 0;

    while (!a->port->stop_requested(a->port->ctx)) {
        if (mdx_edge_agent_step(a, &sleep_ms) == MDX_ESTOPPED) {
            break;
        }
        a->port->sleep_ms(a->port->ctx, sleep_ms);
    }
    return MDX_OK;
}

void mdx_edge_agent_fini(struct mdx_edge_agent *a)
{
    uint32_t i;

    mdx_edge_agent_checkpoint(a);
    if (a->port == NULL || a->units == NULL || !a->port->connected(a->port->ctx)) {
        return;
    }
    for (i = 0; i < a->conf.machines; i++) {
        /* One connection refusing ends it; per machine, the others still go. */
        if (publish(a, &a->units[i], "status", "offline", 7, 1) != MDX_OK && !per_unit(a)) {
            break;
        }
    }
}
