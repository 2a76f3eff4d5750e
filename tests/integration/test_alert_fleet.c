/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_alert_fleet.c - issue 4, done when: the simulated fleet with
 * injected faults on a compressed clock, through real Mosquitto, `modax
 * serve` (detector, default rules, safety events, alert lifecycle) and the
 * real Prometheus Alertmanager from Debian.
 *
 * 8 machines at 1 Hz for 5 simulated hours at 900x (20 s of real time),
 * their clock started 5 hours in the past so the timestamps are real ones.
 * From simulated hour 2 to hour 3: bearing wear on m-0002, an overheat on
 * m-0003, current spikes on m-0004, the temperature sensor of m-0005
 * dropping out. Exactly those four raise alerts, each within its stated
 * delay (simulated time from the fault's onset to the alert's opening):
 *
 *   fault                                   first alert       bound    measured (seed 7)
 *   bearing  (vibration drifts up)          device detector   45 min   4 min (per sensor: 36 min)
 *   overheat (+0.12 degC/s)                 detector          6 min    9 s (rule > 80: 5 min)
 *   spike    (11-16 A for 0.2-0.6 s)        detector, safety  2 min    16 s
 *   dropout  (temperature_mean missing)     stale             2 min    30 s (30 intervals)
 *
 * and the healthy four raise none. Alertmanager lists each faulty machine
 * while its fault lasts. After the repairs (simulated hour 3) every alert
 * raised during the fault resolves by itself (after 5 simulated minutes of
 * normal points; the safety flags on their clear), in the store and in
 * Alertmanager. The return to normal is itself a change the detector may
 * flag on a repaired machine; an operator resolves what is still open at
 * the end (`modax alert resolve`), and Alertmanager then shows nothing.
 */
#include <fcntl.h>
#include <pthread.h>
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
#include "modax/status.h"
#include "modax/store.h"
#include "net/http_client.h"
#include "support/support.h"

#define MACHINES 8
#define SIM_S 18000      /* simulated seconds (readings per machine) */
#define FAULT_AT_S 7200
#define FAULT_END_S 10800
#define TIME_SCALE "900"

struct am {
    pid_t pid;
    int port;
    char dir[256];
    char url[64];
};

static long am_get_alerts(const struct am *m, char **out)
{
    struct mdx_http h;
    struct mdx_http_resp rs;
    char url[256];
    long status;

    *out = NULL;
    if (mdx_http_init(&h, 3000) != MDX_OK) {
        return 0;
    }
    snprintf(url, sizeof(url), "%s/api/v2/alerts?active=true", m->url);
    struct mdx_http_req rq = {"GET", url, NULL, NULL, 0, 1 << 22};
    mdx_http_do(&h, &rq, &rs);
    status = rs.status;
    *out = mdx_buf_take(&rs.body);
    mdx_http_resp_fini(&rs);
    mdx_http_fini(&h);
    return status;
}

static int am_start(struct am *m, const char *dir)
{
    char cfg[300], store[300], listen[64], log[300], path[300];
    FILE *f;

    snprintf(m->dir, sizeof(m->dir), "%s", dir);
    m->port = free_port();
    snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%d", m->port);
    snprintf(path, sizeof(path), "%s/am.yml", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "global:\n  resolve_timeout: 5m\n"
               "route:\n  receiver: devnull\n  group_by: [alertname, tenant]\n"
               "  group_wait: 1s\n"
               "receivers:\n  - name: devnull\n");
    fclose(f);
    snprintf(cfg, sizeof(cfg), "--config.file=%s/am.yml", dir);
    snprintf(store, sizeof(store), "--storage.path=%s/am-data", dir);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", m->port);
    snprintf(log, sizeof(log), "%s/alertmanager.log", dir);
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
    for (int i = 0; i < 300 && m->pid > 0; i++) {
        char *body;
        long code = am_get_alerts(m, &body);
        mdx_free(body);
        if (code == 200) {
            return 0;
        }
        mdx_sleep_ms(50);
    }
    fprintf(stderr, "  alertmanager not ready; see %s\n", log);
    return -1;
}

static void am_stop(struct am *m)
{
    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        waitpid(m->pid, NULL, 0);
        m->pid = 0;
    }
}

