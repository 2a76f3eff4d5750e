/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_api.c - the store functions of issue 5, through the store
 * interface, run against SQLite (a fresh temp file per case) and against
 * PostgreSQL 15 (a fresh database per case in a throwaway cluster started
 * by the test; a missing PostgreSQL fails it): a device's status and
 * emergency stop kept from its events, device configuration, device
 * deletion (also under a writer on another connection), API keys,
 * commands and their update by command_ack events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store_util.h"
#include "modax/alert.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define T0 1760000000000LL

static void set_event(struct mdx_event *ev, enum mdx_msg_kind kind, int64_t ts, const char *body)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->ts_ms = ts;
    snprintf(ev->body, sizeof(ev->body), "%s", body);
}

/* Writes events of one device as one batch. */
static int write_events(struct mdx_store *st, const char *tenant, const char *device,
                        const struct mdx_event *ev, size_t n)
{
    struct mdx_event_rec rec[8];
    struct mdx_batch b;
    struct mdx_batch_result res;

    memset(&b, 0, sizeof(b));
    for (size_t i = 0; i < n && i < 8; i++) {
        rec[i] = (struct mdx_event_rec){tenant, device, &ev[i], T0 + 100000};
    }
    b.events = rec;
    b.n_events = n;
    return mdx_store_write(st, &b, &res);
}

static struct mdx_command new_command(const char *tenant, const char *device, const char *name,
                                      double value, int64_t at)
{
    struct mdx_command c;

    memset(&c, 0, sizeof(c));
    snprintf(c.tenant, sizeof(c.tenant), "%s", tenant);
    snprintf(c.device, sizeof(c.device), "%s", device);
    snprintf(c.name, sizeof(c.name), "%s", name);
    c.value = value;
    c.state = MDX_COMMAND_SENT;
    snprintf(c.issued_by, sizeof(c.issued_by), "0123456789abcdef");
    c.created_ms = at;
    c.updated_ms = at;
    return c;
}

struct cmds {
    int64_t id[16];
    char device[16][MDX_NAME_MAX + 1];
    int n;
};

static int collect_cmd(void *arg, const struct mdx_command *c)
{
    struct cmds *l = arg;

    if (l->n < 16) {
        l->id[l->n] = c->id;
        snprintf(l->device[l->n], sizeof(l->device[0]), "%s", c->device);
    }
    l->n++;
    return MDX_OK;
}

struct keys {
    char id[8][MDX_APIKEY_ID_LEN + 1];
    int n;
};

static int collect_key(void *arg, const struct mdx_apikey *k)
{
    struct keys *l = arg;

    if (l->n < 8) {
        snprintf(l->id[l->n], sizeof(l->id[0]), "%s", k->id);
    }
    l->n++;
    return MDX_OK;
}

static int count_events(void *arg, const struct mdx_event *ev)
{
    (void)ev;
    (*(int *)arg)++;
    return MDX_OK;
}

static int count_alerts(void *arg, const struct mdx_alert *a)
{
    (void)a;
    (*(int *)arg)++;
    return MDX_OK;
}

struct dl_reasons {
    int unknown_device;
    char last_topic[160];
};

static int collect_dl(void *arg, const struct mdx_deadletter *dl)
{
    struct dl_reasons *r = arg;

    if (strcmp(dl->reason, "unknown device") == 0) {
        if (r->unknown_device == 0) {
            snprintf(r->last_topic, sizeof(r->last_topic), "%s", dl->topic);
        }
        r->unknown_device++;
    }
    return MDX_OK;
}

static struct mdx_device_info find_info;
static int find_device(void *arg, const struct mdx_device_info *d)
{
    if (strcmp(d->device, (const char *)arg) == 0) {
        find_info = *d;
    }
    return MDX_OK;
}

/* ---- cases ---- */

