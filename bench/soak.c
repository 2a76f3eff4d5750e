/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soak.c - `make soak`: the whole service under a simulated fleet for an
 * hour (SOAK_S seconds) while faults are injected, then the books are
 * checked (issue 16, "Soak with faults").
 *
 * Everything runs on loopback and is started here: PostgreSQL (the test
 * support's cluster), Mosquitto with the project's config, `modax serve`
 * with its default roles, a real Alertmanager, and s3rver behind a small
 * proxy of ours that can answer every request with 500 (the archive's
 * object store). The fleet is 100 machines at 10 Hz on one QoS 1 client
 * with a persistent session; each message carries two points, "v" (its
 * number) and "load". Every PUBACK is recorded against the message it
 * acknowledges: that is the log of what the broker accepted.
 *
 * Faults, one at a time, at seeded random times (SOAK_SEED; printed), in
 * shuffled rounds so that every kind occurs: broker restart (SIGTERM),
 * broker crash (SIGKILL) right after a save and at an arbitrary point of
 * the autosave cycle, PostgreSQL restart (fast or immediate), SIGKILL of
 * `modax serve` (restarted at once; in the first half of the run only, so
 * that its last instance lives through the other faults of the second half
 * and its RSS and open files can be judged), Alertmanager down for a while,
 * and the object store answering 500.
 *
 * At the end: each acknowledged point is looked up in the store (lost,
 * dup), each alert of the store must have reached Alertmanager (seen
 * active in its API, or in a notification it sent to our webhook
 * receiver, firing or resolved), the archive must have caught up after the 500s, and the
 * RSS and open files of each long-lived process (sampled every 5 s) must
 * not grow after warm-up. Progress goes to stderr; stdout gets one line:
 *
 *   soak: seconds= points= lost= dup= kills= restarts= rss_slope_kb_per_h= fds_end=
 *
 * The exit status is 1 when anything is lost or duplicated, an alert is
 * missing, the archive is behind, a process leaks, or `modax serve` died
 * without being killed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_util.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "base/buf.h"
#include "modax/store.h"
#include "net/http_client.h"
#include "support/support.h"

#define MACHINES 100
#define RATE_HZ 10
#define MSG_PER_S (MACHINES * RATE_HZ)
#define WINDOW 2000              /* unacknowledged messages before the fleet waits */
#define SAMPLE_S 5               /* RSS and fd sampling period */
#define WARMUP_S 60              /* of each process instance, before its samples count */
#define ALERT_PERIOD 300         /* messages of a machine between two load episodes */
#define ALERT_HIGH 150           /* of which this many are high (15 s at 10 Hz) */
#define ALERT_IDS_MAX (1 << 20)
#define FD_SLACK 8               /* open files above the warm baseline that are no leak:
                                    keep-alive connections come and go */

static atomic_int stopping;      /* SIGINT/SIGTERM: end early, clean up */
static char dir[256];
static int64_t t0_ms;            /* timestamp of message 0 of every machine */

/* ---- the fleet: one QoS 1 client, every PUBACK recorded ---- */

static struct {
    struct mosquitto *mosq;
    pthread_mutex_t lock;
    uint8_t *acked;              /* one bit per message index */
    int64_t *by_mid;             /* message index + 1 of each outstanding mid, 0: none */
    int64_t cap, sent, acked_n;
    atomic_int stop, paused;
    pthread_t thread;
} fleet;

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    int64_t idx;

    (void)mosq;
    (void)obj;
    pthread_mutex_lock(&fleet.lock);
    idx = fleet.by_mid[mid & 0xffff] - 1;
    fleet.by_mid[mid & 0xffff] = 0;
    if (idx >= 0 && !(fleet.acked[idx / 8] & (1u << (idx % 8)))) {
        fleet.acked[idx / 8] |= (uint8_t)(1u << (idx % 8));
        fleet.acked_n++;
    }
    pthread_mutex_unlock(&fleet.lock);
}

/* Load of machine 'm' at its message 'seq': high in one episode per machine and period. */
static int load_high(int m, int64_t seq)
{
    return (seq / ALERT_PERIOD) % MACHINES == m && seq % ALERT_PERIOD < ALERT_HIGH;
}

/* Message 'idx' (machine idx % 100, its number idx / 100); 0 if the library took it. */
static int fleet_publish(int64_t idx)
{
    int m = (int)(idx % MACHINES), mid = 0, rc;
    int64_t seq = idx / MACHINES;
    char topic[64], msg[160];

    snprintf(topic, sizeof(topic), "modax/soak/m-%03d/sensor_data", m);
    snprintf(msg, sizeof(msg), "{\"timestamp\":%" PRId64 ",\"sensor_data\":{\"v\":%" PRId64
             ",\"load\":%d}}", t0_ms + seq * (1000 / RATE_HZ), seq, load_high(m, seq) ? 90 : 10);
    pthread_mutex_lock(&fleet.lock);
    rc = mosquitto_publish(fleet.mosq, &mid, topic, (int)strlen(msg), msg, 1, false);
    /* Without a connection the library keeps the message and sends it after reconnecting. */
    rc = mid != 0 && (rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN) ? 0 : -1;
    if (rc == 0) {
        fleet.by_mid[mid & 0xffff] = idx + 1;
        fleet.sent++;
    }
    pthread_mutex_unlock(&fleet.lock);
    return rc;
}

/* MSG_PER_S messages a second, never ahead of the clock, at most WINDOW unacknowledged. */
static void *fleet_main(void *arg)
{
    int64_t start = mdx_mono_us(), next = 0;

    (void)arg;
    while (!atomic_load(&fleet.stop)) {
        int64_t due = (mdx_mono_us() - start) * MSG_PER_S / 1000000;
        for (; next < due && next < fleet.cap && !atomic_load(&fleet.paused); next++) {
            pthread_mutex_lock(&fleet.lock);
            int64_t open = fleet.sent - fleet.acked_n;
            pthread_mutex_unlock(&fleet.lock);
            if (open >= WINDOW || fleet_publish(next) != 0) {
                break;
            }
        }
        mdx_sleep_ms(5);
    }
    return NULL;
}

