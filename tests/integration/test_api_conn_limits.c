/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_api_conn_limits.c - issue 16 item 1: the HTTP API against a flood of
 * half-open connections, with a real `modax serve` and Mosquitto and raw
 * sockets from the test (limits lowered so that the test stays small):
 * the cap per client address, the listener's cap, /healthz and /metrics
 * answering on api.admin_port while the main listener is full, the
 * counters of refused and cut connections, and a trickling client cut at
 * api.read_timeout_ms although it keeps sending.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "support/api.h"

#define MAX_CONNS 40          /* api.max_connections of the test's server */
#define PER_ADDRESS 20        /* api.max_conns_per_address */
#if defined(__SANITIZE_THREAD__)
/* Under ThreadSanitizer accepting 25 connections can take longer than 2.5 s: the first
 * ones would be cut before the last are accepted, freeing places under the cap. */
#define READ_TIMEOUT_MS 8000
#else
#define READ_TIMEOUT_MS 2500  /* api.read_timeout_ms */
#endif
#define HALF_REQUEST "GET / HTTP/1.1\r\nX: "
#define REFUSED_PER_ADDRESS                                                                        \
    "modax_http_connections_refused_total{listener=\"main\",reason=\"per_address\"}"
#define REFUSED_FULL "modax_http_connections_refused_total{listener=\"main\",reason=\"full\"}"

static struct api_fixture fx;
static int fx_up;
static int admin_port;

/*
 * A TCP connection from 'from' (an address of 127.0.0.0/8) to the API's
 * main port, with 'send_text' sent; -1 on failure.
 */
static int open_from(const char *from, int port, const char *send_text)
{
    struct sockaddr_in src = {0}, dst = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    src.sin_family = AF_INET;
    inet_pton(AF_INET, from, &src.sin_addr);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
        connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 ||
        (send_text != NULL &&
         send(fd, send_text, strlen(send_text), MSG_NOSIGNAL) != (ssize_t)strlen(send_text))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 1 once the server has ended the connection (EOF or reset); what it sent goes to 'got'. */
static int ended(int fd, char *got, size_t len)
{
    struct pollfd p = {fd, POLLIN, 0};
    size_t have = strlen(got);

    while (poll(&p, 1, 0) == 1) {
        ssize_t n = recv(fd, got + have, len - 1 - have, MSG_DONTWAIT);
        if (n > 0 && have + (size_t)n < len - 1) {
            have += (size_t)n;
            got[have] = '\0';
            continue;
        }
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }
    return 0;
}

/* How many of fds[0..n) the server has ended. */
static int count_ended(const int *fds, int n, char (*got)[128])
{
    int k = 0;

    for (int i = 0; i < n; i++) {
        if (fds[i] < 0 || ended(fds[i], got[i], sizeof(got[i]))) {
            k++;
        }
    }
    return k;
}

/* How many of them ended without an answer: refused at accept, not cut by the read timeout (408). */
static int count_refused(const int *fds, int n, char (*got)[128])
{
    int k = 0;

    for (int i = 0; i < n; i++) {
        if (fds[i] < 0 || ended(fds[i], got[i], sizeof(got[i]))) {
            k += strncmp(got[i], "HTTP/1.1 408", 12) != 0;
        }
    }
    return k;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
        fds[i] = -1;
    }
}

/* GET 'path' on 'port': the status (0: no answer), the body into *body (free it) if not NULL. */
static long get_on(int port, const char *path, char **body)
{
    struct http_resp resp;
    char url[256];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    if (body != NULL) {
        *body = NULL;
    }
    if (http_call("GET", url, NULL, NULL, &resp) != 0) {
        http_resp_free(&resp);
        return 0;
    }
    if (body != NULL) {
        *body = resp.body;
        resp.body = NULL;
    }
    http_resp_free(&resp);
    return resp.status;
}

/* The value of the sample 'name' (with its labels) in the admin listener's /metrics; -1 if none. */
static double metric(const char *name)
{
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", admin_port);
    return metrics_get(url, name);
}

static void start(void)
{
    char env[32];

    admin_port = free_port();
    snprintf(env, sizeof(env), "%d", admin_port);
    setenv("MODAX_API_ADMIN_PORT", env, 1);
    snprintf(env, sizeof(env), "%d", MAX_CONNS);
    setenv("MODAX_API_MAX_CONNECTIONS", env, 1);
    snprintf(env, sizeof(env), "%d", PER_ADDRESS);
    setenv("MODAX_API_MAX_CONNS_PER_ADDRESS", env, 1);
    snprintf(env, sizeof(env), "%d", READ_TIMEOUT_MS);
    setenv("MODAX_API_READ_TIMEOUT_MS", env, 1);
    fx_up = api_fixture_start(&fx, "api-conn-limits", NULL) == 0;
    CHECK(fx_up);
    if (fx_up) {
        CHECK_EQ_INT(get_on(fx.http_port, "/healthz", NULL), 200);
        CHECK_EQ_INT(get_on(admin_port, "/healthz", NULL), 200);
    }
}