static void keeps_status_and_emergency_stop(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    struct mdx_device_info info;
    struct mdx_event ev[4];

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &info), MDX_OK);
    CHECK_STR(info.status, "");
    CHECK_EQ_INT(info.status_ms, 0);
    CHECK_EQ_INT(info.emergency_stop, 0);
    CHECK_EQ_INT(info.safety_ms, 0);

    set_event(&ev[0], MDX_MSG_STATUS, T0 + 10, "{\"state\":\"online\"}");
    set_event(&ev[1], MDX_MSG_SAFETY, T0 + 20, "{\"emergency_stop\":true,\"door_closed\":true}");
    CHECK_EQ_INT(write_events(st, "acme", "press-1", ev, 2), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &info), MDX_OK);
    CHECK_STR(info.status, "online");
    CHECK_EQ_INT(info.status_ms, T0 + 10);
    CHECK_EQ_INT(info.emergency_stop, 1);
    CHECK_EQ_INT(info.safety_ms, T0 + 20);

    CHECK_EQ_INT(info.interlocks, MDX_INTERLOCK_EMERGENCY_STOP);

    /* Older events (late delivery) change nothing; a newer safety event changes only the
     * interlocks whose keys it carries (issue 14: door open sets its own, the e-stop stays). */
    set_event(&ev[0], MDX_MSG_STATUS, T0 + 5, "{\"state\":\"offline\"}");
    set_event(&ev[1], MDX_MSG_SAFETY, T0 + 15, "{\"emergency_stop\":false}");
    set_event(&ev[2], MDX_MSG_SAFETY, T0 + 30, "{\"door_closed\":false}");
    CHECK_EQ_INT(write_events(st, "acme", "press-1", ev, 3), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &info), MDX_OK);
    CHECK_STR(info.status, "online");
    CHECK_EQ_INT(info.status_ms, T0 + 10);
    CHECK_EQ_INT(info.emergency_stop, 1);
    CHECK_EQ_INT(info.interlocks, MDX_INTERLOCK_EMERGENCY_STOP | MDX_INTERLOCK_DOOR_OPEN);
    CHECK_EQ_INT(info.safety_ms, T0 + 30);

    /* Newer ones do; within a batch the newest wins whatever the order. */
    set_event(&ev[0], MDX_MSG_SAFETY, T0 + 50, "{\"emergency_stop\":false}");
    set_event(&ev[1], MDX_MSG_SAFETY, T0 + 40, "{\"emergency_stop\":true}");
    set_event(&ev[2], MDX_MSG_STATUS, T0 + 60, "{\"state\":\"offline\"}");
    CHECK_EQ_INT(write_events(st, "acme", "press-1", ev, 3), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &info), MDX_OK);
    CHECK_STR(info.status, "offline");
    CHECK_EQ_INT(info.status_ms, T0 + 60);
    CHECK_EQ_INT(info.emergency_stop, 0);
    CHECK_EQ_INT(info.interlocks, MDX_INTERLOCK_DOOR_OPEN); /* no door key since: still open */
    CHECK_EQ_INT(info.safety_ms, T0 + 50);

    /* The listing carries the same fields. */
    memset(&find_info, 0, sizeof(find_info));
    CHECK_EQ_INT(mdx_store_device_list(st, "acme", find_device, (void *)"press-1"), MDX_OK);
    CHECK_STR(find_info.status, "offline");
    CHECK_EQ_INT(find_info.status_ms, T0 + 60);
    CHECK_EQ_INT(find_info.emergency_stop, 0);
    CHECK_EQ_INT(find_info.interlocks, MDX_INTERLOCK_DOOR_OPEN);
    CHECK_EQ_INT(find_info.safety_ms, T0 + 50);
    store_close_fresh(st);
}

