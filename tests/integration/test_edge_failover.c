/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_failover.c - modax-edge with two endpoints (two regions: a
 * Mosquitto and a `modax serve` each, one store): the primary broker is
 * killed with its ingest (the region fails) while readings flow, the
 * agent moves to the secondary, moves back once the primary returns, and
 * every reading is stored exactly once (read back point by point).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/store.h"
#include "support/support.h"

#define MACHINES 2
#define COUNT 1000 /* readings per machine: 20 s at 50 Hz */
#define SENSORS 7
#define WAIT_MS 60000 /* a failure bound, not a timing assertion */

static char out[1 << 16];

struct tally {
    int64_t n, dup, last_ts;
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

/* Readings of 'device' stored, read back point by point (its temperature series); dups apart. */
static void stored_readings(const char *dir, const char *device, int64_t *n, int64_t *dup)
{
    struct mdx_store *st = test_store_open(dir);
    struct mdx_query q = {.tenant = "plant", .device = device, .sensor = "temperature_mean",
                          .from_ms = 0, .to_ms = INT64_MAX};
    struct tally t = {0, 0, 0};

    *n = -1;
    *dup = -1;
    if (st != NULL && mdx_store_query_points(st, &q, tally_point, &t) == 0) {
        *n = t.n - t.dup;
        *dup = t.dup;
    }
    if (st != NULL) {
        mdx_store_close(st);
    }
}

static void read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(buf, 1, cap - 1, f) : 0;

    buf[n] = '\0';
    if (f != NULL) {
        fclose(f);
    }
}

/*
 * Waits until the tenant has 'want' points, or its count has not moved for
 * QUIET_MS (an ingest has drained what its broker held for it and the rest
 * waits at the other broker), within WAIT_MS. The count it stopped at.
 */
#define QUIET_MS 3000
static int64_t wait_drained(const char *dir, const char *tenant, int64_t want)
{
    int64_t deadline = mdx_mono_us() + (int64_t)WAIT_MS * 1000, last = -1, since = 0, n;

    for (;;) {
        int64_t now = mdx_mono_us();
        n = store_points(dir, tenant);
        if (n >= want || now >= deadline) {
            return n;
        }
        if (n != last) {
            last = n;
            since = now;
        } else if (now - since >= (int64_t)QUIET_MS * 1000) {
            return n;
        }
        mdx_sleep_ms(50);
    }
}

static void primary_killed_secondary_takes_over_and_primary_returns(void)
{
    char dir[256], da[300], db[300], outbox[300], log[300], ea[64], eb[64], bin[600];
    const char *bindir = getenv("MODAX_BIN_DIR");
    int64_t want = (int64_t)MACHINES * COUNT * SENSORS, n, dup, before;
    struct broker a, b;
    struct serve sa, sb;
    pid_t pid;
    int st;

    tmp_make(dir, sizeof(dir), "edge-failover");
    snprintf(da, sizeof(da), "%s/a", dir);
    snprintf(db, sizeof(db), "%s/b", dir);
    mkdir(da, 0700);
    mkdir(db, 0700);
    snprintf(outbox, sizeof(outbox), "%s/outbox.bin", dir);
    snprintf(log, sizeof(log), "%s/edge.log", dir);
    CHECK(broker_start(&a, da, 0) == 0);
    CHECK(broker_start(&b, db, 0) == 0);
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    modax_env(dir, a.port);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "plant", NULL), 0);
    CHECK(serve_start_worker(&sa, dir, a.port, "a") == 0);
    CHECK(serve_start_worker(&sb, dir, b.port, "b") == 0);
    /*
     * Broker A saves its database with the ingest subscribed, as run-demo.sh has it do
     * (else its autosave does within autosave_interval): killed before any such save, it
     * would come back without the ingest's session, and what the agent sends it until
     * the ingest is back would reach no one (conf/mosquitto.conf, test_ingest_broker_crash).
     */
    CHECK(broker_save(&a, 5000) == 0);
    snprintf(ea, sizeof(ea), "127.0.0.1:%d", a.port);
    snprintf(eb, sizeof(eb), "127.0.0.1:%d", b.port);
    snprintf(bin, sizeof(bin), "%s/edge/modax-edge", bindir != NULL ? bindir : "build");

    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(fd, 2);
        execl(bin, bin, "--endpoint", ea, "--endpoint", eb, "--tenant", "plant", "--machines",
              "2", "--rate", "50", "--count", "1000", "--outbox", outbox, "--primary-probe", "1",
              "--failover-after", "2", "--no-safety", "--no-commands", (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    /* Readings flow through A; then region A fails. */
    CHECK(wait_points(dir, "plant", want / 10, WAIT_MS) >= want / 10);
    /* Region A goes down whole: broker and ingest. */
    broker_stop(&a, SIGKILL);
    serve_stop(&sa, SIGKILL);
    before = store_points(dir, "plant");
    /* They flow through B now (A is down: only B's ingest can store them). */
    CHECK(wait_points(dir, "plant", before + want / 10, WAIT_MS) >= before + want / 10);
    /*
     * The store's writers cache a series' newest chunk, so two ingests must
     * not write the same series at the same time (see edge/README.md): B's
     * ingest stops (what B receives from now on waits in B's queue for it),
     * then region A comes back, and B's ingest drains its queue at the end.
     */
    CHECK_EQ_INT(serve_stop(&sb, SIGTERM), 0);
    CHECK(broker_start(&a, da, a.port) == 0);
    CHECK(serve_start_worker(&sa, dir, a.port, "a") == 0);
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    wait_drained(dir, "plant", want); /* A's ingest has all A held (the rest is at B) */
    CHECK_EQ_INT(serve_stop(&sa, SIGTERM), 0);
    CHECK(serve_start_worker(&sb, dir, b.port, "b") == 0);
    CHECK(wait_points(dir, "plant", want, WAIT_MS) >= want);
    CHECK_EQ_INT(serve_stop(&sb, SIGTERM), 0);
    /* Every reading, read back point by point: each exactly once. */
    stored_readings(dir, "m-0001", &n, &dup);
    CHECK_EQ_INT(n, COUNT);
    CHECK_EQ_INT(dup, 0);
    stored_readings(dir, "m-0002", &n, &dup);
    CHECK_EQ_INT(n, COUNT);
    CHECK_EQ_INT(dup, 0);
    read_file(log, out, sizeof(out));
    CHECK(strstr(out, "switching from 127.0.0.1:") != NULL);
    CHECK(strstr(out, "the first endpoint answers again") != NULL);
    CHECK(strstr(out, "failovers=2") != NULL);
    broker_stop(&a, SIGTERM);
    broker_stop(&b, SIGTERM);
    unsetenv("MODAX_INGEST_AUTO_REGISTER");
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"edge failover: primary killed, secondary takes over, primary returns; each reading once",
     primary_killed_secondary_takes_over_and_primary_returns},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
