/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_auth.c - the simulated fleet as real device identities, with
 * Mosquitto running the auth plugin: modax-edge --secrets opens one
 * connection per machine (client id = user name = device id) and every
 * reading is stored; a world-readable secrets file is refused without
 * printing a secret; one machine with a wrong secret is refused while
 * the others deliver, and a refused connection is retried only after a
 * long back-off (never in a loop); --cert-dir connects over mutual TLS with the
 * device's certificate. `modax serve` connects as the service identity.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "modax/clock.h"
#include "support/broker_auth.h"
#include "support/support.h"

#define READING_POINTS 7 /* points per cloud-form reading without safety */

static char out[1 << 16];
static char dir[256], port[16], tls_port[16], secrets[3][128], svc_secret[128];
static struct broker br;
static struct serve sv;
static int ready;

static long published(const char *summary)
{
    const char *p = strstr(summary, "published=");
    return p != NULL ? strtol(p + 10, NULL, 10) : -1;
}

/* The plugin's counter 'name' once it reaches 'min' (its file is rewritten each second). */
static long long stat_at_least(const char *name, long long min)
{
    long long v = -1;

    for (int i = 0; i < 100 && (v = broker_auth_stat(&br, name)) < min; i++) {
        mdx_sleep_ms(50);
    }
    return v;
}

static void first_line(char *dst, size_t cap)
{
    snprintf(dst, cap, "%.*s", (int)strcspn(out, "\n"), out);
}

/* Writes "DEVICE SECRET" lines for m-0001..m-0003 ('bad3': a wrong one for m-0003). */
static void write_secrets(const char *path, mode_t mode, int bad3)
{
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    fprintf(f, "# the fleet's secrets\n");
    for (int i = 0; i < 3; i++) {
        fprintf(f, "m-%04d %s\n", i + 1, bad3 && i == 2 ? "not-the-secret" : secrets[i]);
    }
    fclose(f);
    CHECK_EQ_INT(chmod(path, mode), 0);
}

static void setup(void)
{
    struct broker_auth_opts o = {0};
    char path[600], ca[400], cert[700], key[700], certs[400];

    tmp_make(dir, sizeof(dir), "edge-auth");
    br.port = free_port();
    o.tls_port = free_port();
    snprintf(port, sizeof(port), "%d", br.port);
    snprintf(tls_port, sizeof(tls_port), "%d", o.tls_port);
    modax_env(dir, br.port);
    snprintf(ca, sizeof(ca), "%s/ca", dir);
    snprintf(path, sizeof(path), "%s/ca/broker", dir);
    snprintf(certs, sizeof(certs), "%s/certs", dir);
    CHECK_EQ_INT(mkdir(ca, 0700), 0);
    CHECK_EQ_INT(mkdir(path, 0700), 0);
    CHECK_EQ_INT(mkdir(certs, 0700), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "plant", NULL), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "ca", "init", "--dir", ca, NULL), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "ca", "server-cert", "--cn", "localhost", "--ip",
                           "127.0.0.1", "--dir", ca, "--out", path, NULL),
                 0);
    for (int i = 0; i < 3; i++) {
        char dev[16];
        snprintf(dev, sizeof(dev), "m-%04d", i + 1);
        CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "add", "plant", dev, "--secret", NULL),
                     0);
        first_line(secrets[i], sizeof(secrets[i]));
    }
    setenv("MODAX_AUTH_CA_DIR", ca, 1);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "add", "plant", "m-0004", "--cert", "--out",
                           certs, NULL),
                 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "identity", "add", "--service", "modax-ingest", NULL),
                 0);
    first_line(svc_secret, sizeof(svc_secret));
    snprintf(cert, sizeof(cert), "%s/broker.crt", path);
    snprintf(key, sizeof(key), "%s/broker.key", path);
    snprintf(path, sizeof(path), "%s/ca.crt", ca);
    o.cafile = path;
    o.certfile = cert;
    o.keyfile = key;
    CHECK_EQ_INT(broker_start_auth(&br, dir, br.port, &o), 0);
    setenv("MODAX_MQTT_USERNAME", "modax-ingest", 1);
    setenv("MODAX_MQTT_PASSWORD", svc_secret, 1);
    CHECK_EQ_INT(serve_start(&sv, dir, br.port), 0);
    unsetenv("MODAX_MQTT_PASSWORD");
    ready = 1;
}