static int fleet_start(int port, int64_t seconds)
{
    fleet.cap = (seconds + 60) * MSG_PER_S;
    fleet.acked = mdx_calloc((size_t)(fleet.cap / 8 + 1), 1);
    fleet.by_mid = mdx_calloc(65536, sizeof(int64_t));
    if (fleet.acked == NULL || fleet.by_mid == NULL) {
        return -1;
    }
    pthread_mutex_init(&fleet.lock, NULL);
    fleet.mosq = mosquitto_new("soak-fleet", false, NULL);
    if (fleet.mosq == NULL) {
        return -1;
    }
    mosquitto_publish_callback_set(fleet.mosq, on_publish);
    mosquitto_max_inflight_messages_set(fleet.mosq, 100);
    mosquitto_reconnect_delay_set(fleet.mosq, 1, 2, false);
    if (mosquitto_connect(fleet.mosq, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(fleet.mosq) != MOSQ_ERR_SUCCESS) {
        return -1;
    }
    return pthread_create(&fleet.thread, NULL, fleet_main, NULL) == 0 ? 0 : -1;
}

static int64_t fleet_get(int64_t *acked)
{
    int64_t sent;

    pthread_mutex_lock(&fleet.lock);
    sent = fleet.sent;
    *acked = fleet.acked_n;
    pthread_mutex_unlock(&fleet.lock);
    return sent;
}

/* ---- Alertmanager ---- */

static struct {
    pid_t pid;
    int port;
    char dir[300];
    uint8_t *seen;               /* alert ids that reached it, one bit each */
    pthread_mutex_t seen_mu;     /* the poller and the receiver both mark */
    atomic_int stop, polls_ok, notifications;
    pthread_t thread;
    struct MHD_Daemon *receiver; /* its webhook receiver (notifications) */
    int receiver_port;
} am;

/* Marks the alert_id annotation of each alert in 'arr' as seen. */
static void am_mark_seen(const cJSON *arr)
{
    const cJSON *it;

    pthread_mutex_lock(&am.seen_mu);
    cJSON_ArrayForEach(it, arr)
    {
        cJSON *ann = cJSON_GetObjectItem(it, "annotations");
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(ann, "alert_id"));
        long n = id != NULL ? strtol(id, NULL, 10) : -1;
        if (n > 0 && n < ALERT_IDS_MAX) {
            am.seen[n / 8] |= (uint8_t)(1u << (n % 8));
        }
    }
    pthread_mutex_unlock(&am.seen_mu);
}

/*
 * Alertmanager's webhook notifications (JSON with an "alerts" array). An
 * alert that opened and resolved while Alertmanager was down arrives there
 * and resolves within one poll; the notification still names it.
 */
