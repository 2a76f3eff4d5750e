/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_alert_cli.c - `modax rule add|list|rm` and `modax alert
 * list|ack|resolve` (issue 4) on a store filled through the store
 * interface, and the bad inputs that must exit non-zero with a message
 * saying what to do: an unknown tenant, a bad comparison, a threshold of
 * "abc", acknowledging another tenant's alert (it must look like no such
 * alert), acknowledging twice, acknowledging a resolved alert.
 *
 * Every check runs against SQLite and against PostgreSQL (the program's
 * own throwaway cluster, see tests/support/pg.c): the test switches
 * MODAX_TEST_STORE itself, so it is not listed for a second run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/alert.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define T0 1760000400000LL /* 2025-10-09T09:00:00Z */

/* The back end of the running check: 0 SQLite, 1 PostgreSQL. */
static void use_store(int pgsql, char *dir, size_t len, const char *name)
{
    if (pgsql) {
        setenv("MODAX_TEST_STORE", "postgresql", 1);
    } else {
        unsetenv("MODAX_TEST_STORE");
        unsetenv("MODAX_STORE_BACKEND");
        unsetenv("MODAX_STORE_PGSQL_URL");
        unsetenv("MODAX_STORE_PGSQL_PASSWORD");
    }
    tmp_make(dir, len, name);
    modax_env(dir, 1);
    /* Only what the commands say goes to stderr (not "connected to PostgreSQL"). */
    setenv("MODAX_LOG_LEVEL", "warn", 1);
    mdx_log_setup(MDX_LOG_WARN, MDX_LOG_TEXT, 0);
}

/* Tenants acme (press-1, press-2) and globex (mill-1); three open alerts, ids in ids[]. */
static int fill_store(const char *dir, int64_t ids[3])
{
    static const struct {
        const char *tenant, *device, *source, *sensor;
        int severity;
        double value;
    } rows[] = {
        {"acme", "press-1", "rule:overcurrent", "current_mean", MDX_SEVERITY_WARNING, 12.5},
        {"acme", "press-2", "detector", "temperature_mean", MDX_SEVERITY_CRITICAL, 96.0},
        {"globex", "mill-1", "safety:emergency_stop", "", MDX_SEVERITY_CRITICAL, 1.0},
    };
    struct mdx_alert a[3];
    struct mdx_batch b = {0};
    struct mdx_store *st;
    int rc;

    st = test_store_open(dir);
    if (st == NULL) {
        return MDX_ESTORE;
    }
    rc = mdx_store_tenant_add(st, "acme");
    if (rc == MDX_OK) {
        rc = mdx_store_tenant_add(st, "globex");
    }
    if (rc == MDX_OK) {
        rc = mdx_store_device_add(st, "acme", "press-1", 0);
    }
    if (rc == MDX_OK) {
        rc = mdx_store_device_add(st, "globex", "mill-1", 0);
    }
    for (int i = 0; i < 3; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        snprintf(a[i].tenant, sizeof(a[i].tenant), "%s", rows[i].tenant);
        snprintf(a[i].device, sizeof(a[i].device), "%s", rows[i].device);
        snprintf(a[i].source, sizeof(a[i].source), "%s", rows[i].source);
        snprintf(a[i].sensor, sizeof(a[i].sensor), "%s", rows[i].sensor);
        a[i].severity = rows[i].severity;
        a[i].state = MDX_ALERT_OPEN;
        a[i].opened_ms = a[i].updated_ms = T0 + i * 60000LL;
        a[i].value = rows[i].value;
        snprintf(a[i].summary, sizeof(a[i].summary), "%s \"%s\" high", rows[i].device,
                 rows[i].sensor);
    }
    b.alerts = a;
    b.n_alerts = 3;
    if (rc == MDX_OK) {
        rc = mdx_store_write(st, &b, NULL);
    }
    for (int i = 0; i < 3; i++) {
        ids[i] = a[i].id;
    }
    mdx_store_close(st);
    return rc;
}

