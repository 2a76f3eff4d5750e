/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_alert_alertmanager.c - the Alertmanager sink against the real
 * Prometheus Alertmanager from Debian (prometheus-alertmanager), started
 * here on a free loopback port with gossip off and a null receiver. A
 * missing binary fails the tests. Issue 4: an open alert is listed with
 * its labels; re-posting keeps it active past resolve_timeout; a resolve
 * ends it; Alertmanager down then back (hung, then restarted; a few
 * seconds each rather than the minute, to keep the suite short):
 * alerts appear after it is back and a resolve queued meanwhile ends its
 * alert.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/alert.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"
#include "net/http_client.h"
#include "support/support.h"

struct am {
    pid_t pid;
    int port;
    char dir[256];
    char url[64];
    const char *resolve_timeout;
};

static struct am am_short = {.resolve_timeout = "5s"}; /* tests of refresh and resolve */
static struct am am_long = {.resolve_timeout = "5m"};  /* outages: only a resolve ends alerts */

/* GET or POST 'path' of 'm'; the answer's status (0: none) and body into *body (caller frees). */
static long am_http(const struct am *m, const char *method, const char *path, const char *body,
                    char **out)
{
    struct mdx_http h;
    struct mdx_http_resp rs;
    struct curl_slist *hdrs = NULL;
    char url[256];
    long status;

    *out = NULL;
    if (mdx_http_init(&h, 3000) != MDX_OK) {
        return 0;
    }
    snprintf(url, sizeof(url), "%s%s", m->url, path);
    mdx_http_header(&hdrs, "Content-Type", "application/json");
    struct mdx_http_req rq = {method, url, hdrs, body, body ? strlen(body) : 0, 1 << 20};
    mdx_http_do(&h, &rq, &rs);
    status = rs.status;
    *out = mdx_buf_take(&rs.body);
    mdx_http_resp_fini(&rs);
    mdx_http_headers_free(hdrs);
    mdx_http_fini(&h);
    return status;
}

static int am_launch(struct am *m)
{
    char cfg[300], store[300], listen[64], log[300];

    snprintf(cfg, sizeof(cfg), "--config.file=%s/am.yml", m->dir);
    snprintf(store, sizeof(store), "--storage.path=%s/data", m->dir);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", m->port);
    snprintf(log, sizeof(log), "%s/alertmanager.log", m->dir);
    m->pid = fork();
    if (m->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp("prometheus-alertmanager", "prometheus-alertmanager", cfg, store, listen,
               "--cluster.listen-address=", "--log.level=warn", (char *)NULL);
        fprintf(stderr, "cannot run prometheus-alertmanager (apt-get install "
                        "prometheus-alertmanager)\n");
        _exit(127);
    }
    if (m->pid < 0) {
        return -1;
    }
    for (int i = 0; i < 300; i++) {
        char *body;
        int st;
        long code = am_http(m, "GET", "/-/ready", NULL, &body);
        mdx_free(body);
        if (code == 200) {
            return 0;
        }
        if (waitpid(m->pid, &st, WNOHANG) == m->pid) {
            fprintf(stderr, "  alertmanager exited (status %d); see %s\n", st, log);
            m->pid = 0;
            return -1;
        }
        mdx_sleep_ms(50);
    }
    fprintf(stderr, "  alertmanager not ready; see %s\n", log);
    return -1;
}

/*
 * Sends SIGSTOP or SIGCONT to 'm' and waits until the kernel reports it
 * stopped or running again. 0 if so; -1 (said on stderr) if it is not our
 * running child, e.g. it exited and something else answers on its port.
 */
static int am_signal_wait(struct am *m, int sig)
{
    int st = 0;

    if (m->pid <= 0 || kill(m->pid, sig) != 0 ||
        waitpid(m->pid, &st, sig == SIGSTOP ? WUNTRACED : WCONTINUED) != m->pid) {
        fprintf(stderr, "  alertmanager (pid %d): no such child\n", (int)m->pid);
        return -1;
    }
    if (sig == SIGSTOP ? !WIFSTOPPED(st) : !WIFCONTINUED(st)) {
        fprintf(stderr, "  alertmanager (pid %d) exited (status %d), not %s\n", (int)m->pid, st,
                sig == SIGSTOP ? "stopped" : "continued");
        m->pid = 0;
        return -1;
    }
    return 0;
}

static void am_kill(struct am *m)
{
    if (m->pid > 0) {
        kill(m->pid, SIGCONT); /* in case a test left it stopped */
        kill(m->pid, SIGTERM);
        waitpid(m->pid, NULL, 0);
        m->pid = 0;
    }
}