static void sets_and_gets_device_config(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    struct mdx_device_config cfg;
    static char big[MDX_DEVICE_JSON_MAX + 8];

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    CHECK_EQ_INT(mdx_store_device_config_get(st, "acme", "press-1", &cfg), MDX_OK);
    CHECK_STR(cfg.meta, "{}");
    CHECK_STR(cfg.limits, "{}");
    CHECK_EQ_INT(mdx_store_device_config_set(st, "acme", "press-1", "{\"line\":\"L2\"}", NULL),
                 MDX_OK);
    CHECK_EQ_INT(mdx_store_device_config_get(st, "acme", "press-1", &cfg), MDX_OK);
    CHECK_STR(cfg.meta, "{\"line\":\"L2\"}");
    CHECK_STR(cfg.limits, "{}");
    CHECK_EQ_INT(mdx_store_device_config_set(st, "acme", "press-1", NULL,
                                             "{\"speed_pct\":{\"min\":0,\"max\":100}}"),
                 MDX_OK);
    CHECK_EQ_INT(mdx_store_device_config_get(st, "acme", "press-1", &cfg), MDX_OK);
    CHECK_STR(cfg.meta, "{\"line\":\"L2\"}");
    CHECK_STR(cfg.limits, "{\"speed_pct\":{\"min\":0,\"max\":100}}");
    /* The other device is untouched. */
    CHECK_EQ_INT(mdx_store_device_config_get(st, "acme", "press-2", &cfg), MDX_OK);
    CHECK_STR(cfg.meta, "{}");
    /* Unknown devices and tenants; too long a document. */
    CHECK_EQ_INT(mdx_store_device_config_get(st, "acme", "ghost", &cfg), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_config_get(st, "nope", "press-1", &cfg), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_config_set(st, "acme", "ghost", "{}", "{}"), MDX_ENOTFOUND);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_INT(mdx_store_device_config_set(st, "acme", "press-1", big, NULL), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_device_config_get(st, "acme", "press-1", &cfg), MDX_OK);
    CHECK_STR(cfg.meta, "{\"line\":\"L2\"}");
    store_close_fresh(st);
}