/* The admin port serves the three public system routes and nothing else. */
static void admin_port_serves_probes_only(void)
{
    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    CHECK_EQ_INT(get_on(admin_port, "/readyz", NULL), 200);
    CHECK(metric("modax_http_connections{listener=\"main\"}") >= 0);
    CHECK_EQ_INT(get_on(admin_port, "/api/v1/latest", NULL), 404);
    CHECK_EQ_INT(get_on(admin_port, "/", NULL), 404);
}

/* Issue 16 item 1: one address holds at most api.max_conns_per_address connections. */
static void issue16_per_address_cap(void)
{
    enum { N = PER_ADDRESS + 5 };
    static char got[N][128];
    int fds[N];
    double before;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    memset(got, 0, sizeof(got));
    before = metric(REFUSED_PER_ADDRESS);
    for (int i = 0; i < N; i++) {
        fds[i] = open_from("127.0.0.5", fx.http_port, HALF_REQUEST);
    }
    /* The five over the cap are ended with no answer; the others are held until the read
     * timeout cuts them with a 408 (a busy machine may get there first: they do not count). */
    CHECK_WAIT(count_refused(fds, N, got) >= N - PER_ADDRESS, READ_TIMEOUT_MS + 5000);
    CHECK_EQ_INT(count_refused(fds, N, got), N - PER_ADDRESS);
    CHECK_WAIT(metric(REFUSED_PER_ADDRESS) == before + (N - PER_ADDRESS), 5000);
    /* Another address is not affected. */
    CHECK_EQ_INT(get_on(fx.http_port, "/healthz", NULL), 200);
    close_all(fds, N);
    CHECK_WAIT(metric("modax_http_connections{listener=\"main\"}") == 0, 5000);
}

/*
 * Issue 16 item 1: half requests fill the main listener: more connections
 * are refused and counted, the admin port still answers /healthz and
 * /metrics at once, and every half request is cut (408) at the read
 * timeout, after which the main listener answers again.
 */