/* Bit i set when machine m-000(i+1) of tenant "plant" has an active alert in Alertmanager. */
static int am_devices(const struct am *m)
{
    char *body = NULL;
    cJSON *arr, *it;
    int bits = 0;

    if (am_get_alerts(m, &body) != 200) {
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
        int n;

        if (dev != NULL && ten != NULL && strcmp(ten, "plant") == 0 &&
            sscanf(dev, "m-%d", &n) == 1 && n >= 1 && n <= MACHINES) {
            bits |= 1 << (n - 1);
        }
    }
    cJSON_Delete(arr);
    return bits;
}

struct edge_job {
    char port[16], start_ago[32], count[32], faults[4][64];
    char out[1 << 14];
    int rc;
};

static void *edge_thread(void *arg)
{
    struct edge_job *j = arg;

    j->rc = edge_run(j->out, sizeof(j->out), "--port", j->port, "--tenant", "plant",
                     "--machines", "8", "--count", j->count, "--time-scale", TIME_SCALE,
                     "--start-ago", j->start_ago, "--seed", "7", "--quiet", "--fault",
                     j->faults[0], "--fault", j->faults[1], "--fault", j->faults[2], "--fault",
                     j->faults[3], NULL);
    return NULL;
}

struct dev_alerts {
    int n, active, active_in_fault; /* in_fault: opened before the repair */
    int64_t ids[64];
    int n_ids;
    int64_t first_ms;
    char first_source[96];
    char sources[512];
};

static int64_t fault_end_ms;

static int collect(void *arg, const struct mdx_alert *a)
{
    struct dev_alerts *d = arg;
    size_t len = strlen(d->sources);

    d->n++;
    if (a->state != MDX_ALERT_RESOLVED) {
        d->active++;
        if (a->opened_ms < fault_end_ms) {
            d->active_in_fault++;
        }
        if (d->n_ids < 64) {
            d->ids[d->n_ids++] = a->id;
        }
    }
    if (d->first_ms == 0 || a->opened_ms < d->first_ms) {
        d->first_ms = a->opened_ms;
        snprintf(d->first_source, sizeof(d->first_source), "%s", a->source);
    }
    snprintf(d->sources + len, sizeof(d->sources) - len, "%s%s/%s", len ? " " : "", a->source,
             a->sensor);
    return MDX_OK;
}

static int first_point(void *arg, int64_t ts, double v, unsigned flags)
{
    (void)v;
    (void)flags;
    *(int64_t *)arg = ts;
    return 1; /* stop */
}