static void deletes_a_device_and_only_it(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    struct mdx_store *writer;
    struct mdx_point p[3];
    struct mdx_event ev[1];
    struct mdx_command c1, c2;
    struct mdx_alert a;
    struct mdx_alert_filter f = {"acme", NULL, -1, -1, 0};
    struct mdx_device_info info;
    struct mdx_device_config cfg;
    struct dl_reasons dl = {0, ""};
    struct got *g = calloc(1, sizeof(*g));
    int n = 0;

    if (st == NULL || g == NULL) {
        free(g);
        store_close_fresh(st);
        return;
    }
    writer = be->open(); /* a second connection, as the ingest has */
    CHECK(writer != NULL);
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    for (int i = 0; i < 3; i++) {
        set_point(&p[i], "temp", T0 + i * 1000, 20.0 + i, 0);
    }
    CHECK_EQ_INT(write_points(writer, "acme", "press-1", p, 3, NULL), MDX_OK);
    CHECK_EQ_INT(write_points(writer, "acme", "press-2", p, 3, NULL), MDX_OK);
    set_event(&ev[0], MDX_MSG_STATUS, T0, "{\"state\":\"online\"}");
    CHECK_EQ_INT(write_events(writer, "acme", "press-1", ev, 1), MDX_OK);
    CHECK_EQ_INT(write_events(writer, "acme", "press-2", ev, 1), MDX_OK);
    c1 = new_command("acme", "press-1", "speed_pct", 80, T0);
    c2 = new_command("acme", "press-2", "speed_pct", 70, T0);
    CHECK_EQ_INT(mdx_store_command_put(st, &c1), MDX_OK);
    CHECK_EQ_INT(mdx_store_command_put(st, &c2), MDX_OK);
    memset(&a, 0, sizeof(a));
    snprintf(a.tenant, sizeof(a.tenant), "acme");
    snprintf(a.device, sizeof(a.device), "press-1");
    snprintf(a.source, sizeof(a.source), "rule:overtemperature");
    snprintf(a.sensor, sizeof(a.sensor), "temp");
    snprintf(a.summary, sizeof(a.summary), "hot");
    a.severity = MDX_SEVERITY_WARNING;
    a.state = MDX_ALERT_OPEN;
    a.opened_ms = a.updated_ms = T0;
    a.value = 90.0;
    CHECK_EQ_INT(mdx_store_alert_put(st, &a), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_config_set(st, "acme", "press-1", "{\"a\":1}", NULL), MDX_OK);

    CHECK_EQ_INT(mdx_store_device_delete(st, "acme", "press-1"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &info), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_delete(st, "acme", "press-1"), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_delete(st, "acme", "ghost"), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_delete(st, "nope", "press-2"), MDX_ENOTFOUND);
    CHECK_EQ_INT(query_points(st, "acme", "press-1", "temp", 0, INT64_MAX, 0, g), MDX_OK);
    CHECK_EQ_INT(g->n, 0);
    CHECK_EQ_INT(mdx_store_event_list(st, "acme", "press-1", 0, count_events, &n), MDX_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(mdx_store_command_get(st, "acme", c1.id, &c1), MDX_ENOTFOUND);
    f.device = "press-1";
    n = 0;
    CHECK_EQ_INT(mdx_store_alert_list(st, &f, count_alerts, &n), MDX_OK);
    CHECK_EQ_INT(n, 0);
    /* The other device keeps everything. */
    CHECK_EQ_INT(query_points(st, "acme", "press-2", "temp", 0, INT64_MAX, 0, g), MDX_OK);
    CHECK_EQ_INT(g->n, 3);
    n = 0;
    CHECK_EQ_INT(mdx_store_event_list(st, "acme", "press-2", 0, count_events, &n), MDX_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(mdx_store_command_get(st, "acme", c2.id, &c2), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-2", &info), MDX_OK);
    CHECK_STR(info.status, "online");

    /* The writer on the other connection still has the old ids cached: the deleted
     * device's points and events become dead letters, the rest of the batch is stored. */
    for (int i = 0; i < 3; i++) {
        p[i].ts_ms += 10000;
    }
    {
        struct mdx_point_group grp[2] = {{"acme", "press-1", p, 3}, {"acme", "press-2", p, 3}};
        struct mdx_event_rec rec = {"acme", "press-1", &ev[0], T0 + 20000};
        struct mdx_batch b;
        struct mdx_batch_result res;

        memset(&b, 0, sizeof(b));
        b.groups = grp;
        b.n_groups = 2;
        b.events = &rec;
        b.n_events = 1;
        CHECK_EQ_INT(mdx_store_write(writer, &b, &res), MDX_OK);
        CHECK_EQ_INT(res.points_written, 3);
    }
    CHECK_EQ_INT(mdx_store_deadletter_list(st, 0, collect_dl, &dl), MDX_OK);
    CHECK_EQ_INT(dl.unknown_device, 2);
    CHECK(strncmp(dl.last_topic, "modax/acme/press-1/", 19) == 0);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &info), MDX_ENOTFOUND);
    CHECK_EQ_INT(query_points(st, "acme", "press-2", "temp", 0, INT64_MAX, 0, g), MDX_OK);
    CHECK_EQ_INT(g->n, 6);

    /* Registered again, it starts empty and the writer stores under the new device. */
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "press-1", 0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_config_get(st, "acme", "press-1", &cfg), MDX_OK);
    CHECK_STR(cfg.meta, "{}");
    CHECK_EQ_INT(query_points(st, "acme", "press-1", "temp", 0, INT64_MAX, 0, g), MDX_OK);
    CHECK_EQ_INT(g->n, 0);
    CHECK_EQ_INT(write_points(writer, "acme", "press-1", p, 3, NULL), MDX_OK);
    CHECK_EQ_INT(query_points(st, "acme", "press-1", "temp", 0, INT64_MAX, 0, g), MDX_OK);
    CHECK_EQ_INT(g->n, 3);
    /* Dead letters stay. */
    dl.unknown_device = 0;
    CHECK_EQ_INT(mdx_store_deadletter_list(st, 0, collect_dl, &dl), MDX_OK);
    CHECK_EQ_INT(dl.unknown_device, 2);
    mdx_store_close(writer);
    free(g);
    store_close_fresh(st);
}

