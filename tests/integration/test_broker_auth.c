/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_auth.c - attacks on the broker with the auth plugin loaded
 * (real Mosquitto, real store, credentials made by `modax`): each must be
 * denied, and counted by the plugin (its stats file) and logged (the
 * broker's log); and the normal paths: a device publishes and `modax
 * serve`, connected as the service identity, stores it; the service sends
 * a command and the device receives it. MQTT 3.1.1 denies publishes
 * silently, so those are checked through the counters and a service
 * subscriber that must not see them.
 */
#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "support/broker_auth.h"
#include "support/support.h"

static char dir[512], cadir[600], ca2dir[600];
static struct broker br;
static int tls_port;
static char secret_m1[128], secret_m2[128], secret_b1[128], secret_m3[128], secret_svc[128];
static char secret_m4[128];

/* ---- a libmosquitto client, driven synchronously ---- */

struct cl {
    struct mosquitto *m;
    int connack;              /* -1 until CONNACK */
    int granted;              /* first granted QoS of the last SUBACK, -1 until then */
    int acked;                /* PUBACKs */
    int received;             /* messages */
    int gone;                 /* disconnected */
    char last_topic[256];
};

static void on_connect(struct mosquitto *m, void *o, int rc)
{
    (void)m;
    ((struct cl *)o)->connack = rc;
}
static void on_subscribe(struct mosquitto *m, void *o, int mid, int n, const int *q)
{
    (void)m;
    (void)mid;
    ((struct cl *)o)->granted = n > 0 ? q[0] : -1;
}
static void on_publish(struct mosquitto *m, void *o, int mid)
{
    (void)m;
    (void)mid;
    ((struct cl *)o)->acked++;
}
static void on_message(struct mosquitto *m, void *o, const struct mosquitto_message *msg)
{
    struct cl *c = o;
    (void)m;
    c->received++;
    snprintf(c->last_topic, sizeof(c->last_topic), "%s", msg->topic);
}
static void on_disconnect(struct mosquitto *m, void *o, int rc)
{
    (void)m;
    (void)rc;
    ((struct cl *)o)->gone = 1;
}

static void pump(struct cl *c, int ms)
{
    int64_t end = mdx_mono_us() / 1000 + ms;
    while (mdx_mono_us() / 1000 < end && !c->gone) {
        mosquitto_loop(c->m, 20, 1);
    }
}

static int cl_open_from(struct cl *c, const char *id, const char *user, const char *pw,
                        const char *cert_dir, const char *cn, const char *source);

/* Connects; returns the CONNACK code (or -1: no CONNACK, e.g. TLS refused). */
static int cl_open(struct cl *c, const char *id, const char *user, const char *pw,
                   const char *cert_dir, const char *cn)
{
    return cl_open_from(c, id, user, pw, cert_dir, cn, NULL);
}

/* As cl_open, from source address 'source' (NULL: any), e.g. 127.0.0.2 on loopback. */
static int cl_open_from(struct cl *c, const char *id, const char *user, const char *pw,
                        const char *cert_dir, const char *cn, const char *source)
{
    int port = br.port;

    memset(c, 0, sizeof(*c));
    c->connack = c->granted = -1;
    c->m = mosquitto_new(id, true, c);
    mosquitto_connect_callback_set(c->m, on_connect);
    mosquitto_subscribe_callback_set(c->m, on_subscribe);
    mosquitto_publish_callback_set(c->m, on_publish);
    mosquitto_message_callback_set(c->m, on_message);
    mosquitto_disconnect_callback_set(c->m, on_disconnect);
    if (user != NULL) {
        mosquitto_username_pw_set(c->m, user, pw);
    }
    if (cert_dir != NULL) {
        char ca[700], crt[700], key[700];
        snprintf(ca, sizeof(ca), "%s/ca.crt", cadir);
        snprintf(crt, sizeof(crt), "%s/%s.crt", cert_dir, cn);
        snprintf(key, sizeof(key), "%s/%s.key", cert_dir, cn);
        mosquitto_tls_set(c->m, ca, NULL, crt, key, NULL);
        port = tls_port;
    }
    if (mosquitto_connect_bind(c->m, "127.0.0.1", port, 30, source) != MOSQ_ERR_SUCCESS) {
        return -1;
    }
    for (int i = 0; i < 150 && c->connack < 0 && !c->gone; i++) {
        mosquitto_loop(c->m, 20, 1);
    }
    return c->connack;
}

static void cl_close(struct cl *c)
{
    if (c->m != NULL) {
        mosquitto_disconnect(c->m);
        mosquitto_loop(c->m, 20, 1);
        mosquitto_destroy(c->m);
        c->m = NULL;
    }
}

static int cl_sub(struct cl *c, const char *filter)
{
    c->granted = -1;
    mosquitto_subscribe(c->m, NULL, filter, 1);
    for (int i = 0; i < 150 && c->granted < 0 && !c->gone; i++) {
        mosquitto_loop(c->m, 20, 1);
    }
    return c->granted;
}

static int cl_pub(struct cl *c, const char *topic, const char *payload)
{
    int before = c->acked;
    int rc = mosquitto_publish(c->m, NULL, topic, (int)strlen(payload), payload, 1, false);
    for (int i = 0; rc == 0 && i < 150 && c->acked == before && !c->gone; i++) {
        mosquitto_loop(c->m, 20, 1);
    }
    return rc == 0 && c->acked > before ? 0 : -1;
}

/* ---- a raw MQTT 3.1.1 client, for topics libmosquitto refuses to send ---- */

static size_t put_str(unsigned char *p, const char *s, size_t n)
{
    p[0] = (unsigned char)(n >> 8);
    p[1] = (unsigned char)n;
    memcpy(p + 2, s, n);
    return n + 2;
}

static size_t put_len(unsigned char *p, size_t n)
{
    size_t i = 0;
    do {
        unsigned char b = n % 128;
        n /= 128;
        p[i++] = (unsigned char)(b | (n > 0 ? 0x80 : 0));
    } while (n > 0);
    return i;
}

/* Connects as a device with a password; the socket, or -1 unless CONNACK 0. */
static int raw_connect(const char *id, const char *pw)
{
    unsigned char body[512], pkt[600], ack[4];
    size_t b = 0, p = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)br.port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    b += put_str(body, "MQTT", 4);
    body[b++] = 4;
    body[b++] = 0xC2; /* user name, password, clean session */
    body[b++] = 0;
    body[b++] = 60;
    b += put_str(body + b, id, strlen(id));
    b += put_str(body + b, id, strlen(id));
    b += put_str(body + b, pw, strlen(pw));
    pkt[p++] = 0x10;
    p += put_len(pkt + p, b);
    memcpy(pkt + p, body, b);
    p += b;
    if (write(fd, pkt, p) != (ssize_t)p || read(fd, ack, 4) != 4 || ack[3] != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* PUBLISH QoS 1 of a topic of 'tlen' bytes; 1 if PUBACKed, 0 if the broker closed. */
static int raw_publish(int fd, const char *topic, size_t tlen)
{
    unsigned char pkt[1200], ack[4];
    size_t p = 0, b = tlen + 2 + 2 + 2;

    pkt[p++] = 0x32;
    p += put_len(pkt + p, b);
    p += put_str(pkt + p, topic, tlen);
    pkt[p++] = 0;
    pkt[p++] = 7;
    memcpy(pkt + p, "{}", 2);
    p += 2;
    if (write(fd, pkt, p) != (ssize_t)p) {
        return 0;
    }
    return read(fd, ack, 4) == 4 && ack[0] == 0x40;
}

/* ---- the plugin's counters ---- */

/* Waits until counter 'name' reaches 'want' (the stats file is written each second). */
static long long stat_reaches(const char *name, long long want)
{
    long long v = -1;
    for (int i = 0; i < 100; i++) {
        v = broker_auth_stat(&br, name);
        if (v >= want) {
            break;
        }
        mdx_sleep_ms(100);
    }
    return v;
}

/* When the plugin's stats file was last written, in ns (0: none). */
static long long stats_written_ns(void)
{
    char path[700];
    struct stat st;

    snprintf(path, sizeof(path), "%s/plugin-stats", br.dir);
    if (stat(path, &st) != 0) {
        return 0;
    }
    return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

/*
 * Waits (10 s at most) until the plugin has written its stats file twice more
 * (it does so each second): the second write began after this call, so what
 * the file says then counts everything that happened before. 0 if so.
 */
static int stats_settled(void)
{
    long long last = stats_written_ns();

    for (int writes = 0; writes < 2; writes++) {
        long long seen = last;
        WAIT_UNTIL((last = stats_written_ns()) != seen, 10000);
        if (last == seen) {
            return -1;
        }
    }
    return 0;
}

static long long stat_now(const char *name)
{
    CHECK_EQ_INT(stats_settled(), 0);
    return broker_auth_stat(&br, name);
}

static int log_has(const char *needle)
{
    char path[700], line[2048];
    int found = 0;
    snprintf(path, sizeof(path), "%s/mosquitto.log", dir);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        found |= strstr(line, needle) != NULL;
    }
    if (f != NULL) {
        fclose(f);
    }
    return found;
}

/* The service's eye: counts what reaches a service subscriber of all telemetry. */
static struct cl spy;

static void spy_open(void)
{
    CHECK_EQ_INT(cl_open(&spy, "modax-ingest-spy", "modax-ingest", secret_svc, NULL, NULL), 0);
    CHECK_EQ_INT(cl_sub(&spy, "modax/+/+/sensor_data"), 1);
    CHECK_EQ_INT(cl_sub(&spy, "modax/+/+/status"), 1);
}

static void first_line(char *out, size_t len, const char *text)
{
    snprintf(out, len, "%.*s", (int)strcspn(text, "\n"), text);
}

static int setup(void)
{
    char out[8192], srv[700], path[700];
    int rc = 0;

    tmp_make(dir, sizeof(dir), "broker_auth");
    br.port = free_port();
    tls_port = free_port();
    modax_env(dir, br.port);
    snprintf(cadir, sizeof(cadir), "%s/ca", dir);
    snprintf(ca2dir, sizeof(ca2dir), "%s/ca-other", dir);
    setenv("MODAX_AUTH_CA_DIR", cadir, 1);
    rc |= modax_run(out, sizeof(out), "tenant", "add", "acme", NULL);
    rc |= modax_run(out, sizeof(out), "tenant", "add", "beta", NULL);
    rc |= modax_run(out, sizeof(out), "ca", "init", NULL);
    snprintf(srv, sizeof(srv), "%s/srv", dir);
    /* `--out` folders must exist. */
    static const char *const sub[] = {"srv", "certs", "other"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
        rc |= mkdir(path, 0700);
    }
    rc |= modax_run(out, sizeof(out), "ca", "server-cert", "--cn", "localhost", "--ip",
                    "127.0.0.1", "--out", srv, NULL);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "m-1", "--secret", NULL);
    first_line(secret_m1, sizeof(secret_m1), out);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "m-2", "--secret", NULL);
    first_line(secret_m2, sizeof(secret_m2), out);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "m-3", "--secret", NULL);
    first_line(secret_m3, sizeof(secret_m3), out);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "m-4", "--secret", NULL);
    first_line(secret_m4, sizeof(secret_m4), out);
    rc |= modax_run(out, sizeof(out), "device", "add", "beta", "b-1", "--secret", NULL);
    first_line(secret_b1, sizeof(secret_b1), out);
    rc |= modax_run(out, sizeof(out), "identity", "add", "--service", "modax-ingest", NULL);
    first_line(secret_svc, sizeof(secret_svc), out);
    snprintf(path, sizeof(path), "%s/certs", dir);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "c-1", "--cert", "--out", path,
                    NULL);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "c-2", "--cert", "--out", path,
                    NULL);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "c-old", "--cert", "--out", path,
                    "--days", "1", "--backdate-days", "10", NULL);
    /* A device whose certificate comes from another CA. */
    setenv("MODAX_AUTH_CA_DIR", ca2dir, 1);
    rc |= modax_run(out, sizeof(out), "ca", "init", NULL);
    snprintf(path, sizeof(path), "%s/other", dir);
    rc |= modax_run(out, sizeof(out), "device", "add", "acme", "x-1", "--cert", "--out", path,
                    NULL);
    setenv("MODAX_AUTH_CA_DIR", cadir, 1);
    if (rc != 0) {
        fprintf(stderr, "setup: a modax command failed: %s\n", out);
        return -1;
    }
    char ca[800], crt[800], key[800];
    snprintf(ca, sizeof(ca), "%s/ca.crt", cadir);
    snprintf(crt, sizeof(crt), "%s/broker.crt", srv);
    snprintf(key, sizeof(key), "%s/broker.key", srv);
    struct broker_auth_opts o = {tls_port, ca, crt, key};
    return broker_start_auth(&br, dir, br.port, &o);
}

static void credentials_are_checked(void)
{
    struct cl c;

    CHECK_EQ_INT(cl_open(&c, "m-1", "m-1", "not-the-secret", NULL, NULL), 5);
    cl_close(&c);
    CHECK(stat_reaches("auth_denied_password", 1) >= 1);
    CHECK_EQ_INT(cl_open(&c, "ghost", "ghost", "whatever", NULL, NULL), 5);
    cl_close(&c);
    CHECK(stat_reaches("auth_denied_unknown", 1) >= 1);
    CHECK_EQ_INT(cl_open(&c, "m-2", "m-1", secret_m1, NULL, NULL), 5); /* client id != user */
    cl_close(&c);
    CHECK(stat_reaches("auth_denied_client_id", 1) >= 1);
    CHECK_EQ_INT(cl_open(&c, "anon", NULL, NULL, NULL, NULL), 5);
    cl_close(&c);
    CHECK(stat_reaches("auth_denied_no_user", 1) >= 1);
    CHECK_EQ_INT(cl_open(&c, "m-1", "m-1", secret_m1, NULL, NULL), 0);
    cl_close(&c);
    CHECK(log_has("wrong secret") && log_has("client id is not the device id"));
}

static void devices_stay_in_their_topics(void)
{
    struct cl d;
    long long before = broker_auth_stat(&br, "acl_denied_topic");

    spy_open();
    CHECK_EQ_INT(cl_open(&d, "m-1", "m-1", secret_m1, NULL, NULL), 0);
    CHECK_EQ_INT(cl_pub(&d, "modax/acme/m-2/sensor_data", "{}"), 0);  /* silent in 3.1.1 */
    CHECK_EQ_INT(cl_pub(&d, "modax/beta/b-1/sensor_data", "{}"), 0);
    CHECK_EQ_INT(cl_pub(&d, "modax/beta/m-1/sensor_data", "{}"), 0);
    CHECK_EQ_INT(cl_sub(&d, "#"), 0x80);
    CHECK_EQ_INT(cl_sub(&d, "modax/#"), 0x80);
    CHECK_EQ_INT(cl_sub(&d, "modax/+/+/commands"), 0x80);
    CHECK_EQ_INT(cl_sub(&d, "$SYS/#"), 0x80);
    CHECK_EQ_INT(cl_sub(&d, "modax/acme/m-2/commands"), 0x80);
    CHECK_EQ_INT(cl_sub(&d, "modax/acme/m-1/commands"), 1);   /* its own: allowed */
    CHECK_EQ_INT(cl_pub(&d, "modax/acme/m-1/status", "online"), 0);
    pump(&spy, 1500);
    CHECK_EQ_INT(spy.received, 1);                            /* only its own status */
    CHECK_STR(spy.last_topic, "modax/acme/m-1/status");
    CHECK(stat_reaches("acl_denied_topic", before + 8) >= before + 8);
    CHECK(log_has("another device's topic") && log_has("another tenant's topic") &&
          log_has("wildcard not allowed here") && log_has("'$' topic not allowed"));
    cl_close(&d);
    cl_close(&spy);
}

static void bad_topics_are_refused(void)
{
    char longlevel[200];
    long long before = broker_auth_stat(&br, "acl_denied_topic");
    int fd;

    spy_open();
    fd = raw_connect("m-1", secret_m1);
    CHECK(fd >= 0);
    if (fd < 0) {
        cl_close(&spy);
        return;
    }
    /* '+' or '#' in a PUBLISH topic: a protocol error, the broker closes the connection. */
    CHECK_EQ_INT(raw_publish(fd, "modax/acme/+/sensor_data", 24), 0);
    close(fd);
    fd = raw_connect("m-1", secret_m1);
    CHECK_EQ_INT(raw_publish(fd, "modax/acme/m-1/#", 16), 0);
    close(fd);
    /* NUL inside the topic: refused by the broker before the plugin. */
    fd = raw_connect("m-1", secret_m1);
    CHECK_EQ_INT(raw_publish(fd, "modax/acme/m-1\0/sensor_data", 27), 0);
    close(fd);
    /* An over-long level: the plugin refuses it (silently in 3.1.1). */
    fd = raw_connect("m-1", secret_m1);
    snprintf(longlevel, sizeof(longlevel), "modax/acme/m-1/%0100d", 7);
    CHECK_EQ_INT(raw_publish(fd, longlevel, strlen(longlevel)), 1);
    close(fd);
    pump(&spy, 1000);
    CHECK_EQ_INT(spy.received, 0);
    CHECK(stat_reaches("acl_denied_topic", before + 1) >= before + 1);
    CHECK(log_has("malformed topic"));
    cl_close(&spy);
}

static void revoked_device_is_refused_and_disconnected(void)
{
    struct cl d, again;
    char out[4096];
    int64_t t0;

    CHECK_EQ_INT(cl_open(&d, "m-3", "m-3", secret_m3, NULL, NULL), 0);
    CHECK_EQ_INT(cl_pub(&d, "modax/acme/m-3/status", "online"), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "revoke", "acme", "m-3", NULL), 0);
    t0 = mdx_mono_us();
    for (int i = 0; i < 300 && !d.gone; i++) {
        mosquitto_loop(d.m, 50, 1);
    }
    CHECK(d.gone);
    printf("revoked device disconnected after %.2f s\n", (double)(mdx_mono_us() - t0) / 1e6);
    cl_close(&d);
    CHECK_EQ_INT(cl_open(&again, "m-3", "m-3", secret_m3, NULL, NULL), 5);
    cl_close(&again);
    CHECK(stat_reaches("kicked", 1) >= 1);
    CHECK(stat_reaches("auth_denied_revoked", 1) >= 1);
    CHECK(log_has("revoked or deleted"));
}

static void certificates_are_checked(void)
{
    struct cl c;
    char out[4096], path[700];

    snprintf(path, sizeof(path), "%s/certs", dir);
    spy_open();
    CHECK_EQ_INT(cl_open(&c, "c-1", NULL, NULL, path, "c-1"), 0);
    CHECK_EQ_INT(cl_pub(&c, "modax/acme/c-1/status", "online"), 0);
    CHECK_EQ_INT(cl_pub(&c, "modax/acme/m-1/status", "spoof"), 0);
    pump(&spy, 1000);
    CHECK_EQ_INT(spy.received, 1);
    CHECK_STR(spy.last_topic, "modax/acme/c-1/status");
    cl_close(&c);
    /* Expired, and signed by another CA: the TLS handshake fails. */
    CHECK(cl_open(&c, "c-old", NULL, NULL, path, "c-old") != 0);
    cl_close(&c);
    snprintf(path, sizeof(path), "%s/other", dir);
    CHECK(cl_open(&c, "x-1", NULL, NULL, path, "x-1") != 0);
    cl_close(&c);
    /* Client id other than the CN. */
    snprintf(path, sizeof(path), "%s/certs", dir);
    if (cl_open(&c, "m-1", NULL, NULL, path, "c-1") == 0) {
        cl_pub(&c, "modax/acme/c-1/status", "wrong id");
        pump(&c, 2000);
    }
    cl_close(&c);
    CHECK(stat_reaches("acl_denied_client_id", 1) >= 1);
    /* A revoked device's certificate: connects (no BASIC_AUTH with mTLS), then refused. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "revoke", "acme", "c-2", NULL), 0);
    /*
     * The plugin rereads its cache every 500 ms; refreshes are counted as they
     * begin, one after the other. Two more than the count written after the
     * revoke: the first of them began after it, and has ended.
     */
    long long refreshes = stat_now("cache_refreshes");
    CHECK(stat_reaches("cache_refreshes", refreshes + 2) >= refreshes + 2);
    if (cl_open(&c, "c-2", NULL, NULL, path, "c-2") == 0) {
        cl_pub(&c, "modax/acme/c-2/status", "revoked");
        pump(&c, 3000);
        CHECK(c.gone);
    }
    cl_close(&c);
    pump(&spy, 500);
    CHECK_EQ_INT(spy.received, 1);
    CHECK(stat_reaches("acl_denied_revoked", 1) >= 1);
    cl_close(&spy);
}

static void device_to_store_and_command_to_device(void)
{
    struct serve s;
    struct cl d, svc;
    char payload[256];

    /* serve's client ids (modax-ingest, modax-ingest-api) start with the identity's name. */
    setenv("MODAX_MQTT_USERNAME", "modax-ingest", 1);
    setenv("MODAX_MQTT_PASSWORD", secret_svc, 1);
    CHECK_EQ_INT(serve_start(&s, dir, br.port), 0);
    CHECK_EQ_INT(cl_open(&d, "m-1", "m-1", secret_m1, NULL, NULL), 0);
    CHECK_EQ_INT(cl_sub(&d, "modax/acme/m-1/commands"), 1);
    snprintf(payload, sizeof(payload),
             "{\"device_id\":\"m-1\",\"timestamp\":%lld,\"sensor_data\":{\"temperature_mean\":21.5}}",
             (long long)mdx_now_ms());
    CHECK_EQ_INT(cl_pub(&d, "modax/acme/m-1/sensor_data", payload), 0);
    CHECK(wait_points(dir, "acme", 1, 30000) >= 1);
    CHECK_EQ_INT(cl_open(&svc, "modax-ingest-cmd", "modax-ingest", secret_svc, NULL, NULL), 0);
    CHECK_EQ_INT(cl_pub(&svc, "modax/acme/m-1/commands", "{\"id\":1,\"name\":\"speed_pct\"}"), 0);
    pump(&d, 1500);
    CHECK_EQ_INT(d.received, 1);
    CHECK_STR(d.last_topic, "modax/acme/m-1/commands");
    cl_close(&svc);
    cl_close(&d);
    serve_stop(&s, 15);
    unsetenv("MODAX_MQTT_USERNAME");
    unsetenv("MODAX_MQTT_PASSWORD");
}

static double cpu_s(pid_t pid)
{
    char path[64];
    unsigned long ut = 0, st = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) !=
            2) {
            ut = st = 0;
        }
        fclose(f);
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void thousand_wrong_passwords(void)
{
    long long before = stat_now("auth_denied_password") +
                       broker_auth_stat(&br, "auth_denied_backoff") +
                       broker_auth_stat(&br, "auth_denied_address");
    long long a0 = broker_auth_stat(&br, "argon2_checks");
    double c0 = cpu_s(br.pid);
    int64_t t0 = mdx_mono_us();
    int refused = 0;
    struct cl c;

    for (int i = 0; i < 1000; i++) {
        char pw[32];
        snprintf(pw, sizeof(pw), "guess-%d", i);
        refused += cl_open(&c, "m-2", "m-2", pw, NULL, NULL) == 5;
        cl_close(&c);
    }
    double secs = (double)(mdx_mono_us() - t0) / 1e6, cpu = cpu_s(br.pid) - c0;
    CHECK_EQ_INT(refused, 1000);
    long long after = stat_now("auth_denied_password") +
                      broker_auth_stat(&br, "auth_denied_backoff") +
                      broker_auth_stat(&br, "auth_denied_address");
    CHECK_EQ_INT(after - before, 1000);
    printf("1000 wrong passwords: %.0f checks/s, broker CPU %.1f us per check, %lld argon2 "
           "verifications (the rest backed off)\n",
           1000.0 / secs, cpu * 1e6 / 1000.0, broker_auth_stat(&br, "argon2_checks") - a0);
    CHECK(broker_auth_stat(&br, "log_suppressed") > 0); /* the log was not flooded */
}

/*
 * Issue 16: device ids are not secret. Wrong secrets for m-4 from one
 * address throttle that address, not the device: m-4 with its secret from
 * another address is checked and let in, at once and on every attempt.
 * Runs last: it leaves 127.0.0.1 throttled for a while.
 */
static void wrong_secrets_from_one_address_do_not_lock_the_device_out(void)
{
    long long pw0 = broker_auth_stat(&br, "auth_denied_password");
    long long thr0 = broker_auth_stat(&br, "auth_denied_backoff") +
                     broker_auth_stat(&br, "auth_denied_address");
    struct cl c;
    int refused = 0;

    for (int i = 0; i < 50; i++) {
        char pw[32];
        snprintf(pw, sizeof(pw), "guess-%d", i);
        refused += cl_open_from(&c, "m-4", "m-4", pw, NULL, NULL, "127.0.0.1") == 5;
        cl_close(&c);
    }
    CHECK_EQ_INT(refused, 50);
    /* The device, first connect (nothing cached), from its own address. */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(cl_open_from(&c, "m-4", "m-4", secret_m4, NULL, NULL, "127.0.0.2"), 0);
        cl_close(&c);
    }
    /* Guesses at other users from the attacker's address: throttled by address. */
    static const char *const users[][2] = {
        {"m-1", "m-1"}, {"b-1", "b-1"}, {"modax-ingest-x", "modax-ingest"}};
    for (int i = 0; i < 20; i++) {
        refused += cl_open_from(&c, users[i % 3][0], users[i % 3][1], "guess", NULL, NULL,
                                "127.0.0.1") == 5;
        cl_close(&c);
    }
    CHECK_EQ_INT(refused, 70);
    CHECK(stat_reaches("auth_denied_address", 1) >= 1);
    long long pw1 = stat_now("auth_denied_password");
    long long thr1 = broker_auth_stat(&br, "auth_denied_backoff") +
                     broker_auth_stat(&br, "auth_denied_address");
    CHECK_EQ_INT((pw1 - pw0) + (thr1 - thr0), 70);
    CHECK(pw1 - pw0 <= 20); /* argon2 ran a bounded number of times: the rest were throttled */
    /* A third address is not affected either. */
    CHECK_EQ_INT(cl_open_from(&c, "m-2", "m-2", secret_m2, NULL, NULL, "127.0.0.3"), 0);
    cl_close(&c);
}

int main(void)
{
    static const struct mdx_test tests[] = {
        {"credentials are checked", credentials_are_checked},
        {"devices stay in their topics", devices_stay_in_their_topics},
        {"bad topics are refused", bad_topics_are_refused},
        {"a revoked device is refused and disconnected", revoked_device_is_refused_and_disconnected},
        {"certificates are checked", certificates_are_checked},
        {"device to store, command to device", device_to_store_and_command_to_device},
        {"1000 wrong passwords", thousand_wrong_passwords},
        {"issue 16: wrong secrets from one address do not lock the device out",
         wrong_secrets_from_one_address_do_not_lock_the_device_out},
        {NULL, NULL}};
    int rc;

    mosquitto_lib_init();
    if (setup() != 0) {
        fprintf(stderr, "setup failed\n");
        broker_stop(&br, 15);
        return 1;
    }
    rc = mdx_test_run(tests, 1, NULL);
    broker_stop(&br, 15);
    if (rc == 0) {
        tmp_remove(dir);
    }
    mosquitto_lib_cleanup();
    return rc;
}
