/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_edge.c - the edge agent after an hour offline, then a region
 * failover, against real Mosquittos and `modax serve`.
 *
 * 1. The broker is unreachable while 20 machines make an hour of readings
 *    at 10 Hz (simulated clock 600x): all of them go into the outbox file.
 * 2. Two regions come up: broker A (the primary) and broker B, each with
 *    its own `modax serve` into the one store. The agent, started again
 *    with the same outbox and --endpoint A --endpoint B, backfills the
 *    hour at --backfill-rate while its live readings (10 Hz) go out.
 * 3. Once the backlog is stored, region A fails: its broker and its
 *    ingest are killed (SIGKILL); the time until the first reading reaches
 *    broker B is the failover time. A comes back (broker, then ingest, which
 *    resumes from its spool) and the agent returns to it. The agent is stopped
 *    (SIGTERM) and what it had not delivered is drained from the outbox.
 * At the end the store must hold every reading exactly once: its point
 * count is readings x 7 sensors, no more (duplicates would be extra rows
 * only if a resend changed a timestamp) and no less. Prints
 *   edge: backfill_msgs= lost= dup= backfill_points_per_s= failover_ms=
 *         outbox_bytes_per_reading=
 * Options: --machines N --rate HZ --offline-s S --backfill-rate N.
 */
#include <mosquitto.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "modax/clock.h"
#include "modax/store.h"
#include "support/support.h"

#define SENSORS 7 /* points per reading, cloud form */

static char out[1 << 16];
static atomic_llong first_on_b_us;

static long long stat_of(const char *summary, const char *key)
{
    const char *p = strstr(summary, key);

    return p != NULL ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    long long zero = 0;

    (void)mosq;
    (void)obj;
    (void)m;
    atomic_compare_exchange_strong(&first_on_b_us, &zero, (long long)mdx_mono_us());
}

struct tally {
    int64_t n;       /* points */
    int64_t dup;     /* points with the timestamp of the one before (query order is time order) */
    int64_t last_ts;
};

static int tally_point(void *arg, int64_t ts_ms, double value, unsigned flags)
{
    struct tally *t = arg;

    (void)value;
    (void)flags;
    t->dup += t->n > 0 && ts_ms == t->last_ts;
    t->last_ts = ts_ms;
    t->n++;
    return 0;
}

/*
 * Readings stored per device, read back point by point: for each machine
 * the temperature series must hold 'per_device' timestamps, each once.
 * Sets *lost and *dup (summed over the devices); 0, or -1 if the store fails.
 */
static int check_readings(const char *dir, long machines, int64_t per_device, int64_t *lost,
                          int64_t *dup)
{
    struct mdx_store *st = test_store_open(dir);
    char device[32];

    *lost = 0;
    *dup = 0;
    if (st == NULL) {
        return -1;
    }
    for (long m = 1; m <= machines; m++) {
        struct tally t = {0, 0, 0};
        struct mdx_query q = {.tenant = "plant", .device = device, .sensor = "temperature_mean",
                              .from_ms = 0, .to_ms = INT64_MAX};

        snprintf(device, sizeof(device), "m-%04ld", m);
        if (mdx_store_query_points(st, &q, tally_point, &t) != 0) {
            mdx_store_close(st);
            return -1;
        }
        *dup += t.dup;
        *lost += t.n - t.dup < per_device ? per_device - (t.n - t.dup) : 0;
        *dup += t.n - t.dup > per_device ? t.n - t.dup - per_device : 0;
    }
    mdx_store_close(st);
    return 0;
}

static pid_t spawn_edge(const char *log, char *const args[])
{
    const char *d = getenv("MODAX_BIN_DIR");
    char bin[600];
    char *argv[48];
    pid_t pid;
    int n = 1;

    snprintf(bin, sizeof(bin), "%s/edge/modax-edge", d != NULL ? d : "build");
    argv[0] = bin;
    for (; args[n - 1] != NULL && n < 47; n++) {
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        if (freopen(log, "w", stderr) == NULL) {
            _exit(127);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static long arg_num(int argc, char **argv, const char *name, long def)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return strtol(argv[i + 1], NULL, 10);
        }
    }
    return def;
}