static void batch_update_of_a_deleted_devices_alert_is_dropped(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    struct mdx_point p;
    struct mdx_point_group grp = {"acme", "press-2", &p, 1};
    struct mdx_alert a;
    struct mdx_batch b;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    memset(&a, 0, sizeof(a));
    snprintf(a.tenant, sizeof(a.tenant), "acme");
    snprintf(a.device, sizeof(a.device), "press-1");
    snprintf(a.source, sizeof(a.source), "detector");
    snprintf(a.summary, sizeof(a.summary), "odd");
    a.severity = MDX_SEVERITY_WARNING;
    a.state = MDX_ALERT_OPEN;
    a.opened_ms = a.updated_ms = T0;
    CHECK_EQ_INT(mdx_store_alert_put(st, &a), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_delete(st, "acme", "press-1"), MDX_OK);
    /* The alerting stage still holds it and resolves it: the batch must not fail for ever. */
    a.state = MDX_ALERT_RESOLVED;
    a.updated_ms = a.resolved_ms = T0 + 1000;
    set_point(&p, "temp", T0 + 1000, 1.0, 0);
    memset(&b, 0, sizeof(b));
    b.groups = &grp;
    b.n_groups = 1;
    b.alerts = &a;
    b.n_alerts = 1;
    CHECK_EQ_INT(mdx_store_write(st, &b, NULL), MDX_OK);
    /* An update of an unknown alert of a registered device still fails the batch. */
    snprintf(a.device, sizeof(a.device), "press-2");
    p.ts_ms += 1000;
    CHECK_EQ_INT(mdx_store_write(st, &b, NULL), MDX_ENOTFOUND);
    store_close_fresh(st);
}