static void fleet_with_secrets_every_reading_stored(void)
{
    char file[400];

    setup();
    snprintf(file, sizeof(file), "%s/fleet.secrets", dir);
    write_secrets(file, 0600, 0);
    CHECK_EQ_INT(edge_run(out, sizeof(out), "--port", port, "--tenant", "plant", "--machines", "3",
                          "--count", "40", "--time-scale", "600", "--no-safety", "--secrets",
                          file, NULL),
                 0);
    CHECK_EQ_INT(published(out), 3 * 40);
    CHECK_EQ_INT(wait_points(dir, "plant", 3 * 40 * READING_POINTS, 20000),
                 3 * 40 * READING_POINTS);
    CHECK(stat_at_least("auth_ok", 4) >= 4); /* 3 machines + the service */
    CHECK_EQ_INT(broker_auth_stat(&br, "auth_denied_password"), 0);
    CHECK_EQ_INT(broker_auth_stat(&br, "acl_denied_topic"), 0);
}

static void readable_secrets_file_refused_quietly(void)
{
    char file[400];

    CHECK(ready);
    snprintf(file, sizeof(file), "%s/open.secrets", dir);
    write_secrets(file, 0644, 0);
    CHECK_EQ_INT(edge_run(out, sizeof(out), "--port", port, "--tenant", "plant", "--machines", "3",
                          "--count", "5", "--secrets", file, NULL),
                 1);
    CHECK(strstr(out, "readable by others") != NULL);
    for (int i = 0; i < 3; i++) {
        CHECK(strstr(out, secrets[i]) == NULL);
    }
    /* A machine of the run without a line is refused too. */
    write_secrets(file, 0600, 0);
    CHECK_EQ_INT(edge_run(out, sizeof(out), "--port", port, "--tenant", "plant", "--machines", "4",
                          "--count", "5", "--secrets", file, NULL),
                 1);
    CHECK(strstr(out, "no secret for m-0004") != NULL);
}

static void wrong_secret_refuses_that_machine_only(void)
{
    char file[400];
    long long denied0 = broker_auth_stat(&br, "auth_denied_password");
    int64_t before;

    CHECK(ready);
    snprintf(file, sizeof(file), "%s/bad.secrets", dir);
    write_secrets(file, 0600, 1);
    before = wait_points(dir, "plant", 0, 0);
    /* m-0003 never gets in: its readings stay undelivered (exit 1), the others arrive. */
    CHECK_EQ_INT(edge_run(out, sizeof(out), "--port", port, "--tenant", "plant", "--machines", "3",
                          "--count", "20", "--time-scale", "600", "--no-safety", "--seed", "3",
                          "--secrets", file, NULL),
                 1);
    CHECK(strstr(out, "refused the connection of m-0003") != NULL);
    CHECK(strstr(out, "not-the-secret") == NULL);
    CHECK_EQ_INT(published(out), 2 * 20);
    CHECK_EQ_INT(wait_points(dir, "plant", before + 2 * 20 * READING_POINTS, 20000),
                 before + 2 * 20 * READING_POINTS);
    CHECK(stat_at_least("auth_denied_password", denied0 + 1) > denied0);
}