int main(int argc, char **argv)
{
    long machines = arg_num(argc, argv, "--machines", 20);
    long rate = arg_num(argc, argv, "--rate", 10);
    long offline_s = arg_num(argc, argv, "--offline-s", 3600);
    long bf_rate = arg_num(argc, argv, "--backfill-rate", 20000);
    char dir[256], da[300], db[300], outbox[300], log[300], dead[24], sm[24], sr[24], soff[24],
        scount[24], sbf[24], ea[64], eb[64], scap[24], slive[24];
    int64_t backlog = (int64_t)machines * rate * offline_s;
    int64_t want_points, generated, n = 0, t0, t_backlog = 0, t_kill;
    long long bf_msgs, failovers;
    int64_t lost = 0, dup = 0;
    struct broker a, b;
    struct serve sa, sb;
    struct mosquitto *sub;
    struct stat st;
    double outbox_per_reading, bf_pps, failover_ms = -1;
    int rc, st_exit;
    pid_t pid;

    if (getenv("MODAX_BIN_DIR") == NULL) {
        /* build/edge/bench_edge: the build directory is two levels up. */
        char self[1024];
        ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (len > 0) {
            self[len] = '\0';
            for (int up = 0; up < 2; up++) {
                char *slash = strrchr(self, '/');
                if (slash != NULL) {
                    *slash = '\0';
                }
            }
            setenv("MODAX_BIN_DIR", self, 1);
        }
    }
    if (machines < 1 || rate < 1 || offline_s < 1 || bf_rate < 0) {
        fprintf(stderr, "bench_edge: bad options\n");
        return 2;
    }
    tmp_make(dir, sizeof(dir), "bench-edge");
    snprintf(da, sizeof(da), "%s/a", dir);
    snprintf(db, sizeof(db), "%s/b", dir);
    mkdir(da, 0700);
    mkdir(db, 0700);
    snprintf(outbox, sizeof(outbox), "%s/outbox.bin", dir);
    snprintf(log, sizeof(log), "%s/edge.log", dir);
    snprintf(dead, sizeof(dead), "%d", free_port());
    snprintf(sm, sizeof(sm), "%ld", machines);
    snprintf(sr, sizeof(sr), "%ld", rate);
    snprintf(soff, sizeof(soff), "%ld", offline_s);
    snprintf(scount, sizeof(scount), "%ld", rate * offline_s);
    snprintf(slive, sizeof(slive), "%ld", rate * 86400); /* live until stopped */
    snprintf(sbf, sizeof(sbf), "%ld", bf_rate);
    /* Room for the hour and 10 minutes of live readings made meanwhile. */
    snprintf(scap, sizeof(scap), "%ld", rate * (offline_s + 600));

    /* 1. Offline: an hour of readings into the outbox. */
    rc = edge_run(out, sizeof(out), "--port", dead, "--tenant", "plant", "--machines", sm,
                  "--rate", sr, "--time-scale", "600", "--start-ago", soff, "--count", scount,
                  "--outbox", outbox, "--outbox-readings", scap, "--no-safety",
                  "--no-commands", "--quiet", NULL);
    if (rc != 1 || stat_of(out, "buffered=") != backlog || stat(outbox, &st) != 0) {
        fprintf(stderr, "bench_edge: the offline run did not keep %lld readings:\n%s",
                (long long)backlog, out);
        return 1;
    }
    /* Bytes on disk (the file is sparse: sized for more than it holds) per reading kept. */
    outbox_per_reading = (double)st.st_blocks * 512.0 / (double)backlog;

    /* 2. Two regions, one store; backfill with live readings. */
    if (broker_start(&a, da, 0) != 0 || broker_start(&b, db, 0) != 0) {
        return 1;
    }
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    modax_env(dir, a.port);
    if (modax_run(out, sizeof(out), "tenant", "add", "plant", NULL) != 0 ||
        serve_start_worker(&sa, dir, a.port, "a") != 0 ||
        serve_start_worker(&sb, dir, b.port, "b") != 0) {
        fprintf(stderr, "bench_edge: modax serve did not start\n%s", out);
        return 1;
    }
    snprintf(ea, sizeof(ea), "127.0.0.1:%d", a.port);
    snprintf(eb, sizeof(eb), "127.0.0.1:%d", b.port);
    {
        char *args[] = {"--endpoint", ea,       "--endpoint", eb,     "--tenant",
                        "plant",      "--machines", sm,       "--rate", sr,
                        "--count",    slive,    "--outbox",   outbox, "--outbox-readings",
                        scap,       "--backfill-rate", sbf, "--primary-probe", "1",
                        "--failover-after", "2", "--no-safety", "--no-commands", NULL};

        t0 = mdx_mono_us();
        pid = spawn_edge(log, args);
    }
    /*
     * Backlog stored: the store's point count reaches the hour's points (it
     * includes the live readings stored meanwhile, about 1 % at these rates).
     */
    while (mdx_mono_us() - t0 < (int64_t)600 * 1000000) {
        n = store_points(dir, "plant");
        if (n >= backlog * SENSORS) {
            t_backlog = mdx_mono_us();
            break;
        }
        mdx_sleep_ms(50);
    }
    bf_pps = t_backlog > 0 ? (double)(backlog * SENSORS) / ((double)(t_backlog - t0) / 1e6) : 0;

    /* 3. Region A fails while live readings flow; B takes them; A returns. */
    mosquitto_lib_init();
    sub = mosquitto_new("bench-edge-watch-b", true, NULL);
    mosquitto_message_callback_set(sub, on_message);
    if (sub == NULL || mosquitto_connect(sub, "127.0.0.1", b.port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_subscribe(sub, NULL, "modax/+/+/sensor_data", 1) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(sub) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "bench_edge: cannot watch broker B\n");
        return 1;
    }
    mdx_sleep_ms(500);
    atomic_store(&first_on_b_us, 0); /* only what arrives after the kill */
    t_kill = mdx_mono_us();
    /* The region goes down whole: its broker and its ingest. */
    broker_stop(&a, SIGKILL);
    serve_stop(&sa, SIGKILL);
    while (atomic_load(&first_on_b_us) == 0 && mdx_mono_us() - t_kill < 60000000) {
        mdx_sleep_ms(5);
    }
    if (atomic_load(&first_on_b_us) != 0) {
        failover_ms = (double)(atomic_load(&first_on_b_us) - t_kill) / 1000.0;
    }
    mdx_sleep_ms(2000);
    /*
     * The store's writers cache a series' newest chunk: two ingests must not
     * write one series at once. B's ingest stops before A's returns (what B
     * still receives waits in B's queue) and drains that at the end.
     */
    serve_stop(&sb, SIGTERM);
    if (broker_start(&a, da, a.port) != 0 || serve_start_worker(&sa, dir, a.port, "a") != 0) {
        return 1;
    }
    mdx_sleep_ms(3000); /* back on A (probed every second) */

    /* Stop the agent (what it has not delivered stays in the outbox), then drain that. */
    kill(pid, SIGTERM);
    waitpid(pid, &st_exit, 0);
    {
        FILE *f = fopen(log, "r");
        size_t len = f != NULL ? fread(out, 1, sizeof(out) - 1, f) : 0;

        out[len] = '\0';
        if (f != NULL) {
            fclose(f);
        }
    }
    generated = stat_of(out, "generated=");
    bf_msgs = stat_of(out, "backfill_msgs=");
    failovers = stat_of(out, "failovers=");
    {
        char summary[1024];
        const char *p = strstr(out, "modax-edge: generated=");

        snprintf(summary, sizeof(summary), "%s", p != NULL ? p : "(no summary)\n");
        fprintf(stderr, "bench_edge: agent: %s", summary);
        p = strstr(out, "backlog sent:");
        if (p != NULL) {
            fprintf(stderr, "bench_edge: agent: %.*s\n", (int)strcspn(p, "\n"), p);
        }
    }
    rc = edge_run(out, sizeof(out), "--endpoint", ea, "--endpoint", eb, "--tenant", "plant",
                  "--machines", sm, "--outbox", outbox, "--drain", "--backfill-rate", "0",
                  "--no-commands", "--quiet", NULL);
    if (rc != 0) {
        fprintf(stderr, "bench_edge: draining the rest failed:\n%s", out);
    }
    want_points = (backlog + (generated > 0 ? generated : 0)) * SENSORS;
    n = wait_points(dir, "plant", want_points, 30000);
    serve_stop(&sa, SIGTERM);
    if (serve_start_worker(&sb, dir, b.port, "b") != 0) {
        return 1;
    }
    n = wait_points(dir, "plant", want_points, 10000);
    serve_stop(&sb, SIGTERM);
    /* Read every reading back. */
    if (check_readings(dir, machines, want_points / SENSORS / machines, &lost, &dup) != 0) {
        fprintf(stderr, "bench_edge: cannot read the store back\n");
        lost = -1;
    }
    printf("edge: backfill_msgs=%lld lost=%lld dup=%lld backfill_points_per_s=%.0f "
           "failover_ms=%.0f outbox_bytes_per_reading=%.1f\n",
           bf_msgs, (long long)lost, (long long)dup, bf_pps, failover_ms, outbox_per_reading);
    fprintf(stderr,
            "bench_edge: %ld machines x %ld Hz, %ld s offline (%lld readings), %lld live; "
            "agent exit %d, failovers %lld (to B and back to A); points %lld of %lld\n",
            machines, rate, offline_s, (long long)backlog, (long long)generated,
            WIFEXITED(st_exit) ? WEXITSTATUS(st_exit) : -1, failovers, (long long)n,
            (long long)want_points);
    mosquitto_loop_stop(sub, true);
    mosquitto_destroy(sub);
    mosquitto_lib_cleanup();
    broker_stop(&a, SIGTERM);
    broker_stop(&b, SIGTERM);
    rc = lost == 0 && dup == 0 && WIFEXITED(st_exit) && WEXITSTATUS(st_exit) == 0 && rc == 0
             ? 0
             : 1;
    if (rc == 0) {
        tmp_remove(dir);
    } else {
        fprintf(stderr, "bench_edge: kept %s for a look\n", dir);
    }
    return rc;
}