static int stored_alert(const char *dir, int64_t id, struct mdx_alert *out)
{
    struct mdx_store *st = test_store_open(dir);
    int rc;

    if (st == NULL) {
        return MDX_ESTORE;
    }
    rc = mdx_store_alert_get(st, NULL, id, out);
    mdx_store_close(st);
    return rc;
}

/* The line of 'out' that starts with 'prefix' followed by a space, or NULL. */
static const char *line_of(const char *out, const char *prefix)
{
    size_t n = strlen(prefix);

    const char *l = out;

    while (l != NULL && *l != '\0') {
        if (strncmp(l, prefix, n) == 0 && l[n] == ' ') {
            return l;
        }
        l = strchr(l, '\n');
        l = l != NULL ? l + 1 : NULL;
    }
    return NULL;
}

static int says(const char *err, const char *what)
{
    if (strstr(err, what) == NULL) {
        fprintf(stderr, "  expected '%s' in: %s\n", what, err);
        return 0;
    }
    return 1;
}

static void rule_add_list_rm(int pgsql)
{
    static char out[16384];
    char dir[256], err[2048], id1[32], id2[32];
    int64_t ids[3];
    const char *l;

    use_store(pgsql, dir, sizeof(dir), "rule-cli");
    CHECK_EQ_INT(fill_store(dir, ids), MDX_OK);

    /* The defaults. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "list", "acme", NULL), 0);
    CHECK(strncmp(out, "ID ", 3) == 0);
    CHECK(strstr(out, "overcurrent") != NULL && strstr(out, "overtemperature") != NULL);
    CHECK(strstr(out, "current_mean") != NULL && strstr(out, "> 10 ") != NULL);
    CHECK(strstr(out, "> 80 ") != NULL);

    /* A rule for a device type; the same again replaces it and keeps the id. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "add", "acme", "--name", "overcurrent",
                           "--sensor", "current_mean", "--cmp", ">=", "--threshold", "12.5",
                           "--device-type", "press", "--min-duration", "30s", "--severity",
                           "critical", "--hysteresis", "0.25", NULL),
                 0);
    snprintf(id1, sizeof(id1), "%lld", strtoll(out, NULL, 10));
    CHECK(strcspn(out, "\n") == strlen(id1) && strcmp(out + strlen(id1), "\n") == 0);
    CHECK(strtoll(id1, NULL, 10) > 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "add", "acme", "--name", "overcurrent",
                           "--sensor", "current_mean", "--cmp", "ge", "--threshold", "13",
                           "--device-type", "press", "--min-duration", "2m", "--severity",
                           "critical", "--disabled", NULL),
                 0);
    snprintf(id2, sizeof(id2), "%lld", strtoll(out, NULL, 10));
    CHECK_STR(id2, id1);
    /* A device rule with a negative threshold. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "add", "acme", "--name", "cold",
                           "--sensor", "temperature_mean", "--cmp", "lt", "--threshold", "-5",
                           "--device", "press-1", NULL),
                 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "list", "acme", NULL), 0);
    l = line_of(out, id1);
    CHECK(l != NULL);
    if (l != NULL) {
        CHECK(strstr(l, "type:press") != NULL);
        CHECK(strstr(l, ">= 13 ") != NULL);
        CHECK(strstr(l, " 2m ") != NULL);
        CHECK(strstr(l, "critical") != NULL);
        CHECK(strstr(l, " no\n") != NULL);
    }
    CHECK(strstr(out, "device:press-1") != NULL && strstr(out, "< -5 ") != NULL);

    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "rm", "acme", id1, NULL), 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "rule", "rm", "acme", id1, NULL), 3);
    CHECK(says(err, "has no rule") && says(err, "modax rule list acme"));
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "list", "acme", NULL), 0);
    CHECK(strstr(out, "type:press") == NULL);
    /* Another tenant's rule id is not found, and stays. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "list", "globex", NULL), 0);
    {
        char gid[32];
        const char *first = strchr(out, '\n');

        snprintf(gid, sizeof(gid), "%lld", first != NULL ? strtoll(first + 1, NULL, 10) : 0LL);
        CHECK_EQ_INT(modax_stderr(err, sizeof(err), "rule", "rm", "acme", gid, NULL), 3);
        CHECK(says(err, "has no rule"));
        CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "list", "globex", NULL), 0);
        CHECK(line_of(out, gid) != NULL);
    }
    tmp_remove(dir);
}

static void rule_bad_inputs(int pgsql)
{
    static const struct {
        const char *opt, *val, *says;
    } cases[] = {
        {"--cmp", "~", "--cmp '~' is not a comparison; use gt, ge, lt or le"},
        {"--cmp", "", "is not a comparison"},
        {"--threshold", "abc", "--threshold 'abc' is not a number"},
        {"--threshold", "nan", "is not a number"},
        {"--threshold", "1e999", "is not a number"},
        {"--hysteresis", "-1", "--hysteresis '-1' must be a number >= 0"},
        {"--min-duration", "5x", "--min-duration '5x' is not a duration"},
        {"--min-duration", "30", "is not a duration"},
        {"--min-duration", "8d", "at most 7d"},
        {"--severity", "urgent", "--severity 'urgent' is unknown"},
        {"--name", "two words", "--name 'two words' is not a valid name"},
        {"--sensor", "Current", "--sensor 'Current' is not a sensor name"},
        {"--device", "press-1", "give --device-type or --device, not both"},
    };
    static char out[4096];
    char dir[256], err[2048];
    int64_t ids[3];

    use_store(pgsql, dir, sizeof(dir), "rule-cli-bad");
    CHECK_EQ_INT(fill_store(dir, ids), MDX_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ_INT(modax_stderr(err, sizeof(err), "rule", "add", "acme", "--name", "hot",
                                  "--sensor", "temperature_mean", "--cmp", "gt", "--threshold",
                                  "90", "--device-type", "oven", cases[i].opt, cases[i].val,
                                  NULL),
                     2);
        CHECK(says(err, cases[i].says));
    }
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "rule", "add", "acme", "--name", "hot",
                              "--sensor", "temperature_mean", "--cmp", "gt", NULL),
                 2);
    CHECK(says(err, "--threshold are required"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "rule", "add", "nobody", "--name", "hot",
                              "--sensor", "temperature_mean", "--cmp", "gt", "--threshold", "90",
                              NULL),
                 3);
    CHECK(says(err, "no such tenant 'nobody'; see 'modax tenant list'"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "rule", "list", "nobody", NULL), 3);
    CHECK(says(err, "no such tenant 'nobody'"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "rule", "rm", "acme", "abc", NULL), 2);
    CHECK(says(err, "is not a rule id"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "rule", "frob", NULL), 2);
    CHECK(says(err, "usage: modax rule"));
    /* Nothing was stored by any of them. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "list", "acme", NULL), 0);
    CHECK(strstr(out, "hot") == NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rule", "--help", NULL), 0);
    CHECK(strstr(out, "Exit codes") != NULL);
    tmp_remove(dir);
}

static void alert_list_ack_resolve(int pgsql)
{
    static char out[16384];
    char dir[256], err[2048], id0[32], id1[32], id2[32], none[32], e_other[2048];
    struct mdx_alert a;
    int64_t ids[3];
    cJSON *json;

    use_store(pgsql, dir, sizeof(dir), "alert-cli");
    CHECK_EQ_INT(fill_store(dir, ids), MDX_OK);
    CHECK(ids[0] > 0 && ids[1] > 0 && ids[2] > 0);
    snprintf(id0, sizeof(id0), "%lld", (long long)ids[0]);
    snprintf(id1, sizeof(id1), "%lld", (long long)ids[1]);
    snprintf(id2, sizeof(id2), "%lld", (long long)ids[2]);
    snprintf(none, sizeof(none), "%lld", (long long)ids[2] + 1000);

    /* Listing: every tenant, one tenant, filters, JSON. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "list", NULL), 0);
    CHECK(line_of(out, id0) && line_of(out, id1) && line_of(out, id2));
    CHECK(strstr(out, id2) > strstr(out, "\n")); /* below the header */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "list", "--tenant", "acme", NULL), 0);
    CHECK(line_of(out, id0) != NULL && line_of(out, id1) != NULL && line_of(out, id2) == NULL);
    CHECK(line_of(out, id1) < line_of(out, id0)); /* newest first */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "list", "--tenant", "acme", "--severity",
                           "critical", NULL),
                 0);
    CHECK(line_of(out, id1) != NULL && line_of(out, id0) == NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "list", "--device", "press-1", NULL), 0);
    CHECK(line_of(out, id0) != NULL && line_of(out, id1) == NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "list", "--limit", "1", NULL), 0);
    CHECK(line_of(out, id2) != NULL && line_of(out, id1) == NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "list", "--tenant", "acme", "--json", NULL),
                 0);
    json = cJSON_Parse(out);
    CHECK(cJSON_IsArray(json) && cJSON_GetArraySize(json) == 2);
    if (cJSON_IsArray(json) && cJSON_GetArraySize(json) == 2) {
        cJSON *o = cJSON_GetArrayItem(json, 0);
        CHECK(cJSON_GetObjectItem(o, "id")->valuedouble == (double)ids[1]);
        CHECK_STR(cJSON_GetObjectItem(o, "state")->valuestring, "open");
        CHECK_STR(cJSON_GetObjectItem(o, "severity")->valuestring, "critical");
        CHECK_STR(cJSON_GetObjectItem(o, "device")->valuestring, "press-2");
        CHECK_STR(cJSON_GetObjectItem(o, "summary")->valuestring,
                  "press-2 \"temperature_mean\" high");
        CHECK(cJSON_GetObjectItem(o, "value")->valuedouble == 96.0);
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(o, "resolved")));
    }
    cJSON_Delete(json);

    /* Acknowledge; twice changes nothing (4). */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "ack", "acme", id0, NULL), 0);
    CHECK(strstr(out, "acknowledged") != NULL);
    CHECK_EQ_INT(stored_alert(dir, ids[0], &a), MDX_OK);
    CHECK_EQ_INT(a.state, MDX_ALERT_ACKNOWLEDGED);
    CHECK(a.updated_ms > T0 && a.resolved_ms == 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "ack", "acme", id0, NULL), 4);
    CHECK(says(err, "is acknowledged already; nothing changed"));
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "list", "--tenant", "acme", "--state",
                           "acknowledged", NULL),
                 0);
    CHECK(line_of(out, id0) != NULL && line_of(out, id1) == NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "list", "--tenant", "acme", "--state",
                           "active", NULL),
                 0);
    CHECK(line_of(out, id0) != NULL && line_of(out, id1) != NULL);

    /* Resolve; then ack and resolve again are refused (4), nothing changes. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "resolve", "acme", id0, NULL), 0);
    CHECK(strstr(out, "resolved") != NULL);
    CHECK_EQ_INT(stored_alert(dir, ids[0], &a), MDX_OK);
    CHECK_EQ_INT(a.state, MDX_ALERT_RESOLVED);
    CHECK(a.resolved_ms > T0 && a.resolved_ms == a.updated_ms);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "ack", "acme", id0, NULL), 4);
    CHECK(says(err, "is resolved already and cannot be acknowledged"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "resolve", "acme", id0, NULL), 4);
    CHECK(says(err, "is resolved already; nothing changed"));
    CHECK_EQ_INT(stored_alert(dir, ids[0], &a), MDX_OK);
    CHECK_EQ_INT(a.state, MDX_ALERT_RESOLVED);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "list", "--state", "resolved", NULL), 0);
    CHECK(line_of(out, id0) != NULL && line_of(out, id1) == NULL);
    /* An open alert can be resolved directly. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "resolve", "acme", id1, NULL), 0);

    /* Another tenant's alert looks exactly like an alert that does not exist. */
    CHECK_EQ_INT(modax_stderr(e_other, sizeof(e_other), "alert", "ack", "acme", id2, NULL), 3);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "ack", "acme", none, NULL), 3);
    CHECK(says(e_other, "tenant 'acme' has no alert"));
    {
        char want[256];
        snprintf(want, sizeof(want), "modax alert ack: tenant 'acme' has no alert %s; see "
                 "'modax alert list --tenant acme'\n", id2);
        CHECK_STR(e_other, want);
        snprintf(want, sizeof(want), "modax alert ack: tenant 'acme' has no alert %s; see "
                 "'modax alert list --tenant acme'\n", none);
        CHECK_STR(err, want);
    }
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "resolve", "acme", id2, NULL), 3);
    CHECK_EQ_INT(stored_alert(dir, ids[2], &a), MDX_OK);
    CHECK_EQ_INT(a.state, MDX_ALERT_OPEN);

    /* Bad inputs. */
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "ack", "nobody", id0, NULL), 3);
    CHECK(says(err, "no such tenant 'nobody'"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "list", "--tenant", "nobody", NULL), 3);
    CHECK(says(err, "no such tenant 'nobody'"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "ack", "acme", "abc", NULL), 2);
    CHECK(says(err, "is not an alert id"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "ack", "acme", "-3", NULL), 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "list", "--state", "closed", NULL), 2);
    CHECK(says(err, "--state 'closed' is unknown"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "list", "--limit", "0", NULL), 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "list", "acme", NULL), 2);
    CHECK(says(err, "--tenant T"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "alert", "ack", "acme", NULL), 2);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "--help", NULL), 0);
    CHECK(strstr(out, "Exit codes") != NULL);
    tmp_remove(dir);
}

