/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_source_mqtt_tls.c - the ingest's MQTT link over TLS against a real
 * Mosquitto whose TLS listeners require client certificates (all made by
 * `modax ca` and `modax device add --cert` here): the right certificate
 * connects and data is stored; a CA that did not sign the broker, an
 * expired client certificate and a broker certificate for another host
 * are each refused, `modax serve` never becomes ready, and its log says
 * why in words.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "support/api.h"
#include "support/support.h"

static char dir[512], cadir[600], ca2dir[600];
static int plain_port, tls_port, tls_other_port;
static pid_t broker_pid;

static int start_broker(void)
{
    char conf[700], log[700];
    FILE *f;

    snprintf(conf, sizeof(conf), "%s/mosquitto-tls.conf", dir);
    snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
    f = fopen(conf, "w");
    if (f == NULL) {
        return -1;
    }
    /* Plain for the test's publisher; TLS with client certificates for the ingest; and a
       TLS listener whose certificate names another host. */
    fprintf(f, "per_listener_settings false\nallow_anonymous true\npersistence false\n"
               "listener %d 127.0.0.1\n"
               "listener %d 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/srv/broker.crt\n"
               "keyfile %s/srv/broker.key\nrequire_certificate true\n"
               "listener %d 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/srv-other/broker.crt\n"
               "keyfile %s/srv-other/broker.key\nrequire_certificate true\n%s",
            plain_port, tls_port, cadir, dir, dir, tls_other_port, cadir, dir, dir,
            geteuid() == 0 ? "user root\n" : "");
    fclose(f);
    broker_pid = fork();
    if (broker_pid == 0) {
        FILE *out = freopen(log, "a", stdout);
        (void)out;
        dup2(1, 2);
        execlp("mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    /* Ready when the publisher can connect on the plain port. */
    for (int i = 0; i < 250; i++) {
        struct pub *p = pub_connect(plain_port, "probe");
        if (p != NULL) {
            int ok = pub_send(p, "probe/x", "x", 1) == 0 && pub_wait_acked(p, 2000) == 0;
            pub_close(p);
            if (ok) {
                return 0;
            }
        }
        mdx_sleep_ms(20);
    }
    fprintf(stderr, "mosquitto did not start; see %s\n", log);
    return -1;
}

/*
 * A second Mosquitto: a plain listener on 'plain' (for the test's publisher) and a TLS
 * listener on 'port' serving the certificate in DIR/certdir.
 */
static pid_t start_tls_broker(int plain, int port, const char *certdir, const char *name)
{
    char conf[700], log[700];
    FILE *f;
    pid_t pid;

    snprintf(conf, sizeof(conf), "%s/%s.conf", dir, name);
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    f = fopen(conf, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "per_listener_settings false\nallow_anonymous true\npersistence false\n"
               "listener %d 127.0.0.1\n"
               "listener %d 127.0.0.1\ncafile %s/ca.crt\ncertfile %s/%s/broker.crt\n"
               "keyfile %s/%s/broker.key\nrequire_certificate true\n%s",
            plain, port, cadir, dir, certdir, dir, certdir, geteuid() == 0 ? "user root\n" : "");
    fclose(f);
    pid = fork();
    if (pid == 0) {
        FILE *out = freopen(log, "a", stdout);
        (void)out;
        dup2(1, 2);
        execlp("mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int setup(void)
{
    char out[8192], path[700];
    int rc = 0;

    tmp_make(dir, sizeof(dir), "mqtt_tls");
    plain_port = free_port();
    tls_port = free_port();
    tls_other_port = free_port();
    modax_env(dir, plain_port);
    snprintf(cadir, sizeof(cadir), "%s/ca", dir);
    snprintf(ca2dir, sizeof(ca2dir), "%s/ca-other", dir);
    static const char *const sub[] = {"srv", "srv-other", "certs", "other"};
    for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
        rc |= mkdir(path, 0700);
    }
    setenv("MODAX_AUTH_CA_DIR", cadir, 1);
    rc |= modax_run(out, sizeof(out), "tenant", "add", "acme", NULL);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "m-1", NULL);
    rc |= modax_run(out, sizeof(out), "ca", "init", NULL);
    snprintf(path, sizeof(path), "%s/srv", dir);
    rc |= modax_run(out, sizeof(out), "ca", "server-cert", "--cn", "localhost", "--ip",
                    "127.0.0.1", "--out", path, NULL);
    snprintf(path, sizeof(path), "%s/srv-other", dir);
    rc |= modax_run(out, sizeof(out), "ca", "server-cert", "--cn", "elsewhere.example", "--out",
                    path, NULL);
    /* The ingest's client certificates: a valid one and one that expired nine days ago. */
    snprintf(path, sizeof(path), "%s/certs", dir);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "ingest", "--cert", "--out", path,
                    NULL);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "ingest-old", "--cert", "--out",
                    path, "--days", "1", "--backdate-days", "10", NULL);
    /* Another CA, which did not sign the broker's certificate. */
    setenv("MODAX_AUTH_CA_DIR", ca2dir, 1);
    rc |= modax_run(out, sizeof(out), "ca", "init", NULL);
    setenv("MODAX_AUTH_CA_DIR", cadir, 1);
    if (rc != 0) {
        fprintf(stderr, "setup: a modax command failed: %s\n", out);
        return -1;
    }
    return start_broker();
}

/* The ingest's TLS settings for the next `modax serve`. */
static void tls_env(const char *ca_dir, const char *cert)
{
    char buf[700];

    setenv("MODAX_MQTT_TLS", "true", 1);
    snprintf(buf, sizeof(buf), "%s/ca.crt", ca_dir);
    setenv("MODAX_MQTT_TLS_CA_FILE", buf, 1);
    snprintf(buf, sizeof(buf), "%s/certs/%s.crt", dir, cert);
    setenv("MODAX_MQTT_TLS_CERT_FILE", buf, 1);
    snprintf(buf, sizeof(buf), "%s/certs/%s.key", dir, cert);
    setenv("MODAX_MQTT_TLS_KEY_FILE", buf, 1);
}

/* Non-zero when the worker's log comes to contain 'text' within timeout_ms. */
static int log_says(const char *worker, const char *text, int timeout_ms)
{
    char path[700];
    static char buf[1 << 16];
    int64_t end = mdx_mono_us() / 1000 + timeout_ms;

    snprintf(path, sizeof(path), "%s/%s.log", dir, worker);
    do {
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            if (strstr(buf, text) != NULL) {
                return 1;
            }
        }
        mdx_sleep_ms(50);
    } while (mdx_mono_us() / 1000 < end);
    fprintf(stderr, "  %s.log never said \"%s\"\n", worker, text);
    return 0;
}