/* Starts 'm' once per program (temp folder, free port, minimal config); 0 if running. */
static int am_get(struct am *m)
{
    char path[300];
    FILE *f;

    if (m->pid > 0) {
        return 0;
    }
    if (m->dir[0] == '\0') {
        tmp_make(m->dir, sizeof(m->dir), "alertmanager");
        m->port = free_port();
        snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%d", m->port);
        snprintf(path, sizeof(path), "%s/am.yml", m->dir);
        f = fopen(path, "w");
        if (f == NULL) {
            return -1;
        }
        fprintf(f, "global:\n  resolve_timeout: %s\n"
                   "route:\n  receiver: devnull\n  group_by: [alertname, tenant]\n"
                   "  group_wait: 1s\n"
                   "receivers:\n  - name: devnull\n",
                m->resolve_timeout);
        fclose(f);
    }
    return am_launch(m);
}

/*
 * Active alerts of 'device' (tenant "acme") in 'm': their number, or -1 when
 * Alertmanager did not answer. The first one's labels and annotations are
 * copied into *first when it is not NULL (caller cJSON_Delete()s it).
 */
static int am_active(const struct am *m, const char *device, cJSON **first)
{
    char *body = NULL;
    cJSON *arr, *it;
    int n = 0;

    if (first != NULL) {
        *first = NULL;
    }
    if (am_http(m, "GET", "/api/v2/alerts?active=true", NULL, &body) != 200) {
        mdx_free(body);
        return -1;
    }
    arr = cJSON_Parse(body);
    mdx_free(body);
    cJSON_ArrayForEach(it, arr)
    {
        cJSON *labels = cJSON_GetObjectItem(it, "labels");
        const char *dev = cJSON_GetStringValue(cJSON_GetObjectItem(labels, "device"));
        const char *ten = cJSON_GetStringValue(cJSON_GetObjectItem(labels, "tenant"));
        if (dev == NULL || ten == NULL || strcmp(dev, device) != 0 || strcmp(ten, "acme") != 0) {
            continue;
        }
        if (n++ == 0 && first != NULL) {
            *first = cJSON_Duplicate(it, 1);
        }
    }
    cJSON_Delete(arr);
    return n;
}

/* Waits until am_active(device) == want; returns the last count. */
static int wait_active(const struct am *m, const char *device, int want, int timeout_ms)
{
    int64_t end = mdx_mono_us() + (int64_t)timeout_ms * 1000;
    int n;

    while ((n = am_active(m, device, NULL)) != want && mdx_mono_us() < end) {
        mdx_sleep_ms(100);
    }
    return n;
}

static struct mdx_sink_conf am_conf(const struct am *m, int64_t refresh_s)
{
    return (struct mdx_sink_conf){.webhook_url = "", .alertmanager_url = (char *)m->url,
                                  .timeout_ms = 500, .queue_max = 100, .retry_max_ms = 1000,
                                  .refresh_s = refresh_s};
}

static struct mdx_alert alert_of(const char *device, const char *source, const char *sensor,
                                 int state)
{
    struct mdx_alert a;

    memset(&a, 0, sizeof(a));
    a.id = 7;
    snprintf(a.tenant, sizeof(a.tenant), "acme");
    snprintf(a.device, sizeof(a.device), "%s", device);
    snprintf(a.source, sizeof(a.source), "%s", source);
    snprintf(a.sensor, sizeof(a.sensor), "%s", sensor);
    a.severity = MDX_SEVERITY_CRITICAL;
    a.state = state;
    /* Whole seconds ago, so that every state of the alert has the same opening time. */
    a.opened_ms = (mdx_now_ms() / 60000 - 2) * 60000;
    a.updated_ms = a.opened_ms;
    a.value = 12.5;
    snprintf(a.summary, sizeof(a.summary), "%s over its limit", sensor[0] ? sensor : source);
    return a;
}

static struct mdx_alert resolved(struct mdx_alert a)
{
    a.state = MDX_ALERT_RESOLVED;
    a.resolved_ms = mdx_now_ms() - 1000;
    a.updated_ms = a.resolved_ms;
    return a;
}

static struct mdx_sink_stats stats_of(struct mdx_dispatch *d)
{
    struct mdx_sink_stats st;

    memset(&st, 0, sizeof(st));
    mdx_dispatch_stats(d, &st, 1);
    return st;
}

static const char *label(const cJSON *alert, const char *section, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(alert, section), k));
}