/* The plugin's counter 'name' as written after now (the file is rewritten each second). */
static long long stat_settled(const char *name)
{
    char path[700];
    struct stat st;
    int64_t now = mdx_now_ms();

    snprintf(path, sizeof(path), "%s/plugin-stats", dir);
    for (int i = 0; i < 100; i++) {
        if (stat(path, &st) == 0 &&
            (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 > now) {
            break;
        }
        mdx_sleep_ms(50);
    }
    return broker_auth_stat(&br, name);
}

/*
 * The broker refusing the connection (bad credentials) is not retried in a
 * loop. With --username/--password-file (one connection for the run) the
 * agent stops after the first refusal; with --secrets, the refused machine
 * is tried again only after the longest back-off (30 s) while the others
 * deliver, so over 6 s of running the broker sees it once or twice, not
 * hundreds of times.
 */
static void refused_connection_backs_off_never_spins(void)
{
    char file[400], pw[400];
    long long denied0, denied;
    int64_t t0;
    FILE *f;

    CHECK(ready);
    snprintf(pw, sizeof(pw), "%s/wrong.password", dir);
    f = fopen(pw, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("not-the-secret\n", f);
        fclose(f);
    }
    CHECK_EQ_INT(chmod(pw, 0600), 0);
    denied0 = stat_settled("auth_denied_password");
    t0 = mdx_mono_us() / 1000;
    CHECK_EQ_INT(edge_run(out, sizeof(out), "--port", port, "--tenant", "plant", "--machines", "1",
                          "--client-id", "m-0001", "--username", "m-0001", "--password-file", pw,
                          "--duration", "10", "--no-safety", NULL),
                 1);
    CHECK(mdx_mono_us() / 1000 - t0 < 8000); /* it stopped, did not wait for --duration */
    CHECK(strstr(out, "refused the connection of m-0001") != NULL);
    CHECK(strstr(out, "not-the-secret") == NULL);
    denied = stat_settled("auth_denied_password") - denied0;
    if (denied < 1 || denied > 2) {
        fprintf(stderr, "  --password-file: %lld refused attempts\n", denied);
    }
    CHECK(denied >= 1 && denied <= 2);

    snprintf(file, sizeof(file), "%s/bad.secrets", dir);
    write_secrets(file, 0600, 1);
    denied0 = stat_settled("auth_denied_password");
    t0 = mdx_mono_us() / 1000;
    edge_run(out, sizeof(out), "--port", port, "--tenant", "plant", "--machines", "3", "--rate",
             "5", "--duration", "6", "--no-safety", "--secrets", file, NULL);
    CHECK(mdx_mono_us() / 1000 - t0 >= 6000); /* ran its time: the other machines kept going */
    CHECK(published(out) >= 2 * 5 * 5);
    denied = stat_settled("auth_denied_password") - denied0;
    if (denied < 1 || denied > 2) {
        fprintf(stderr, "  --secrets: %lld refused attempts of m-0003 in 6 s\n", denied);
    }
    CHECK(denied >= 1 && denied <= 2);
}

static void cert_dir_connects_over_mutual_tls(void)
{
    char certs[400], ca[400];
    int64_t before;

    CHECK(ready);
    snprintf(certs, sizeof(certs), "%s/certs", dir);
    snprintf(ca, sizeof(ca), "%s/ca/ca.crt", dir);
    before = wait_points(dir, "plant", 0, 0);
    CHECK_EQ_INT(edge_run(out, sizeof(out), "--host", "127.0.0.1", "--port", tls_port, "--tenant",
                          "plant", "--first", "4", "--machines", "1", "--count", "20",
                          "--time-scale", "600", "--no-safety", "--cafile", ca, "--cert-dir",
                          certs, NULL),
                 0);
    CHECK_EQ_INT(published(out), 20);
    CHECK_EQ_INT(wait_points(dir, "plant", before + 20 * READING_POINTS, 20000),
                 before + 20 * READING_POINTS);
    CHECK_EQ_INT(broker_auth_stat(&br, "acl_denied_cert"), 0);
    CHECK_EQ_INT(serve_stop(&sv, SIGTERM), 0);
    broker_stop(&br, SIGTERM);
    unsetenv("MODAX_MQTT_USERNAME");
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"fleet with --secrets: one connection per device, every reading stored",
     fleet_with_secrets_every_reading_stored},
    {"readable or incomplete secrets file refused, no secret printed",
     readable_secrets_file_refused_quietly},
    {"a wrong secret refuses that machine only", wrong_secret_refuses_that_machine_only},
    {"the broker refusing the connection: back off, never spin",
     refused_connection_backs_off_never_spins},
    {"--cert-dir connects over mutual TLS", cert_dir_connects_over_mutual_tls},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