/* Starts a worker on 'port' that must not become ready, and checks its log says 'why'. */
static void refused(const char *worker, int port, const char *why)
{
    struct serve s;

    CHECK(serve_start_worker(&s, dir, port, worker) != 0);
    CHECK(log_says(worker, why, 10000));
    if (s.pid > 0) {
        serve_stop(&s, SIGTERM);
    }
}

static void right_certificate_connects_and_stores(void)
{
    struct serve s;
    struct pub *p;
    char payload[256];

    tls_env(cadir, "ingest");
    setenv("MODAX_MQTT_TLS_ALPN", "x-amzn-mqtt-ca", 1); /* offered; Mosquitto ignores it */
    CHECK_EQ_INT(serve_start_worker(&s, dir, tls_port, "good"), 0);
    unsetenv("MODAX_MQTT_TLS_ALPN");
    CHECK(log_says("good", "\"connected\"", 5000));
    p = pub_connect(plain_port, "dev-m-1");
    CHECK(p != NULL);
    for (int i = 0; p != NULL && i < 20; i++) {
        int n = snprintf(payload, sizeof(payload),
                         "{\"device_id\":\"m-1\",\"timestamp\":%lld,"
                         "\"sensor_data\":{\"current_mean\":%d.5}}",
                         (long long)(mdx_now_ms() - 60000 + i), i);
        CHECK_EQ_INT(pub_send(p, "modax/acme/m-1/sensor_data", payload, (size_t)n), 0);
    }
    CHECK(p != NULL && pub_wait_acked(p, 5000) == 0);
    CHECK_EQ_INT(wait_points(dir, "acme", 20, 10000), 20);
    if (p != NULL) {
        pub_close(p);
    }
    /* Issue 12: the API's own broker link (live stream, alerts) speaks the same TLS, so
     * /readyz, which needs that link, says ready. */
    {
        char url[128];
        long status = 0;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", s.api_port);
        for (int64_t until = mdx_now_ms() + 10000; status != 200 && mdx_now_ms() < until;) {
            struct http_resp r = {0};
            status = http_call("GET", url, NULL, NULL, &r) == 0 ? r.status : 0;
            http_resp_free(&r);
            if (status != 200) {
                mdx_sleep_ms(100);
            }
        }
        CHECK_EQ_INT(status, 200);
    }
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
}