static void open_alert_is_listed_with_labels(void)
{
    struct mdx_sink_conf conf;
    struct mdx_dispatch *d;
    cJSON *got = NULL;
    int err;

    CHECK(am_get(&am_short) == 0);
    conf = am_conf(&am_short, 60);
    d = mdx_dispatch_create(&conf, &err);
    CHECK(d != NULL);
    if (d == NULL) {
        return;
    }
    struct mdx_alert a = alert_of("pump-7", "rule:overload", "current_mean", MDX_ALERT_OPEN);
    struct mdx_alert s = alert_of("press-9", "safety:emergency-stop", "", MDX_ALERT_OPEN);
    struct mdx_alert x = alert_of("fan-3", "detector", "vibration_rms", MDX_ALERT_ACKNOWLEDGED);
    x.severity = MDX_SEVERITY_WARNING;
    x.score = 0.93;
    mdx_dispatch_submit(d, &a);
    mdx_dispatch_submit(d, &s);
    mdx_dispatch_submit(d, &x);
    CHECK_EQ_INT(wait_active(&am_short, "pump-7", 1, 15000), 1);
    CHECK(am_active(&am_short, "pump-7", &got) == 1);
    CHECK_STR(label(got, "labels", "alertname"), "ModaxRule_overload");
    CHECK_STR(label(got, "labels", "tenant"), "acme");
    CHECK_STR(label(got, "labels", "device"), "pump-7");
    CHECK_STR(label(got, "labels", "sensor"), "current_mean");
    CHECK_STR(label(got, "labels", "severity"), "critical");
    CHECK_STR(label(got, "labels", "source"), "rule:overload");
    CHECK_STR(label(got, "annotations", "summary"), "current_mean over its limit");
    CHECK_STR(label(got, "annotations", "value"), "12.5");
    CHECK_STR(label(got, "annotations", "alert_id"), "7");
    char starts[32];
    mdx_format_iso_ms(a.opened_ms, starts, sizeof(starts));
    CHECK(strncmp(cJSON_GetStringValue(cJSON_GetObjectItem(got, "startsAt")), starts, 19) == 0);
    cJSON_Delete(got);

    CHECK_EQ_INT(wait_active(&am_short, "press-9", 1, 15000), 1);
    am_active(&am_short, "press-9", &got);
    CHECK_STR(label(got, "labels", "alertname"), "ModaxSafety_emergency_stop");
    CHECK(label(got, "labels", "sensor") == NULL);
    cJSON_Delete(got);

    CHECK_EQ_INT(wait_active(&am_short, "fan-3", 1, 15000), 1);
    am_active(&am_short, "fan-3", &got);
    CHECK_STR(label(got, "labels", "alertname"), "ModaxAnomaly");
    CHECK_STR(label(got, "labels", "severity"), "warning");
    CHECK_STR(label(got, "annotations", "score"), "0.93000000000000005");
    CHECK_STR(label(got, "annotations", "state"), "acknowledged");
    cJSON_Delete(got);
    /* The worker books a delivery after Alertmanager answered: a moment after it lists it. */
    CHECK_WAIT(stats_of(d).delivered == 3, 5000);
    CHECK_EQ_INT(stats_of(d).rejected, 0);

    /* Clean up for the other tests: resolve all three. */
    a = resolved(a);
    s = resolved(s);
    x = resolved(x);
    mdx_dispatch_submit(d, &a);
    mdx_dispatch_submit(d, &s);
    mdx_dispatch_submit(d, &x);
    mdx_dispatch_destroy(d, 3000);
    CHECK_EQ_INT(wait_active(&am_short, "pump-7", 0, 15000), 0);
}

static void reposting_keeps_alert_past_resolve_timeout(void)
{
    struct mdx_sink_conf conf;
    struct mdx_dispatch *d;
    char *ans = NULL, body[512], starts[32];
    int err;

    CHECK(am_get(&am_short) == 0);
    conf = am_conf(&am_short, 1);
    d = mdx_dispatch_create(&conf, &err);
    CHECK(d != NULL);
    if (d == NULL) {
        return;
    }
    struct mdx_alert a = alert_of("mill-2", "rule:overheat", "temperature_mean", MDX_ALERT_OPEN);
    mdx_dispatch_submit(d, &a);
    /* A control alert posted once, as a client that does not re-post would. */
    mdx_format_iso_ms(mdx_now_ms(), starts, sizeof(starts));
    snprintf(body, sizeof(body),
             "[{\"labels\":{\"alertname\":\"Control\",\"tenant\":\"acme\","
             "\"device\":\"control-1\"},"
             "\"startsAt\":\"%s\"}]", starts);
    CHECK_EQ_INT(am_http(&am_short, "POST", "/api/v2/alerts", body, &ans), 200);
    mdx_free(ans);
    CHECK_EQ_INT(wait_active(&am_short, "mill-2", 1, 15000), 1);
    CHECK_EQ_INT(am_active(&am_short, "control-1", NULL), 1); /* answered 200: listed now */

    mdx_sleep_ms(7500); /* past resolve_timeout (5 s) */
    CHECK_EQ_INT(am_active(&am_short, "control-1", NULL), 0);
    CHECK_EQ_INT(am_active(&am_short, "mill-2", NULL), 1);
    CHECK(stats_of(d).delivered >= 5); /* the first post and a refresh each second */

    a = resolved(a);
    mdx_dispatch_submit(d, &a);
    mdx_dispatch_destroy(d, 3000);
}