static void device_types_in_the_cli(int pgsql)
{
    static char out[8192];
    char dir[256], err[2048];
    int64_t ids[3];

    use_store(pgsql, dir, sizeof(dir), "device-type-cli");
    CHECK_EQ_INT(fill_store(dir, ids), MDX_OK);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "add", "acme", "press-9", "--type",
                           "press", NULL),
                 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "show", "acme", "press-9", NULL), 0);
    CHECK(strstr(out, "type:       press\n") != NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "set-type", "acme", "press-1", "oven",
                           NULL),
                 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "list", "acme", NULL), 0);
    CHECK(strstr(out, "type=oven") != NULL && strstr(out, "type=press") != NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "set-type", "acme", "press-1", "", NULL),
                 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "show", "acme", "press-1", NULL), 0);
    CHECK(strstr(out, "type:       -\n") != NULL);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "set-type", "acme", "ghost", "oven",
                              NULL),
                 3);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "set-type", "acme", "press-1", "a b",
                              NULL),
                 2);
    CHECK(says(err, "is not a valid name"));
    tmp_remove(dir);
}

static void sqlite_rule_add_list_rm(void)
{
    rule_add_list_rm(0);
}
static void pgsql_rule_add_list_rm(void)
{
    rule_add_list_rm(1);
}
static void sqlite_rule_bad_inputs(void)
{
    rule_bad_inputs(0);
}
static void pgsql_rule_bad_inputs(void)
{
    rule_bad_inputs(1);
}
static void sqlite_alert_list_ack_resolve(void)
{
    alert_list_ack_resolve(0);
}
static void pgsql_alert_list_ack_resolve(void)
{
    alert_list_ack_resolve(1);
}
static void sqlite_device_types_in_the_cli(void)
{
    device_types_in_the_cli(0);
}
static void pgsql_device_types_in_the_cli(void)
{
    device_types_in_the_cli(1);
}

static const struct mdx_test tests[] = {
    {"sqlite: issue 4: rule add replaces by scope, list, rm", sqlite_rule_add_list_rm},
    {"sqlite: issue 4: rule add with unknown tenant, bad cmp, threshold abc... exits non-zero",
     sqlite_rule_bad_inputs},
    {"sqlite: issue 4: alert list, ack, resolve; other tenant's id, ack twice, ack resolved",
     sqlite_alert_list_ack_resolve},
    {"sqlite: device add --type, set-type, show and list", sqlite_device_types_in_the_cli},
    {"pgsql: issue 4: rule add replaces by scope, list, rm", pgsql_rule_add_list_rm},
    {"pgsql: issue 4: rule add with unknown tenant, bad cmp, threshold abc... exits non-zero",
     pgsql_rule_bad_inputs},
    {"pgsql: issue 4: alert list, ack, resolve; other tenant's id, ack twice, ack resolved",
     pgsql_alert_list_ack_resolve},
    {"pgsql: device add --type, set-type, show and list", pgsql_device_types_in_the_cli},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