static void adds_gets_lists_and_revokes_api_keys(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    struct mdx_apikey k, got;
    struct keys l;

    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "globex"), MDX_OK);
    memset(&k, 0, sizeof(k));
    snprintf(k.id, sizeof(k.id), "00000000000000a1");
    snprintf(k.tenant, sizeof(k.tenant), "acme");
    k.role = MDX_ROLE_OPERATOR;
    for (int i = 0; i < 32; i++) {
        k.hash[i] = (uint8_t)(i * 7 + (i == 3 ? 0 : 1)); /* has a zero byte */
    }
    snprintf(k.label, sizeof(k.label), "line 2 tablet");
    k.created_ms = T0;
    CHECK_EQ_INT(mdx_store_apikey_add(st, &k), MDX_OK);
    CHECK_EQ_INT(mdx_store_apikey_add(st, &k), MDX_EEXIST);
    snprintf(k.id, sizeof(k.id), "00000000000000a2");
    k.role = MDX_ROLE_VIEWER;
    k.created_ms = T0 + 1;
    CHECK_EQ_INT(mdx_store_apikey_add(st, &k), MDX_OK);
    snprintf(k.id, sizeof(k.id), "00000000000000b1");
    snprintf(k.tenant, sizeof(k.tenant), "globex");
    k.role = MDX_ROLE_ADMIN;
    CHECK_EQ_INT(mdx_store_apikey_add(st, &k), MDX_OK);
    snprintf(k.id, sizeof(k.id), "00000000000000f1");
    k.tenant[0] = '\0';
    k.role = MDX_ROLE_PLATFORM;
    CHECK_EQ_INT(mdx_store_apikey_add(st, &k), MDX_OK);
    /* Unknown tenant; a platform role for a tenant and a tenant role without one. */
    snprintf(k.id, sizeof(k.id), "00000000000000c1");
    snprintf(k.tenant, sizeof(k.tenant), "nope");
    k.role = MDX_ROLE_ADMIN;
    CHECK_EQ_INT(mdx_store_apikey_add(st, &k), MDX_ENOTFOUND);
    snprintf(k.tenant, sizeof(k.tenant), "acme");
    k.role = MDX_ROLE_PLATFORM;
    CHECK_EQ_INT(mdx_store_apikey_add(st, &k), MDX_EINVAL);
    k.tenant[0] = '\0';
    k.role = MDX_ROLE_ADMIN;
    CHECK_EQ_INT(mdx_store_apikey_add(st, &k), MDX_EINVAL);

    CHECK_EQ_INT(mdx_store_apikey_get(st, "00000000000000a1", &got), MDX_OK);
    CHECK_STR(got.id, "00000000000000a1");
    CHECK_STR(got.tenant, "acme");
    CHECK_EQ_INT(got.role, MDX_ROLE_OPERATOR);
    CHECK_STR(got.label, "line 2 tablet");
    CHECK_EQ_INT(got.created_ms, T0);
    CHECK_EQ_INT(got.revoked_ms, 0);
    for (int i = 0; i < 32; i++) {
        CHECK_EQ_INT(got.hash[i], (uint8_t)(i * 7 + (i == 3 ? 0 : 1)));
    }
    CHECK_EQ_INT(mdx_store_apikey_get(st, "00000000000000f1", &got), MDX_OK);
    CHECK_STR(got.tenant, "");
    CHECK_EQ_INT(got.role, MDX_ROLE_PLATFORM);
    CHECK_EQ_INT(mdx_store_apikey_get(st, "00000000000000c1", &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_apikey_get(st, "x'; --", &got), MDX_ENOTFOUND);

    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_apikey_list(st, "acme", collect_key, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 2);
    CHECK_STR(l.id[0], "00000000000000a1"); /* oldest first */
    CHECK_STR(l.id[1], "00000000000000a2");
    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_apikey_list(st, "", collect_key, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 1);
    CHECK_STR(l.id[0], "00000000000000f1");
    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_apikey_list(st, NULL, collect_key, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 4);
    CHECK_EQ_INT(mdx_store_apikey_list(st, "nope", collect_key, &l), MDX_ENOTFOUND);

    CHECK_EQ_INT(mdx_store_apikey_revoke(st, "00000000000000a2", T0 + 500), MDX_OK);
    CHECK_EQ_INT(mdx_store_apikey_revoke(st, "00000000000000a2", T0 + 600), MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_apikey_revoke(st, "00000000000000c1", T0 + 600), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_apikey_get(st, "00000000000000a2", &got), MDX_OK);
    CHECK_EQ_INT(got.revoked_ms, T0 + 500);
    CHECK_EQ_INT(mdx_store_apikey_get(st, "00000000000000a1", &got), MDX_OK);
    CHECK_EQ_INT(got.revoked_ms, 0);
    store_close_fresh(st);
}