static void resolve_ends_alert(void)
{
    struct mdx_sink_conf conf;
    struct mdx_dispatch *d;
    int err;

    CHECK(am_get(&am_short) == 0);
    conf = am_conf(&am_short, 1);
    d = mdx_dispatch_create(&conf, &err);
    CHECK(d != NULL);
    if (d == NULL) {
        return;
    }
    struct mdx_alert a = alert_of("drill-4", "rule:overload", "current_mean", MDX_ALERT_OPEN);
    mdx_dispatch_submit(d, &a);
    CHECK_EQ_INT(wait_active(&am_short, "drill-4", 1, 15000), 1);
    a = resolved(a);
    mdx_dispatch_submit(d, &a);
    CHECK_EQ_INT(wait_active(&am_short, "drill-4", 0, 15000), 0);
    mdx_sleep_ms(2500); /* no refresh brings it back */
    CHECK_EQ_INT(am_active(&am_short, "drill-4", NULL), 0);
    mdx_dispatch_destroy(d, 1000);
    am_kill(&am_short); /* done with the short resolve_timeout */
}

/*
 * Alertmanager hangs (SIGSTOP: connections are accepted, nothing answers)
 * for 6 s. The refresh interval is long, so nothing was under way when it
 * stopped; with resolve_timeout 5m only the explicit resolve can end line-1.
 */
static void alertmanager_hung_then_back(void)
{
    struct mdx_sink_conf conf;
    struct mdx_dispatch *d;
    int err;

    CHECK(am_get(&am_long) == 0);
    conf = am_conf(&am_long, 60);
    d = mdx_dispatch_create(&conf, &err);
    CHECK(d != NULL && am_long.pid > 0);
    if (d == NULL || am_long.pid <= 0) {
        mdx_dispatch_destroy(d, 0);
        return;
    }
    struct mdx_alert l1 = alert_of("line-1", "rule:overload", "current_mean", MDX_ALERT_OPEN);
    struct mdx_alert l2 = alert_of("line-2", "rule:overload", "current_mean", MDX_ALERT_OPEN);
    struct mdx_alert l3 = alert_of("line-3", "safety:door-open", "", MDX_ALERT_OPEN);
    mdx_dispatch_submit(d, &l1);
    mdx_dispatch_submit(d, &l2);
    CHECK_EQ_INT(wait_active(&am_long, "line-1", 1, 15000), 1);
    CHECK_EQ_INT(wait_active(&am_long, "line-2", 1, 15000), 1);
    /*
     * Alertmanager lists a change before it answers the post: wait until the
     * sink has its answers, so that no attempt is under way when it stops.
     */
    CHECK_WAIT(stats_of(d).queued == 0, 5000);

    /*
     * kill() only queues the signal: wait until the kernel reports it stopped,
     * or a change submitted at once may still get its answer on a busy machine.
     */
    CHECK(am_signal_wait(&am_long, SIGSTOP) == 0);
    l1 = resolved(l1);
    mdx_dispatch_submit(d, &l1);
    mdx_dispatch_submit(d, &l3);
    mdx_sleep_ms(6000); /* the outage itself: Alertmanager stays hung this long */
    CHECK_WAIT(stats_of(d).retries >= 3, 10000);
    struct mdx_sink_stats st = stats_of(d);
    /* Both changes wait (one may be in an attempt at this moment); none is lost. */
    CHECK(st.queued >= 1 && st.queued <= 2);
    if (st.queued < 1 || st.queued > 2) {
        fprintf(stderr, "  queued=%llu retries=%llu delivered=%llu rejected=%llu\n",
                (unsigned long long)st.queued, (unsigned long long)st.retries,
                (unsigned long long)st.delivered, (unsigned long long)st.rejected);
    }
    CHECK_EQ_INT(st.overflow, 0);
    CHECK(am_signal_wait(&am_long, SIGCONT) == 0);

    /* Back: the queued resolve and the new alert arrive after the back-off (<= 1 s). */
    CHECK_EQ_INT(wait_active(&am_long, "line-3", 1, 15000), 1);
    CHECK_EQ_INT(wait_active(&am_long, "line-1", 0, 15000), 0);
    CHECK_EQ_INT(am_active(&am_long, "line-2", NULL), 1);
    /*
     * The worker removes a change from its queue when Alertmanager's answer is
     * back, which can be a moment after Alertmanager lists the change (a busy
     * machine): wait for it rather than look once.
     */
    CHECK_WAIT(stats_of(d).queued == 0, 5000);
    st = stats_of(d);
    CHECK_EQ_INT(st.queued, 0);
    CHECK_EQ_INT(st.rejected, 0);

    l2 = resolved(l2);
    l3 = resolved(l3);
    mdx_dispatch_submit(d, &l2);
    mdx_dispatch_submit(d, &l3);
    mdx_dispatch_destroy(d, 3000);
    CHECK_EQ_INT(wait_active(&am_long, "line-2", 0, 15000), 0);
    CHECK_EQ_INT(am_active(&am_long, "line-3", NULL), 0);
}