static void issue16_full_listener_still_probed_and_recovers(void)
{
    enum { N = MAX_CONNS };
    static char got[N][128];
    char from[16], extra_got[128] = "";
    int fds[N], extra;
    int64_t t0, t_full;
    double refused0, cut0;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    memset(got, 0, sizeof(got));
    refused0 = metric(REFUSED_FULL);
    cut0 = metric("modax_http_connections_timed_out_total{listener=\"main\"}");
    t0 = mdx_mono_us();
    for (int i = 0; i < N; i++) {
        /* Two addresses, each at its cap: only the listener's cap is in play. */
        snprintf(from, sizeof(from), "127.0.0.%d", 10 + i / PER_ADDRESS);
        fds[i] = open_from(from, fx.http_port, HALF_REQUEST);
        CHECK(fds[i] >= 0);
    }
    CHECK_WAIT(metric("modax_http_connections{listener=\"main\"}") == N, 2000);
    t_full = mdx_mono_us();

    /* Full: a new connection from a fresh address is ended without an answer, and counted. */
    extra = open_from("127.0.0.20", fx.http_port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(extra >= 0);
    CHECK_WAIT(ended(extra, extra_got, sizeof(extra_got)), 1000);
    CHECK_STR(extra_got, "");
    close(extra);
    CHECK(metric(REFUSED_FULL) >= refused0 + 1);

    /* The admin port answers meanwhile, well within the read timeout. */
    CHECK_EQ_INT(get_on(admin_port, "/healthz", NULL), 200);
    CHECK_EQ_INT(get_on(admin_port, "/readyz", NULL), 200);
    CHECK((mdx_mono_us() - t_full) / 1000 < READ_TIMEOUT_MS);
    CHECK_EQ_INT(count_ended(fds, N, got), 0); /* still held: the answers did not wait for them */

    /* At the read timeout every half request is cut, with a 408. */
    CHECK_WAIT(count_ended(fds, N, got) == N, READ_TIMEOUT_MS + 3000);
    CHECK_EQ_INT(count_ended(fds, N, got), N);
    CHECK((mdx_mono_us() - t0) / 1000 >= READ_TIMEOUT_MS - 100);
    for (int i = 0; i < N; i++) {
        CHECK(strncmp(got[i], "HTTP/1.1 408", 12) == 0);
    }
    CHECK(metric("modax_http_connections_timed_out_total{listener=\"main\"}") >= cut0 + N);
    close_all(fds, N);
    CHECK_WAIT(get_on(fx.http_port, "/healthz", NULL) == 200, 5000);
}

/* Issue 16 item 1: a client trickling one header byte at a time is cut at the read timeout. */
static void issue16_trickle_cut_at_deadline(void)
{
    char got[128] = "";
    int64_t t0, cut_ms = -1;
    int fd;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    t0 = mdx_mono_us();
    fd = open_from("127.0.0.30", fx.http_port, "GET /healthz HTTP/1.1\r\nX-Slow: ");
    CHECK(fd >= 0);
    if (fd < 0) {
        return;
    }
    /* One byte every 100 ms for up to three read timeouts: each byte is activity. */
    while ((mdx_mono_us() - t0) / 1000 < 3 * READ_TIMEOUT_MS) {
        if (ended(fd, got, sizeof(got)) || send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
            cut_ms = (mdx_mono_us() - t0) / 1000;
            break;
        }
        mdx_sleep_ms(100); /* the trickle's pace, not a wait for a condition */
    }
    close(fd);
    fprintf(stderr, "  trickling client cut after %" PRId64 " ms (read timeout %d ms)\n", cut_ms,
            READ_TIMEOUT_MS);
    CHECK(cut_ms >= READ_TIMEOUT_MS - 100);
    CHECK(cut_ms <= READ_TIMEOUT_MS + 1500);

    /* A kept-alive connection that sends nothing after its answer is closed the same way. */
    fd = open_from("127.0.0.31", fx.http_port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(fd >= 0);
    if (fd >= 0) {
        char ka[512] = "";
        t0 = mdx_mono_us();
        CHECK_WAIT(ended(fd, ka, sizeof(ka)), READ_TIMEOUT_MS + 3000);
        CHECK(strncmp(ka, "HTTP/1.1 200", 12) == 0);
        CHECK((mdx_mono_us() - t0) / 1000 >= READ_TIMEOUT_MS - 100);
        close(fd);
    }
}

/*
 * The deadline covers reading a request only: a live stream being answered
 * outlives it, and a kept-alive connection's next request gets a new one.
 */
static void issue16_deadline_spares_answers(void)
{
    char req[256], got[4096] = "";
    int64_t t0;
    int fd;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    snprintf(req, sizeof(req), "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n"
             "Authorization: Bearer %s\r\n\r\n", fx.viewer);
    fd = open_from("127.0.0.32", fx.http_port, req);
    CHECK(fd >= 0);
    if (fd >= 0) {
        WAIT_UNTIL(ended(fd, got, sizeof(got)), READ_TIMEOUT_MS + 1500);
        CHECK(!ended(fd, got, sizeof(got)));
        CHECK(strncmp(got, "HTTP/1.1 200", 12) == 0);
        close(fd);
    }

    /* Request 2 at 60% of the timeout; the connection then lives a full timeout after it. */
    got[0] = '\0';
    t0 = mdx_mono_us();
    fd = open_from("127.0.0.33", fx.http_port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(fd >= 0);
    if (fd >= 0) {
        WAIT_UNTIL(ended(fd, got, sizeof(got)), READ_TIMEOUT_MS * 6 / 10);
        CHECK(strncmp(got, "HTTP/1.1 200", 12) == 0);
        const char *again = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        CHECK(send(fd, again, strlen(again), MSG_NOSIGNAL) == (ssize_t)strlen(again));
        CHECK_WAIT(ended(fd, got, sizeof(got)), 2 * READ_TIMEOUT_MS + 2000);
        CHECK(strstr(got + 12, "HTTP/1.1 200") != NULL);
        CHECK((mdx_mono_us() - t0) / 1000 >= READ_TIMEOUT_MS * 16 / 10 - 100);
        close(fd);
    }

    /* Refused at its headers while its body never comes: the refusal, and no 408 after it. */
    got[0] = '\0';
    fd = open_from("127.0.0.34", fx.http_port,
                   "POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                   "\r\nContent-Length: 100\r\n\r\n{");
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_WAIT(ended(fd, got, sizeof(got)), READ_TIMEOUT_MS + 3000);
        CHECK(strncmp(got, "HTTP/1.1 401", 12) == 0);
        CHECK(strstr(got, "408") == NULL);
        close(fd);
    }
}

static void stop(void)
{
    if (fx_up) {
        CHECK_EQ_INT(api_fixture_stop(&fx), 0); /* a clean exit: no sanitizer report */
        fx_up = 0;
    }
}

static const struct mdx_test tests[] = {
    {"start", start},
    {"admin port serves probes only", admin_port_serves_probes_only},
    {"issue 16: per-address cap", issue16_per_address_cap},
    {"issue 16: full listener still probed and recovers",
     issue16_full_listener_still_probed_and_recovers},
    {"issue 16: trickle cut at deadline", issue16_trickle_cut_at_deadline},
    {"issue 16: deadline spares answers", issue16_deadline_spares_answers},
    {"stop", stop},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