static void fleet_faults_raise_exactly_their_alerts(void)
{
    static const char *const fault_kind[4] = {"bearing", "overheat", "spike", "dropout"};
    static const int64_t max_delay_s[4] = {2700, 360, 120, 120};
    char dir[256], url[128];
    struct broker b;
    struct serve s;
    struct am am = {0};
    struct edge_job job;
    struct mdx_store *st;
    struct mdx_query q;
    struct dev_alerts da[MACHINES];
    pthread_t th;
    int seen = 0, bits, faulty = 0x1e; /* m-0002 .. m-0005 */
    int64_t t0 = 0, t_start = mdx_mono_us();
    char out[4096];

    tmp_make(dir, sizeof(dir), "alert-fleet");
    CHECK(broker_start(&b, dir, 0) == 0);
    CHECK(am_start(&am, dir) == 0);
    modax_env(dir, b.port);
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    snprintf(url, sizeof(url), "%s", am.url);
    setenv("MODAX_ALERT_ALERTMANAGER_URL", url, 1);
    setenv("MODAX_ALERT_RELOAD_S", "1", 1);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "plant", NULL), 0);
    CHECK(serve_start(&s, dir, b.port) == 0);

    memset(&job, 0, sizeof(job));
    snprintf(job.port, sizeof(job.port), "%d", b.port);
    snprintf(job.count, sizeof(job.count), "%d", SIM_S);
    snprintf(job.start_ago, sizeof(job.start_ago), "%d", SIM_S + 120);
    for (int i = 0; i < 4; i++) {
        snprintf(job.faults[i], sizeof(job.faults[i]), "m-%04d:%s@%d-%d", i + 2, fault_kind[i],
                 FAULT_AT_S, FAULT_END_S);
    }
    CHECK(pthread_create(&th, NULL, edge_thread, &job) == 0);
    /* While the fleet runs: Alertmanager lists the faulty machines, never a healthy one. */
    for (int i = 0; i < 1200; i++) {
        bits = am_devices(&am);
        if (bits > 0) {
            seen |= bits;
        }
        if (pthread_tryjoin_np(th, NULL) == 0) {
            break;
        }
        mdx_sleep_ms(100);
    }
    pthread_join(th, NULL);
    CHECK_EQ_INT(job.rc, 0);
    CHECK_EQ_INT(seen, faulty);
    /* Every reading stored (7 sensors; m-0005 without its temperature for an hour). */
    CHECK_EQ_INT(wait_points(dir, "plant", (int64_t)MACHINES * SIM_S * 7 - 3600, 30000),
                 (int64_t)MACHINES * SIM_S * 7 - 3600);

    st = test_store_open(dir);
    CHECK(st != NULL);
    memset(&q, 0, sizeof(q));
    q.tenant = "plant";
    q.device = "m-0001";
    q.sensor = "current_mean";
    q.from_ms = 0;
    q.to_ms = INT64_MAX;
    q.limit = 1;
    mdx_store_query_points(st, &q, first_point, &t0);
    CHECK(t0 > 0);
    t0 -= 1000; /* reading k is stamped start + (k + 1) s */
    fault_end_ms = t0 + FAULT_END_S * 1000LL;
    /* The fault's alerts resolve by themselves; what the repair raised, an operator resolves. */
    for (int round = 0; round < 100; round++) {
        int active = 0;

        for (int i = 0; i < MACHINES; i++) {
            char dev[16];
            struct mdx_alert_filter f = {"plant", dev, -1, -1, 0};
            snprintf(dev, sizeof(dev), "m-%04d", i + 1);
            memset(&da[i], 0, sizeof(da[i]));
            CHECK_EQ_INT(mdx_store_alert_list(st, &f, collect, &da[i]), MDX_OK);
            active += da[i].active;
        }
        if (round == 10) {
            for (int i = 0; i < MACHINES; i++) {
                for (int k = 0; k < da[i].n_ids; k++) {
                    char id[32];
                    snprintf(id, sizeof(id), "%lld", (long long)da[i].ids[k]);
                    fprintf(stderr, "  m-%04d: operator resolves alert %s\n", i + 1, id);
                    CHECK_EQ_INT(modax_run(out, sizeof(out), "alert", "resolve", "plant", id,
                                           NULL), 0);
                }
            }
        }
        bits = am_devices(&am);
        if (round > 10 && active == 0 && bits == 0) {
            break;
        }
        mdx_sleep_ms(300);
    }
    for (int i = 0; i < MACHINES; i++) {
        int is_faulty = (faulty >> i) & 1;

        fprintf(stderr, "  m-%04d %-8s alerts=%d active=%d first=%s delay=%llds [%s]\n", i + 1,
                is_faulty ? fault_kind[i - 1] : "healthy", da[i].n, da[i].active,
                da[i].first_source,
                da[i].n ? (long long)((da[i].first_ms - t0) / 1000 - FAULT_AT_S) : 0LL,
                da[i].sources);
        if (!is_faulty) {
            CHECK_EQ_INT(da[i].n, 0);
            continue;
        }
        CHECK(da[i].n >= 1);
        CHECK_EQ_INT(da[i].active, 0);
        CHECK_EQ_INT(da[i].active_in_fault, 0);
        CHECK(da[i].first_ms >= t0 + FAULT_AT_S * 1000LL);
        CHECK(da[i].first_ms <= t0 + (FAULT_AT_S + max_delay_s[i - 1]) * 1000LL);
    }
    CHECK_EQ_INT(am_devices(&am), 0);
    fprintf(stderr, "  real time %.1f s\n", (double)(mdx_mono_us() - t_start) / 1e6);
    mdx_store_close(st);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    am_stop(&am);
    broker_stop(&b, SIGTERM);
    unsetenv("MODAX_INGEST_AUTO_REGISTER");
    unsetenv("MODAX_ALERT_ALERTMANAGER_URL");
    unsetenv("MODAX_ALERT_RELOAD_S");
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"issue 4: fleet with faults on a compressed clock: exactly the faulty machines alert, "
     "then resolve",
     fleet_faults_raise_exactly_their_alerts},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