/*
 * Alertmanager stops (connections refused) for 4 s and starts again on the
 * same port. It keeps no alerts across a restart: the firing ones come back
 * through the refresh, the one opened meanwhile through the queue, and the
 * one resolved meanwhile does not come back.
 */
static void alertmanager_restarted_then_back(void)
{
    struct mdx_sink_conf conf;
    struct mdx_dispatch *d;
    int err;

    CHECK(am_get(&am_long) == 0);
    conf = am_conf(&am_long, 1);
    d = mdx_dispatch_create(&conf, &err);
    CHECK(d != NULL);
    if (d == NULL) {
        return;
    }
    struct mdx_alert l5 = alert_of("line-5", "rule:overload", "current_mean", MDX_ALERT_OPEN);
    struct mdx_alert l6 = alert_of("line-6", "detector", "vibration_rms", MDX_ALERT_OPEN);
    struct mdx_alert l7 = alert_of("line-7", "rule:overheat", "temperature_mean", MDX_ALERT_OPEN);
    mdx_dispatch_submit(d, &l5);
    mdx_dispatch_submit(d, &l6);
    CHECK_EQ_INT(wait_active(&am_long, "line-5", 1, 15000), 1);
    CHECK_EQ_INT(wait_active(&am_long, "line-6", 1, 15000), 1);

    am_kill(&am_long);
    l5 = resolved(l5);
    mdx_dispatch_submit(d, &l5);
    mdx_dispatch_submit(d, &l7);
    mdx_sleep_ms(4000); /* the outage itself: Alertmanager stays down this long */
    CHECK_WAIT(stats_of(d).retries >= 3, 10000);
    CHECK(am_get(&am_long) == 0);

    CHECK_EQ_INT(wait_active(&am_long, "line-7", 1, 15000), 1);
    CHECK_EQ_INT(wait_active(&am_long, "line-6", 1, 15000), 1); /* re-posted by the refresh */
    mdx_sleep_ms(1500); /* a refresh round later: the resolved one stays away */
    CHECK_EQ_INT(am_active(&am_long, "line-5", NULL), 0);
    CHECK_WAIT(stats_of(d).queued == 0, 5000); /* booked after Alertmanager's answer */
    struct mdx_sink_stats st = stats_of(d);
    CHECK_EQ_INT(st.queued, 0);
    CHECK_EQ_INT(st.rejected, 0);
    CHECK_EQ_INT(st.overflow, 0);
    mdx_dispatch_destroy(d, 1000);
}

static const struct mdx_test tests[] = {
    {"issue 4: open alert is listed with its labels", open_alert_is_listed_with_labels},
    {"issue 4: re-posting keeps a firing alert past resolve_timeout",
     reposting_keeps_alert_past_resolve_timeout},
    {"issue 4: resolve ends the alert", resolve_ends_alert},
    {"issue 4: Alertmanager hung, then back: queued resolve ends its alert",
     alertmanager_hung_then_back},
    {"issue 4: Alertmanager restarted: alerts come back, resolved stay away",
     alertmanager_restarted_then_back},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    int rc;

    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 10000);
    rc = mdx_test_run(tests, argc, argv);
    am_kill(&am_short);
    am_kill(&am_long);
    if (am_short.dir[0] != '\0') {
        tmp_remove(am_short.dir);
    }
    if (am_long.dir[0] != '\0') {
        tmp_remove(am_long.dir);
    }
    return rc;
}