static enum MHD_Result am_receive(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    struct mdx_buf *body = *con_cls;

    (void)cls, (void)url, (void)method, (void)version;
    if (body == NULL) {
        if ((body = mdx_calloc(1, sizeof(*body))) == NULL) {
            return MHD_NO;
        }
        mdx_buf_init(body, 16 << 20);
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        mdx_buf_add(body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    cJSON *msg = cJSON_ParseWithLength(body->p != NULL ? body->p : "", body->len);
    am_mark_seen(cJSON_GetObjectItem(msg, "alerts"));
    cJSON_Delete(msg);
    atomic_fetch_add(&am.notifications, 1);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static void am_receive_done(void *cls, struct MHD_Connection *c, void **con_cls,
                            enum MHD_RequestTerminationCode why)
{
    struct mdx_buf *body = *con_cls;

    (void)cls, (void)c, (void)why;
    if (body != NULL) {
        mdx_buf_fini(body);
        mdx_free(body);
        *con_cls = NULL;
    }
}

static long http_get(const char *url, char **body)
{
    struct mdx_http h;
    struct mdx_http_resp rs;
    long status;

    *body = NULL;
    if (mdx_http_init(&h, 2000) != MDX_OK) {
        return 0;
    }
    struct mdx_http_req rq = {"GET", url, NULL, NULL, 0, 8 << 20};
    mdx_http_do(&h, &rq, &rs);
    status = rs.status;
    *body = mdx_buf_take(&rs.body);
    mdx_http_resp_fini(&rs);
    mdx_http_fini(&h);
    return status;
}

static int am_start(void)
{
    char cfg[400], store[400], listen[64], log[400], url[128];

    snprintf(cfg, sizeof(cfg), "--config.file=%s/am.yml", am.dir);
    snprintf(store, sizeof(store), "--storage.path=%s/data", am.dir);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", am.port);
    snprintf(log, sizeof(log), "%s/alertmanager.log", am.dir);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/-/ready", am.port);
    char *argv[] = {"prometheus-alertmanager", cfg, store, listen, "--cluster.listen-address=",
                    "--log.level=warn", NULL};
    am.pid = proc_spawn(argv, log);
    for (int i = 0; i < 600 && am.pid > 0; i++) {
        char *body;
        long code = http_get(url, &body);
        mdx_free(body);
        if (code == 200) {
            return 0;
        }
        if (waitpid(am.pid, NULL, WNOHANG) == am.pid) {
            break;
        }
        mdx_sleep_ms(50);
    }
    fprintf(stderr, "soak: alertmanager did not start (apt-get install prometheus-alertmanager); "
                    "see %s\n", log);
    am.pid = 0;
    return -1;
}

static void proc_stop(pid_t *pid, int sig)
{
    if (*pid > 0) {
        kill(*pid, sig);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

static int am_setup(void)
{
    char path[400];
    FILE *f;

    snprintf(am.dir, sizeof(am.dir), "%s/alertmanager", dir);
    mkdir(am.dir, 0700);
    am.port = free_port();
    am.seen = mdx_calloc(ALERT_IDS_MAX / 8, 1);
    pthread_mutex_init(&am.seen_mu, NULL);
    am.receiver_port = free_port();
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_port = htons((uint16_t)am.receiver_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    am.receiver = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)am.receiver_port,
                                   NULL, NULL, am_receive, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                                   am_receive_done, NULL, MHD_OPTION_SOCK_ADDR, &lo,
                                   MHD_OPTION_END);
    if (am.receiver == NULL) {
        fprintf(stderr, "soak: cannot start the notification receiver\n");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/am.yml", am.dir);
    f = fopen(path, "w");
    if (f == NULL || am.seen == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    fprintf(f, "global:\n  resolve_timeout: 5m\nroute:\n  receiver: soak\n"
               "  group_by: [alertname, tenant]\n  group_wait: 1s\n  group_interval: 1s\n"
               "  repeat_interval: 4h\n"
               "receivers:\n  - name: soak\n    webhook_configs:\n"
               "      - url: http://127.0.0.1:%d/\n        send_resolved: true\n",
            am.receiver_port);
    fclose(f);
    return am_start();
}

/* Every 500 ms: the alerts Alertmanager holds; the alert_id of each is marked seen. */
static void *am_poll_main(void *arg)
{
    char url[128];

    (void)arg;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2/alerts", am.port);
    while (!atomic_load(&am.stop)) {
        char *body = NULL;
        if (http_get(url, &body) == 200) {
            cJSON *arr = cJSON_Parse(body);
            am_mark_seen(arr);
            cJSON_Delete(arr);
            atomic_fetch_add(&am.polls_ok, 1);
        }
        mdx_free(body);
        mdx_sleep_ms(500);
    }
    return NULL;
}

/* ---- the object store: s3rver behind a proxy that can answer 500 ---- */

static struct {
    pid_t s3rver;
    int s3_port, port, fd;
    atomic_int failing, epoch, stop, answered_500, forwarded;
    pthread_t thread;
} os;

static int connect_port(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Reads the request head (and its body unless it waits for 100-continue), answers 500. */
static void answer_500(int c)
{
    static const char reply[] =
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n"
        "Content-Length: 80\r\nConnection: close\r\n\r\n"
        "<Error><Code>InternalError</Code><Message>soak fault</Message></Error>          ";
    char head[16384], buf[65536];
    size_t got = 0;
    char *end = NULL;

    while (end == NULL && got < sizeof(head) - 1) {
        ssize_t r = recv(c, head + got, sizeof(head) - 1 - got, 0);
        if (r <= 0) {
            return;
        }
        got += (size_t)r;
        head[got] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (end != NULL && strcasestr(head, "\r\nExpect: 100-continue") == NULL) {
        const char *cl = strcasestr(head, "\r\nContent-Length:");
        long left = cl != NULL && cl < end ? strtol(cl + 17, NULL, 10) : 0;
        left -= (long)(got - (size_t)(end + 4 - head));
        while (left > 0) {
            ssize_t r = recv(c, buf, sizeof(buf), 0);
            if (r <= 0) {
                break;
            }
            left -= r;
        }
    }
    if (send(c, reply, sizeof(reply) - 1, MSG_NOSIGNAL) > 0) {
        atomic_fetch_add(&os.answered_500, 1);
    }
}

/* Bytes both ways until either side closes or a fault begins (then the client reconnects). */
static void *proxy_conn_main(void *arg)
{
    int c = (int)(intptr_t)arg, u = -1, epoch = atomic_load(&os.epoch);
    char buf[65536];

    if (atomic_load(&os.failing)) {
        answer_500(c);
        close(c);
        return NULL;
    }
    u = connect_port(os.s3_port);
    atomic_fetch_add(&os.forwarded, 1);
    while (u >= 0 && atomic_load(&os.epoch) == epoch && !atomic_load(&os.stop)) {
        struct pollfd p[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
        int n = poll(p, 2, 200);
        if (n < 0) {
            break;
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            ssize_t r = recv(c, buf, sizeof(buf), 0);
            if (r <= 0 || send(u, buf, (size_t)r, MSG_NOSIGNAL) < 0) {
                break;
            }
        }
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            ssize_t r = recv(u, buf, sizeof(buf), 0);
            if (r <= 0 || send(c, buf, (size_t)r, MSG_NOSIGNAL) < 0) {
                break;
            }
        }
    }
    if (u >= 0) {
        close(u);
    }
    close(c);
    return NULL;
}

static void *proxy_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&os.stop)) {
        struct pollfd p = {os.fd, POLLIN, 0};
        pthread_t t;
        int c;

        if (poll(&p, 1, 200) <= 0) {
            continue;
        }
        c = accept(os.fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        if (pthread_create(&t, NULL, proxy_conn_main, (void *)(intptr_t)c) != 0) {
            close(c);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

static int objstore_setup(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    const char *bin = getenv("SOAK_S3RVER");
    char def[1200], data[400], log[400], port[16];
    int one = 1;

    if (bin == NULL) {
        const char *src = getenv("MODAX_SOURCE_DIR");
        snprintf(def, sizeof(def), "%s/tests/js/node_modules/.bin/s3rver",
                 src != NULL ? src : MODAX_SOURCE_DIR_DEFAULT);
        bin = def;
    }
    if (access(bin, R_OK) != 0) {
        fprintf(stderr, "soak: no s3rver at %s (run scripts/install-deps.sh, or set SOAK_S3RVER)\n",
                bin);
        return -1;
    }
    os.s3_port = free_port();
    snprintf(data, sizeof(data), "%s/s3rver", dir);
    snprintf(log, sizeof(log), "%s/s3rver.log", dir);
    snprintf(port, sizeof(port), "%d", os.s3_port);
    mkdir(data, 0700);
    char *argv[] = {"node", "--openssl-legacy-provider", (char *)bin, "-d", data, "-a",
                    "127.0.0.1", "-p", port, "--configure-bucket", "soak", NULL};
    os.s3rver = proc_spawn(argv, log);
    for (int i = 0; i < 600; i++) {
        int fd = connect_port(os.s3_port);
        if (fd >= 0) {
            close(fd);
            break;
        }
        if (i == 599 || waitpid(os.s3rver, NULL, WNOHANG) == os.s3rver) {
            fprintf(stderr, "soak: s3rver did not start; see %s\n", log);
            os.s3rver = 0;
            return -1;
        }
        mdx_sleep_ms(50);
    }
    os.fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(os.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (os.fd < 0 || bind(os.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(os.fd, 64) != 0 || getsockname(os.fd, (struct sockaddr *)&a, &len) != 0) {
        return -1;
    }
    os.port = ntohs(a.sin_port);
    return pthread_create(&os.thread, NULL, proxy_main, NULL) == 0 ? 0 : -1;
}

/* ---- RSS and open files of the long-lived processes ---- */

enum { P_SERVE, P_BROKER, P_PG, P_AM, P_S3, P_COUNT };
static const char *const proc_names[P_COUNT] = {"modax-serve", "mosquitto", "postgres",
                                                 "alertmanager", "s3rver"};

struct sample {
    int64_t t_s;
    int instance;
    long rss_kb, fds;
};

static struct {
    pid_t pid;
    int instance;                /* bumped at each restart */
    int64_t started_s;
    struct sample *s;
    int n, cap;
    long fds_base;               /* open files of this instance after warm-up, -1: none yet */
    int base_instance;           /* the instance fds_base was taken from */
} procs[P_COUNT];

static int64_t soak_start_us, soak_start_ms;

static int64_t elapsed_s(void)
{
    return (mdx_mono_us() - soak_start_us) / 1000000;
}

static void proc_started(int p, pid_t pid)
{
    procs[p].pid = pid;
    procs[p].instance++;
    procs[p].started_s = elapsed_s();
}

static long rss_kb_of(pid_t pid)
{
    return proc_status_kb(pid, "VmRSS");
}

static long fds_of(pid_t pid)
{
    char path[64];
    struct dirent *e;
    long n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static pid_t postmaster_pid(void)
{
    struct pg_cluster *c = pg_shared();
    char path[400];
    long pid = 0;
    FILE *f;

    if (c == NULL) {
        return 0;
    }
    snprintf(path, sizeof(path), "%s/data/postmaster.pid", c->dir);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1) {
            pid = 0;
        }
        fclose(f);
    }
    return (pid_t)pid;
}

static void sample_all(void)
{
    int64_t now = elapsed_s();

    for (int p = 0; p < P_COUNT; p++) {
        long rss, fds;
        if (procs[p].pid <= 0 || now - procs[p].started_s < WARMUP_S) {
            continue;
        }
        rss = rss_kb_of(procs[p].pid);
        fds = fds_of(procs[p].pid);
        if (rss < 0 || fds < 0) {
            continue;
        }
        if (procs[p].n == procs[p].cap) {
            int cap = procs[p].cap ? procs[p].cap * 2 : 256;
            struct sample *s = mdx_realloc(procs[p].s, (size_t)cap * sizeof(*s));
            if (s == NULL) {
                continue;
            }
            procs[p].s = s;
            procs[p].cap = cap;
        }
        procs[p].s[procs[p].n++] = (struct sample){now, procs[p].instance, rss, fds};
        if (procs[p].base_instance != procs[p].instance) {
            procs[p].fds_base = fds;
            procs[p].base_instance = procs[p].instance;
        }
    }
}

/*
 * RSS growth in kB per hour after warm-up: the least-squares slope pooled over the
 * instances (each restart has its own level, so the slope is fitted within each), or of the
 * last instance alone when 'last_only'. 0 when there are too few samples.
 */
static double rss_slope_kb_h(int p, int last_only)
{
    double sxy = 0, sxx = 0;
    int i = 0;

    while (i < procs[p].n) {
        int j = i, inst = procs[p].s[i].instance;
        if (last_only && inst != procs[p].instance) {
            i++;
            continue;
        }
        double mt = 0, mr = 0;
        while (j < procs[p].n && procs[p].s[j].instance == inst) {
            mt += (double)procs[p].s[j].t_s;
            mr += (double)procs[p].s[j].rss_kb;
            j++;
        }
        mt /= j - i;
        mr /= j - i;
        for (int k = i; k < j; k++) {
            double dt = (double)procs[p].s[k].t_s - mt;
            sxy += dt * ((double)procs[p].s[k].rss_kb - mr);
            sxx += dt * dt;
        }
        i = j;
    }
    return sxx > 0 ? sxy / sxx * 3600.0 : 0.0;
}

/* ---- faults ---- */

enum fault {
    F_BROKER_RESTART,
    F_BROKER_CRASH_SAVED,
    F_BROKER_CRASH_UNSAVED,
    F_PG_RESTART,
    F_SERVE_KILL,
    F_AM_OUTAGE,
    F_OBJSTORE_500,
    F_COUNT
};
static const char *const fault_names[F_COUNT] = {
    "broker-restart", "broker-crash-after-save", "broker-crash-unsaved", "pg-restart",
    "serve-kill", "alertmanager-outage", "objstore-500"};

static struct broker broker;
static struct serve serve;
static int kills, restarts, serve_died;
static struct mdx_store *check_st; /* the soak's own connection, for counts */

static int64_t rnd_between(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int archive_feed_day(int k);
static int arch_days, feeding = 1;

/*
 * Sleeps 'ms' in short steps, stopping early when asked to. Meanwhile, faults or not: the
 * processes are sampled every SAMPLE_S, and every 20 s one more old day goes into the store
 * for the archiver.
 */
static void soak_sleep_ms(int64_t ms)
{
    static int64_t last_sample, last_feed = -100;
    int64_t end = mdx_mono_us() + ms * 1000;

    while (mdx_mono_us() < end && !atomic_load(&stopping)) {
        if (elapsed_s() - last_sample >= SAMPLE_S) {
            last_sample = elapsed_s();
            sample_all();
        }
        if (feeding && elapsed_s() - last_feed >= 20 && archive_feed_day(arch_days) == 0) {
            arch_days++;
            last_feed = elapsed_s();
        }
        mdx_sleep_ms(100);
    }
}

static int64_t tenant_points(const char *tenant)
{
    int64_t n = -1;

    if (check_st == NULL) {
        check_st = test_store_open(dir);
    }
    if (check_st != NULL && mdx_store_point_count(check_st, tenant, &n) != MDX_OK) {
        mdx_store_close(check_st); /* PostgreSQL restarted: a fresh connection next time */
        check_st = NULL;
        n = -1;
    }
    return n;
}

/*
 * Waits (up to 'ms') until every message sent is acknowledged (unless 'all' is 0) and the
 * store holds every point of what was acknowledged. 0 if so.
 */
static int wait_caught_up(int64_t ms, int all)
{
    int64_t acked, sent, end = mdx_mono_us() + ms * 1000;

    while (mdx_mono_us() < end && !atomic_load(&stopping)) {
        sent = fleet_get(&acked);
        if ((!all || acked >= sent) && tenant_points("soak") >= 2 * acked) {
            return 0;
        }
        soak_sleep_ms(200);
    }
    return -1;
}

static int serve_up(void)
{
    if (serve_start(&serve, dir, broker.port) != 0) {
        return -1;
    }
    proc_started(P_SERVE, serve.pid);
    return 0;
}

static int broker_up(void)
{
    if (broker_start(&broker, dir, broker.port) != 0) {
        return -1;
    }
    proc_started(P_BROKER, broker.pid);
    restarts++;
    return 0;
}

/* One fault and the recovery from it; 0 when everything is back. */
static int fault_run(enum fault f)
{
    struct pg_cluster *pg = pg_shared();
    int rc = 0;

    switch (f) {
    case F_BROKER_RESTART:
        broker_stop(&broker, SIGTERM);
        soak_sleep_ms(rnd_between(100, 3000));
        rc = broker_up();
        break;
    case F_BROKER_CRASH_SAVED:
    case F_BROKER_CRASH_UNSAVED:
        /*
         * A SIGKILL loses what the broker acknowledged but had not yet handed on (a
         * Mosquitto limit the README states and test_ingest_broker_crash measures). That
         * window is closed here: the machines pause until everything is acknowledged and
         * stored, and resume the moment the broker dies. What is under test is the rest:
         * the session and subscription the restarted broker has from its last save, what it
         * queues while the ingest reconnects, the machines' resends.
         */
        atomic_store(&fleet.paused, 1);
        if (wait_caught_up(60000, 1) != 0) {
            fprintf(stderr, "soak: the ingest did not catch up before a broker crash\n");
        }
        if (f == F_BROKER_CRASH_SAVED && broker_save(&broker, 10000) != 0) {
            fprintf(stderr, "soak: the broker did not save on SIGUSR1\n");
        }
        broker_stop(&broker, SIGKILL);
        atomic_store(&fleet.paused, 0);
        kills++;
        soak_sleep_ms(rnd_between(100, 3000));
        rc = broker_up();
        break;
    case F_PG_RESTART:
        if (pg == NULL) {
            return -1;
        }
        pg_cluster_stop(pg, rnd() % 2 ? "fast" : "immediate");
        procs[P_PG].pid = 0;
        soak_sleep_ms(rnd_between(1000, 10000));
        rc = pg_cluster_start(pg);
        proc_started(P_PG, postmaster_pid());
        restarts++;
        break;
    case F_SERVE_KILL:
        serve_stop(&serve, SIGKILL);
        kills++;
        rc = serve_up();
        restarts++;
        break;
    case F_AM_OUTAGE:
        proc_stop(&am.pid, SIGTERM);
        procs[P_AM].pid = 0;
        soak_sleep_ms(rnd_between(5000, 15000));
        rc = am_start();
        proc_started(P_AM, am.pid);
        restarts++;
        break;
    case F_OBJSTORE_500:
        atomic_store(&os.failing, 1);
        atomic_fetch_add(&os.epoch, 1);
        soak_sleep_ms(rnd_between(20000, 60000));
        atomic_store(&os.failing, 0);
        break;
    case F_COUNT:
        break;
    }
    return rc;
}

/* ---- setup, the books, teardown ---- */

static char out[1 << 20];

/* Tenants soak (the fleet, its rule) and arch (old days for the archiver), the machines. */
static int provision_all(void)
{
    char dev[32];

    if (modax_run(out, sizeof(out), "tenant", "add", "soak", NULL) != 0 ||
        modax_run(out, sizeof(out), "tenant", "add", "arch", NULL) != 0 ||
        modax_run(out, sizeof(out), "device", "add", "arch", "old-1", NULL) != 0 ||
        modax_run(out, sizeof(out), "rule", "add", "soak", "--name", "soakload", "--sensor",
                  "load", "--cmp", "gt", "--threshold", "50", "--hysteresis", "1", NULL) != 0) {
        fprintf(stderr, "soak: provisioning failed: %s\n", out);
        return -1;
    }
    for (int m = 0; m < MACHINES; m++) {
        int rc;
        snprintf(dev, sizeof(dev), "m-%03d", m);
        rc = modax_run(out, sizeof(out), "device", "add", "soak", dev, NULL);
        if (rc != 0) {
            fprintf(stderr, "soak: device add %s failed (exit %d): %s\n", dev, rc, out);
            return -1;
        }
    }
    return 0;
}

static int provision(void)
{
    int rc;

    setenv("MODAX_LOG_LEVEL", "warn", 1); /* the commands' own info lines are noise here */
    rc = provision_all();
    unsetenv("MODAX_LOG_LEVEL");
    return rc;
}

/* Day 'k' of the archive tenant: 24 hourly points, 3 + k days ago (older than after_days). */
static int archive_feed_day(int k)
{
    struct mdx_point pts[24];
    struct mdx_point_group g = {"arch", "old-1", pts, 24};
    struct mdx_batch b = {.groups = &g, .n_groups = 1};
    struct mdx_batch_result res;
    int64_t day = (mdx_now_ms() / MDX_DAY_MS - 3 - k) * MDX_DAY_MS;

    if (check_st == NULL && (check_st = test_store_open(dir)) == NULL) {
        return -1;
    }
    memset(pts, 0, sizeof(pts));
    for (int i = 0; i < 24; i++) {
        snprintf(pts[i].sensor, sizeof(pts[i].sensor), "x");
        pts[i].sensor_len = 1;
        pts[i].ts_ms = day + i * 3600000LL;
        pts[i].value = i;
    }
    if (mdx_store_write(check_st, &b, &res) != MDX_OK) {
        mdx_store_close(check_st);
        check_st = NULL;
        return -1;
    }
    return 0;
}

struct tally {
    uint8_t *seen_v, *seen_load;
    int64_t base, points, dup, extra;
};

static int count_point(void *arg, int64_t ts_ms, double value, unsigned flags)
{
    struct tally *t = arg;
    int64_t seq = (ts_ms - t0_ms) / (1000 / RATE_HZ);
    uint8_t *seen = flags == 1 ? t->seen_load : t->seen_v;
    int64_t idx = seq * MACHINES + t->base;

    (void)value;
    t->points++;
    if (seq < 0 || idx >= fleet.cap) {
        t->extra++;
        return 0;
    }
    if (seen[idx / 8] & (1u << (idx % 8))) {
        t->dup++;
    }
    seen[idx / 8] |= (uint8_t)(1u << (idx % 8));
    return 0;
}

static int count_load(void *arg, int64_t ts_ms, double value, unsigned flags)
{
    (void)flags;
    return count_point(arg, ts_ms, value, 1);
}

static int count_v(void *arg, int64_t ts_ms, double value, unsigned flags)
{
    (void)flags;
    return count_point(arg, ts_ms, value, 0);
}

/* Every acknowledged message against the store: *lost and *dup points; stored points. */
static int64_t check_points(int64_t *lost, int64_t *dup)
{
    struct tally t = {0};
    struct mdx_store *st = test_store_open(dir);
    size_t bytes = (size_t)(fleet.cap / 8 + 1);
    char dev[32];

    *lost = *dup = -1;
    t.seen_v = mdx_calloc(bytes, 1);
    t.seen_load = mdx_calloc(bytes, 1);
    if (st == NULL || t.seen_v == NULL || t.seen_load == NULL) {
        goto done;
    }
    for (int m = 0; m < MACHINES; m++) {
        struct mdx_query q = {"soak", dev, "v", t0_ms, mdx_now_ms() + 1000, 0};
        snprintf(dev, sizeof(dev), "m-%03d", m);
        t.base = m;
        if (mdx_store_query_points(st, &q, count_v, &t) != MDX_OK) {
            goto done;
        }
        q.sensor = "load";
        if (mdx_store_query_points(st, &q, count_load, &t) != MDX_OK) {
            goto done;
        }
    }
    *lost = 0;
    for (int64_t i = 0; i < fleet.cap; i++) {
        int acked = (fleet.acked[i / 8] >> (i % 8)) & 1;
        int gone = acked && !((t.seen_v[i / 8] >> (i % 8)) & 1);
        gone += acked && !((t.seen_load[i / 8] >> (i % 8)) & 1);
        if (gone > 0 && *lost < 20) { /* when it was due: next to the fault log above */
            fprintf(stderr, "soak: lost message %" PRId64 " (m-%03d, due at t=%.1fs)\n", i,
                    (int)(i % MACHINES),
                    (double)(t0_ms + i / MACHINES * (1000 / RATE_HZ) - soak_start_ms) / 1000.0);
        }
        *lost += gone;
        t.extra += !acked && ((t.seen_v[i / 8] >> (i % 8)) & 1);
    }
    *dup = t.dup;
    if (t.extra > 0) {
        fprintf(stderr, "soak: %" PRId64 " stored points were never acknowledged\n", t.extra);
    }
done:
    mdx_free(t.seen_v);
    mdx_free(t.seen_load);
    mdx_store_close(st);
    return t.points;
}

/* Alerts of tenant soak in the store that Alertmanager never showed: -1 if unknown. */
static int check_alerts(int *raised)
{
    cJSON *arr, *it;
    int missing = 0;

    *raised = 0;
    setenv("MODAX_LOG_LEVEL", "warn", 1);
    if (modax_run(out, sizeof(out), "alert", "list", "--tenant", "soak", "--limit", "100000",
                  "--json", NULL) != 0 ||
        (arr = cJSON_Parse(out)) == NULL) {
        fprintf(stderr, "soak: alert list failed\n");
        return -1;
    }
    cJSON_ArrayForEach(it, arr)
    {
        double id = cJSON_GetNumberValue(cJSON_GetObjectItem(it, "id"));
        long n = isnan(id) ? -1 : (long)id;
        (*raised)++;
        if (n <= 0 || n >= ALERT_IDS_MAX || !(am.seen[n / 8] & (1u << (n % 8)))) {
            fprintf(stderr, "soak: alert %ld never reached Alertmanager\n", n);
            missing++;
        }
    }
    cJSON_Delete(arr);
    return missing;
}

static void set_env(const char *k, const char *v)
{
    setenv(k, v, 1);
}

static void service_env(void)
{
    char buf[128];

    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d", am.port);
    set_env("MODAX_ALERT_ALERTMANAGER_URL", buf);
    set_env("MODAX_ALERT_ALERTMANAGER_REFRESH_S", "5");
    set_env("MODAX_ALERT_SINK_RETRY_MAX_MS", "2000");
    set_env("MODAX_ALERT_SINK_TIMEOUT_MS", "2000");
    set_env("MODAX_ALERT_DETECT", "false");       /* alerts come from the rule alone */
    set_env("MODAX_ALERT_STALE_INTERVALS", "0");  /* outages of the fleet are ours */
    set_env("MODAX_ALERT_AUTO_RESOLVE_S", "5");
    set_env("MODAX_ALERT_FLAP_S", "0");
    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d", os.port);
    set_env("MODAX_ARCHIVE_STORE_KIND", "s3");
    set_env("MODAX_ARCHIVE_STORE_ENDPOINT", buf);
    set_env("MODAX_ARCHIVE_STORE_BUCKET", "soak");
    set_env("MODAX_ARCHIVE_STORE_ACCESS_KEY", "S3RVER");
    set_env("MODAX_ARCHIVE_STORE_SECRET_KEY", "S3RVER");
    set_env("MODAX_ARCHIVE_STORE_TIMEOUT_MS", "5000");
    set_env("MODAX_ARCHIVE_AFTER_DAYS", "2");
    set_env("MODAX_ARCHIVE_INTERVAL_S", "10");
    set_env("MODAX_ARCHIVE_LEASE_S", "15");
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stopping, 1);
}

static void teardown(void)
{
    atomic_store(&fleet.stop, 1);
    atomic_store(&am.stop, 1);
    atomic_store(&os.stop, 1);
    if (fleet.thread) {
        pthread_join(fleet.thread, NULL);
    }
    if (fleet.mosq != NULL) {
        mosquitto_disconnect(fleet.mosq);
        mosquitto_loop_stop(fleet.mosq, true);
        mosquitto_destroy(fleet.mosq);
    }
    if (am.thread) {
        pthread_join(am.thread, NULL);
    }
    if (os.thread) {
        pthread_join(os.thread, NULL);
    }
    if (check_st != NULL) {
        mdx_store_close(check_st);
    }
    serve_stop(&serve, SIGTERM);
    broker_stop(&broker, SIGTERM);
    proc_stop(&am.pid, SIGTERM);
    if (am.receiver != NULL) {
        MHD_stop_daemon(am.receiver);
    }
    proc_stop(&os.s3rver, SIGTERM);
    if (os.fd > 0) {
        close(os.fd);
    }
    mosquitto_lib_cleanup();
}

int main(void)
{
    const char *s = getenv("SOAK_S"), *seed_env = getenv("SOAK_SEED");
    long seconds = s != NULL ? bench_parse_num(s, 60, 7 * 86400) : 3600;
    uint64_t seed = seed_env != NULL ? strtoull(seed_env, NULL, 10) : (uint64_t)mdx_now_ms();
    int64_t next_fault_s, faults_end_s, lost = -1, dup = -1, points;
    int fault_count[F_COUNT] = {0}, order[F_COUNT], order_n = F_COUNT;
    int alerts_raised = 0, alerts_missing, failed = 0, leak = 0;
    struct sigaction sa = {.sa_handler = on_signal};
    int64_t acked, sent, arch_left;

    if (seconds < 0) {
        fprintf(stderr, "soak: SOAK_S must be 60..604800 seconds\n");
        return 2;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    bench_rng_ = seed != 0 ? seed : 1;
    fprintf(stderr, "soak: seed=%" PRIu64 " seconds=%ld (SOAK_SEED=%" PRIu64 " repeats the "
            "fault schedule)\n", seed, seconds, seed);
    for (int p = 0; p < P_COUNT; p++) {
        procs[p].fds_base = -1;
    }
    soak_start_us = mdx_mono_us();
    soak_start_ms = mdx_now_ms();
    mosquitto_lib_init();
    tmp_make(dir, sizeof(dir), "soak");
    setenv("MODAX_TEST_STORE", "postgresql", 1);
    if (pg_shared() == NULL || broker_start(&broker, dir, 0) != 0 || am_setup() != 0 ||
        objstore_setup() != 0) {
        failed = 1;
        goto end;
    }
    proc_started(P_PG, postmaster_pid());
    proc_started(P_BROKER, broker.pid);
    proc_started(P_AM, am.pid);
    proc_started(P_S3, os.s3rver);
    modax_env(dir, broker.port);
    service_env();
    if (provision() != 0 || serve_up() != 0) {
        failed = 1;
        goto end;
    }
    /* The ingest's session and subscription saved at once, as `make run` does. */
    broker_save(&broker, 10000);
    t0_ms = mdx_now_ms() - 1000;
    if (fleet_start(broker.port, seconds) != 0 ||
        pthread_create(&am.thread, NULL, am_poll_main, NULL) != 0) {
        fprintf(stderr, "soak: cannot start the fleet\n");
        failed = 1;
        goto end;
    }

    /* Faults from the end of warm-up to 45 s before the end, one at a time. */
    next_fault_s = WARMUP_S + rnd_between(0, 20);
    faults_end_s = seconds - 45;
    while (elapsed_s() < seconds && !atomic_load(&stopping)) {
        int status;
        if (serve.pid > 0 && waitpid(serve.pid, &status, WNOHANG) == serve.pid) {
            serve.pid = 0;
            if (atomic_load(&stopping)) {
                break; /* Ctrl-C reached it too */
            }
            fprintf(stderr, "soak: modax serve exited by itself (status %d); see %s\n", status,
                    serve.log);
            serve_died++;
            if (serve_up() == 0) {
                restarts++;
            }
        }
        if (elapsed_s() >= next_fault_s && elapsed_s() < faults_end_s) {
            enum fault f;
            /* modax serve is killed in the first half only: its last instance lives through
               the faults of the second half, and its RSS and open files are judged on it. */
            do {
                if (order_n == F_COUNT) { /* a new shuffled round of every kind */
                    for (int i = 0; i < F_COUNT; i++) {
                        order[i] = i;
                    }
                    for (int i = F_COUNT - 1; i > 0; i--) {
                        int j = (int)(rnd() % (uint64_t)(i + 1)), tmp = order[i];
                        order[i] = order[j];
                        order[j] = tmp;
                    }
                    order_n = 0;
                }
                f = (enum fault)order[order_n++];
            } while (f == F_SERVE_KILL && elapsed_s() >= seconds / 2);
            fleet_get(&acked);
            fprintf(stderr, "soak: t=%" PRId64 "s fault %s (acked %" PRId64 ")\n", elapsed_s(),
                    fault_names[f], acked);
            if (fault_run(f) != 0) {
                fprintf(stderr, "soak: recovery from %s failed\n", fault_names[f]);
                failed = 1;
                break;
            }
            fault_count[f]++;
            next_fault_s = elapsed_s() + rnd_between(10, 30);
        }
        soak_sleep_ms(200);
    }

    /* The fleet stops; everything it sent is acknowledged and stored. */
    feeding = 0;
    atomic_store(&fleet.stop, 1);
    pthread_join(fleet.thread, NULL);
    fleet.thread = 0;
    if (atomic_load(&stopping)) { /* Ctrl-C: the services got it too; only clean up */
        fprintf(stderr, "soak: interrupted\n");
        failed = 1;
        goto end;
    }
    for (int i = 0; i < 1200 && !atomic_load(&stopping); i++) {
        sent = fleet_get(&acked);
        if (acked >= sent) {
            break;
        }
        soak_sleep_ms(100);
    }
    sent = fleet_get(&acked);
    if (acked < sent) {
        fprintf(stderr, "soak: %" PRId64 " messages never acknowledged\n", sent - acked);
    }
    wait_caught_up(120000, 0);
    /* Alerts of the last episode resolve and reach Alertmanager; the archive catches up. */
    soak_sleep_ms(15000);
    for (int i = 0; i < 90 && (arch_left = tenant_points("arch")) != 0; i++) {
        soak_sleep_ms(1000);
    }
    sample_all();

    points = check_points(&lost, &dup);
    alerts_missing = check_alerts(&alerts_raised);
    arch_left = tenant_points("arch");
    fprintf(stderr, "soak: sent=%" PRId64 " acked=%" PRId64 " alerts_raised=%d "
            "alerts_missing=%d archive_days=%d archive_points_left=%" PRId64 " objstore_500s=%d "
            "am_polls=%d am_notifications=%d serve_died=%d\n", sent, acked, alerts_raised,
            alerts_missing, arch_days, arch_left, atomic_load(&os.answered_500),
            atomic_load(&am.polls_ok), atomic_load(&am.notifications), serve_died);
    for (int f = 0; f < F_COUNT; f++) {
        fprintf(stderr, "soak: fault %s x%d\n", fault_names[f], fault_count[f]);
    }
    for (int p = 0; p < P_COUNT; p++) {
        long end_fds = procs[p].n > 0 ? procs[p].s[procs[p].n - 1].fds : -1;
        int leaks = procs[p].fds_base >= 0 && end_fds > procs[p].fds_base + FD_SLACK;
        fprintf(stderr, "soak: %s samples=%d rss_end_kb=%ld rss_slope_kb_per_h=%.0f "
                "fds_warm=%ld fds_end=%ld%s\n", proc_names[p], procs[p].n,
                procs[p].n > 0 ? procs[p].s[procs[p].n - 1].rss_kb : -1, rss_slope_kb_h(p, 0),
                procs[p].fds_base, end_fds, leaks ? " LEAK" : "");
        leak |= leaks;
    }
    {
        /* The RSS of the last instance of modax serve may not grow by more than
           SOAK_RSS_SLOPE_MAX kB/h (8 MB), judged when it was sampled for 20 minutes or more
           after warm-up: in a shorter span, warm-up is most of the slope. */
        const char *m = getenv("SOAK_RSS_SLOPE_MAX");
        double max = m != NULL ? strtod(m, NULL) : 8192.0, slope = rss_slope_kb_h(P_SERVE, 1);
        int64_t span = 0;
        for (int i = 0; i < procs[P_SERVE].n; i++) {
            if (procs[P_SERVE].s[i].instance == procs[P_SERVE].instance) {
                span = procs[P_SERVE].s[procs[P_SERVE].n - 1].t_s - procs[P_SERVE].s[i].t_s;
                break;
            }
        }
        fprintf(stderr, "soak: modax serve's last instance: rss_slope_kb_per_h=%.0f over %" PRId64
                " s after warm-up\n", slope, span);
        if (slope > max && span >= 1200) {
            fprintf(stderr, "soak: modax serve RSS grows %.0f kB/h (limit %.0f)\n", slope, max);
            leak = 1;
        }
        failed |= lost != 0 || dup != 0 || alerts_missing != 0 || arch_left != 0 || leak ||
                  serve_died != 0;
        printf("soak: seconds=%ld points=%" PRId64 " lost=%" PRId64 " dup=%" PRId64 " kills=%d "
               "restarts=%d rss_slope_kb_per_h=%.0f fds_end=%ld\n",
               seconds, points, lost, dup, kills, restarts, slope,
               procs[P_SERVE].n > 0 ? procs[P_SERVE].s[procs[P_SERVE].n - 1].fds : -1);
        fflush(stdout);
    }
end:
    teardown();
    if (!failed || getenv("SOAK_KEEP") == NULL) {
        tmp_remove(dir);
    } else {
        fprintf(stderr, "soak: kept %s\n", dir);
    }
    for (int p = 0; p < P_COUNT; p++) {
        mdx_free(procs[p].s);
    }
    mdx_free(fleet.acked);
    mdx_free(fleet.by_mid);
    mdx_free(am.seen);
    return failed ? 1 : 0;
}