static void puts_gets_and_lists_commands(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    struct mdx_command c[4], got, bad;
    struct cmds l;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    add_tenant_device(st, "globex", "press-1");
    c[0] = new_command("acme", "press-1", "speed_pct", 80.5, T0);
    c[1] = new_command("acme", "press-2", "speed_pct", 60, T0 + 1000);
    c[2] = new_command("acme", "press-1", "feed_rate", -1.25, T0 + 2000);
    c[3] = new_command("globex", "press-1", "speed_pct", 10, T0 + 3000);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(mdx_store_command_put(st, &c[i]), MDX_OK);
        CHECK(c[i].id > 0);
    }
    CHECK(c[0].id != c[1].id && c[1].id != c[2].id);
    CHECK_EQ_INT(mdx_store_command_get(st, "acme", c[2].id, &got), MDX_OK);
    CHECK_EQ_INT(got.id, c[2].id);
    CHECK_STR(got.tenant, "acme");
    CHECK_STR(got.device, "press-1");
    CHECK_STR(got.name, "feed_rate");
    CHECK(got.value == -1.25);
    CHECK_EQ_INT(got.state, MDX_COMMAND_SENT);
    CHECK_STR(got.detail, "");
    CHECK_STR(got.issued_by, "0123456789abcdef");
    CHECK_EQ_INT(got.created_ms, T0 + 2000);
    CHECK_EQ_INT(got.updated_ms, T0 + 2000);
    /* Tenant-scoped. */
    CHECK_EQ_INT(mdx_store_command_get(st, "globex", c[2].id, &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_command_get(st, "acme", c[3].id, &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_command_get(st, "acme", 999999, &got), MDX_ENOTFOUND);
    /* Unknown device, bad values. */
    bad = new_command("acme", "ghost", "speed_pct", 1, T0);
    CHECK_EQ_INT(mdx_store_command_put(st, &bad), MDX_ENOTFOUND);
    CHECK_EQ_INT(bad.id, 0);
    bad = new_command("nope", "press-1", "speed_pct", 1, T0);
    CHECK_EQ_INT(mdx_store_command_put(st, &bad), MDX_ENOTFOUND);
    bad = new_command("acme", "press-1", "speed_pct", 1, T0);
    bad.state = 9;
    CHECK_EQ_INT(mdx_store_command_put(st, &bad), MDX_EINVAL);

    /* Update: state, detail and time only. */
    got = c[0];
    got.state = MDX_COMMAND_FAILED;
    snprintf(got.detail, sizeof(got.detail), "broker down");
    got.updated_ms = T0 + 9000;
    got.value = 1234; /* ignored by an update */
    CHECK_EQ_INT(mdx_store_command_put(st, &got), MDX_OK);
    CHECK_EQ_INT(mdx_store_command_get(st, "acme", c[0].id, &got), MDX_OK);
    CHECK_EQ_INT(got.state, MDX_COMMAND_FAILED);
    CHECK_STR(got.detail, "broker down");
    CHECK_EQ_INT(got.updated_ms, T0 + 9000);
    CHECK_EQ_INT(got.created_ms, T0);
    CHECK(got.value == 80.5);
    got.id = 999999;
    CHECK_EQ_INT(mdx_store_command_put(st, &got), MDX_ENOTFOUND);
    got.id = c[1].id; /* a command of another device */
    CHECK_EQ_INT(mdx_store_command_put(st, &got), MDX_ENOTFOUND);

    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_command_list(st, "acme", NULL, 0, collect_cmd, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 3);
    CHECK_EQ_INT(l.id[0], c[2].id); /* newest first */
    CHECK_EQ_INT(l.id[1], c[1].id);
    CHECK_EQ_INT(l.id[2], c[0].id);
    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_command_list(st, "acme", "press-1", 0, collect_cmd, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 2);
    CHECK_STR(l.device[0], "press-1");
    CHECK_STR(l.device[1], "press-1");
    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_command_list(st, "acme", NULL, 2, collect_cmd, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 2);
    CHECK_EQ_INT(l.id[0], c[2].id);
    CHECK_EQ_INT(mdx_store_command_list(st, "acme", "ghost", 0, collect_cmd, &l), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_command_list(st, "nope", NULL, 0, collect_cmd, &l), MDX_ENOTFOUND);
    store_close_fresh(st);
}

static void command_acks_update_their_command(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    struct mdx_command c[2], got;
    struct mdx_event ev[4];
    char body[MDX_EVENT_BODY_MAX], detail[300];
    int n = 0;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    c[0] = new_command("acme", "press-1", "speed_pct", 80, T0);
    c[1] = new_command("acme", "press-1", "speed_pct", 95, T0 + 1);
    CHECK_EQ_INT(mdx_store_command_put(st, &c[0]), MDX_OK);
    CHECK_EQ_INT(mdx_store_command_put(st, &c[1]), MDX_OK);

    memset(detail, 'd', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    set_event(&ev[0], MDX_MSG_COMMAND_ACK, T0 + 100, "");
    snprintf(ev[0].body, sizeof(ev[0].body),
             "{\"device_id\":\"press-1\",\"command_id\":%lld,\"status\":\"ok\"}",
             (long long)c[0].id);
    ev[0].command_id = c[0].id;
    ev[0].command_ok = 1;
    snprintf(body, sizeof(body),
             "{\"command_id\":%lld,\"status\":\"rejected\",\"detail\":\"%s\"}",
             (long long)c[1].id, detail);
    set_event(&ev[1], MDX_MSG_COMMAND_ACK, T0 + 200, body);
    ev[1].command_id = c[1].id;
    ev[1].command_ok = 0;
    /* An ack of a command nobody sent: stored, nothing else. */
    set_event(&ev[2], MDX_MSG_COMMAND_ACK, T0 + 300, "{\"command_id\":999999,\"status\":\"ok\"}");
    ev[2].command_id = 999999;
    ev[2].command_ok = 1;
    CHECK_EQ_INT(write_events(st, "acme", "press-1", ev, 3), MDX_OK);
    CHECK_EQ_INT(mdx_store_command_get(st, "acme", c[0].id, &got), MDX_OK);
    CHECK_EQ_INT(got.state, MDX_COMMAND_ACKED);
    CHECK_STR(got.detail, "");
    CHECK_EQ_INT(got.updated_ms, T0 + 100);
    CHECK_EQ_INT(mdx_store_command_get(st, "acme", c[1].id, &got), MDX_OK);
    CHECK_EQ_INT(got.state, MDX_COMMAND_REJECTED);
    CHECK_EQ_INT((int64_t)strlen(got.detail), (int64_t)sizeof(got.detail) - 1);
    CHECK(strncmp(got.detail, detail, sizeof(got.detail) - 1) == 0);
    CHECK_EQ_INT(got.updated_ms, T0 + 200);
    CHECK_EQ_INT(mdx_store_event_list(st, "acme", "press-1", 0, count_events, &n), MDX_OK);
    CHECK_EQ_INT(n, 3);

    /* Another device acking press-1's command changes nothing. */
    set_event(&ev[3], MDX_MSG_COMMAND_ACK, T0 + 400, "{\"command_id\":1,\"status\":\"ok\"}");
    ev[3].command_id = c[1].id;
    ev[3].command_ok = 1;
    CHECK_EQ_INT(write_events(st, "acme", "press-2", &ev[3], 1), MDX_OK);
    CHECK_EQ_INT(mdx_store_command_get(st, "acme", c[1].id, &got), MDX_OK);
    CHECK_EQ_INT(got.state, MDX_COMMAND_REJECTED);
    CHECK_EQ_INT(got.updated_ms, T0 + 200);
    store_close_fresh(st);
}

STORE_ON_BOTH(keeps_status_and_emergency_stop)
STORE_ON_BOTH(sets_and_gets_device_config)
STORE_ON_BOTH(deletes_a_device_and_only_it)
STORE_ON_BOTH(batch_update_of_a_deleted_devices_alert_is_dropped)
STORE_ON_BOTH(adds_gets_lists_and_revokes_api_keys)
STORE_ON_BOTH(puts_gets_and_lists_commands)
STORE_ON_BOTH(command_acks_update_their_command)

static const struct mdx_test tests[] = {
    STORE_CASE("store keeps status and emergency stop from events",
               keeps_status_and_emergency_stop),
    STORE_CASE("store sets and gets device config", sets_and_gets_device_config),
    STORE_CASE("store deletes a device and only it, also under another writer",
               deletes_a_device_and_only_it),
    STORE_CASE("store drops a batch update of a deleted device's alert",
               batch_update_of_a_deleted_devices_alert_is_dropped),
    STORE_CASE("store adds, gets, lists and revokes api keys",
               adds_gets_lists_and_revokes_api_keys),
    STORE_CASE("store puts, gets and lists commands", puts_gets_and_lists_commands),
    STORE_CASE("store command_ack events update their command", command_acks_update_their_command),
    {NULL, NULL}};

int main(int argc, char **argv)
{
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    return mdx_test_run(tests, argc, argv);
}