static void wrong_ca_is_refused(void)
{
    tls_env(ca2dir, "ingest");
    refused("wrong-ca", tls_port, "not signed by a CA we trust; check mqtt.tls_ca_file");
}

static void expired_client_certificate_is_refused(void)
{
    tls_env(cadir, "ingest-old");
    struct serve s;

    CHECK(serve_start_worker(&s, dir, tls_port, "expired") != 0);
    CHECK(log_says("expired", "client certificate expired", 10000));
    /* And the broker's refusal is named too, not only our own start-up check: from the
       TLS alert when it comes during the handshake, else from the connection's end. */
    CHECK(log_says("expired", "check mqtt.tls_cert_file (expired?", 15000));
    if (s.pid > 0) {
        serve_stop(&s, SIGTERM);
    }
}

static void wrong_host_name_is_refused(void)
{
    tls_env(cadir, "ingest");
    refused("wrong-host", tls_other_port, "not for this host name");
}

/*
 * A refused handshake ends libmosquitto's own loop for good; the source must keep
 * trying: the broker on this port first shows a certificate for another host, then is
 * replaced by one with the right certificate, and the ingest connects and stores.
 */
static void reconnects_after_a_refused_handshake(void)
{
    struct serve s;
    struct pub *p;
    int port = free_port(), plain = free_port();
    pid_t b = start_tls_broker(plain, port, "srv-other", "broker-wrong");
    const char *payload = "{\"device_id\":\"m-1\",\"timestamp\":1764230400999,"
                          "\"sensor_data\":{\"current_mean\":1.5}}";
    int64_t base = store_points(dir, "acme");

    tls_env(cadir, "ingest");
    CHECK(b > 0);
    CHECK(serve_start_worker(&s, dir, port, "again") != 0);
    CHECK(log_says("again", "not for this host name", 10000));
    kill(b, SIGTERM);
    waitpid(b, NULL, 0);
    b = start_tls_broker(plain, port, "srv", "broker-right");
    CHECK(log_says("again", "\"connected\"", 30000));
    p = pub_connect(plain, "dev-m-1-again");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_EQ_INT(pub_send(p, "modax/acme/m-1/sensor_data", payload, strlen(payload)), 0);
        CHECK_EQ_INT(pub_wait_acked(p, 5000), 0);
        pub_close(p);
    }
    CHECK_EQ_INT(wait_points(dir, "acme", base + 1, 10000), base + 1);
    if (s.pid > 0) {
        CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    }
    kill(b, SIGTERM);
    waitpid(b, NULL, 0);
}

int main(void)
{
    static const struct mdx_test tests[] = {
        {"right certificate connects and stores", right_certificate_connects_and_stores},
        {"wrong CA is refused", wrong_ca_is_refused},
        {"expired client certificate is refused", expired_client_certificate_is_refused},
        {"wrong host name is refused", wrong_host_name_is_refused},
        {"reconnects after a refused handshake", reconnects_after_a_refused_handshake},
        {NULL, NULL}};
    int rc;

    if (setup() != 0) {
        fprintf(stderr, "setup failed\n");
        if (broker_pid > 0) {
            kill(broker_pid, SIGTERM);
            waitpid(broker_pid, NULL, 0);
        }
        return 1;
    }
    rc = mdx_test_run(tests, 1, NULL);
    kill(broker_pid, SIGTERM);
    waitpid(broker_pid, NULL, 0);
    if (rc == 0) {
        tmp_remove(dir);
    }
    return rc;
}
