/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ingest_faults.c - the delivery guarantees under faults, with a real
 * Mosquitto: broker restart mid-stream, `modax serve` SIGKILLed 20 times,
 * SIGTERM draining the spool, and the SQLite file locked by another
 * process for 10 s.
 */
#include <pthread.h>
#include <signal.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "support/support.h"
#include "modax/clock.h"

#define POINTS_PER_MSG 6

static char out[1 << 14];

static void publish_range(struct pub *p, int from, int to, int64_t base)
{
    char msg[512];

    for (int i = from; i < to; i++) {
        snprintf(msg, sizeof(msg),
                 "{\"timestamp\":%lld,\"sensor_data\":{\"s0\":%d,\"s1\":1.5,\"s2\":2.5,"
                 "\"s3\":3.5,\"s4\":4.5,\"s5\":5.5}}",
                 (long long)(base + i), i);
        pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg));
    }
}

static int setup(struct broker *b, char *dir, size_t len, const char *name)
{
    tmp_make(dir, len, name);
    if (broker_start(b, dir, 0) != 0) {
        return -1;
    }
    modax_env(dir, b->port);
    if (modax_run(out, sizeof(out), "tenant", "add", "acme", NULL) != 0 ||
        modax_run(out, sizeof(out), "device", "add", "acme", "press-1", NULL) != 0) {
        return -1;
    }
    return 0;
}

static void broker_restart_mid_stream_loses_nothing(void)
{
    char dir[256];
    struct broker b;
    struct serve s;
    struct pub *p;
    int64_t base = mdx_now_ms() - 7200 * 1000;
    int port;

    CHECK(setup(&b, dir, sizeof(dir), "brokerrestart") == 0);
    port = b.port;
    CHECK(serve_start(&s, dir, port) == 0);
    p = pub_connect(port, "test-pub-restart");
    publish_range(p, 0, 3000, base);
    CHECK(pub_wait_acked(p, 20000) == 0);
    broker_stop(&b, SIGTERM); /* a clean stop saves its queues */
    publish_range(p, 3000, 3200, base); /* queued in the publisher while the broker is down */
    mdx_sleep_ms(500); /* the outage: the publisher and the service retry meanwhile */
    CHECK(broker_start(&b, dir, port) == 0);
    publish_range(p, 3200, 6000, base);
    CHECK(pub_wait_acked(p, 30000) == 0);
    CHECK_EQ_INT(wait_points(dir, "acme", 6000 * POINTS_PER_MSG, 30000), 6000 * POINTS_PER_MSG);
    pub_close(p);
    serve_stop(&s, SIGTERM);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

struct stream {
    struct pub *p;
    int from, to, per_ms; /* messages [from, to) at about per_ms per millisecond */
    int64_t base;
    pthread_t thread;
};

static void *stream_main(void *arg)
{
    struct stream *st = arg;

    for (int i = st->from; i < st->to; i += 20) {
        publish_range(st->p, i, i + 20 < st->to ? i + 20 : st->to, st->base);
        mdx_sleep_ms(20 / st->per_ms); /* the stream's rate: it runs across the kills */
    }
    return NULL;
}

static void sigkill_twenty_times_no_duplicate_at_most_one_lost_per_kill(void)
{
    char dir[256];
    struct broker b;
    struct serve s;
    struct stream st;
    int64_t stored, expected, lost;
    int kills;

    CHECK(setup(&b, dir, sizeof(dir), "sigkill") == 0);
    CHECK(serve_start(&s, dir, b.port) == 0);
    st = (struct stream){.p = pub_connect(b.port, "test-pub-kill"), .from = 0, .to = 12000,
                         .per_ms = 1, .base = mdx_now_ms() - 7200 * 1000};
    /* The stream runs while the service is killed and restarted under it. */
    pthread_create(&st.thread, NULL, stream_main, &st);
    for (kills = 0; kills < 20; kills++) {
        mdx_sleep_ms(150 + (kills * 37) % 200); /* kill at varied points of the stream */
        CHECK_EQ_INT(serve_stop(&s, SIGKILL), 128 + SIGKILL);
        if (serve_start(&s, dir, b.port) != 0) {
            CHECK(0);
            break;
        }
    }
    pthread_join(st.thread, NULL);
    CHECK(pub_wait_acked(st.p, 30000) == 0);
    expected = (int64_t)st.to * POINTS_PER_MSG;
    wait_points(dir, "acme", expected, 20000);
    /* Stopped, the service has committed all it received: a late duplicate would count now. */
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    stored = store_points(dir, "acme");
    lost = expected - stored;
    printf("  sigkill: kills=%d messages=%d points_expected=%lld stored=%lld lost_points=%lld "
           "lost_messages=%lld\n",
           kills, st.to, (long long)expected, (long long)stored, (long long)lost,
           (long long)(lost / POINTS_PER_MSG));
    CHECK(stored <= expected);                      /* no duplicate */
    CHECK(lost % POINTS_PER_MSG == 0);              /* whole messages only */
    CHECK(lost <= (int64_t)kills * POINTS_PER_MSG); /* at most one message per kill */
    pub_close(st.p);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

static void sigterm_drains_the_spool(void)
{
    char dir[256];
    struct broker b;
    struct serve s;
    struct pub *p;
    int64_t base = mdx_now_ms() - 7200 * 1000;

    CHECK(setup(&b, dir, sizeof(dir), "sigterm") == 0);
    CHECK(serve_start(&s, dir, b.port) == 0);
    p = pub_connect(b.port, "test-pub-term");
    publish_range(p, 0, 20000, base);
    CHECK(pub_wait_acked(p, 30000) == 0);
    /* Whatever the ingest received before the stop is in the store right after it exits. */
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    {
        /* QoS 1 is at least once: a message the broker delivers again is received again and
           recognised as a duplicate, so each message received is stored or counted as one. */
        char log[600];
        int64_t after_stop = store_points(dir, "acme");
        int64_t received, points, duplicates;

        snprintf(log, sizeof(log), "%s/serve.log", dir);
        received = log_last_stat(log, "received");
        points = log_last_stat(log, "points");
        duplicates = log_last_stat(log, "duplicates");
        printf("  sigterm: received=%lld points=%lld duplicates=%lld stored_points=%lld\n",
               (long long)received, (long long)points, (long long)duplicates,
               (long long)after_stop);
        CHECK(received > 0);
        CHECK_EQ_INT(after_stop, points);
        CHECK_EQ_INT(points + duplicates, received * POINTS_PER_MSG);
        if (duplicates > 0) {
            log_print_disconnects(log);
            snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
            log_print_disconnects(log);
        }
        CHECK(serve_start(&s, dir, b.port) == 0);
        CHECK_EQ_INT(wait_points(dir, "acme", 20000 * POINTS_PER_MSG, 30000),
                     20000 * POINTS_PER_MSG);
    }
    pub_close(p);
    serve_stop(&s, SIGTERM);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

/* A child process holds an exclusive lock on the database for 'ms'. */
static pid_t lock_database(const char *dir, int ms, int ready_pipe)
{
    pid_t pid = fork();

    if (pid == 0 && test_store_pgsql()) {
        /* PostgreSQL: a transaction holds points in EXCLUSIVE mode (reads go on). */
        char url[512];
        const char *k[] = {"dbname", "password", NULL};
        const char *v[] = {url, pg_shared()->password, NULL};
        PGconn *c;
        PGresult *r;
        if (pg_test_db(dir, url, sizeof(url)) != 0) {
            _exit(1);
        }
        c = PQconnectdbParams(k, v, 1);
        r = PQexec(c, "BEGIN; LOCK TABLE points IN EXCLUSIVE MODE");
        if (PQresultStatus(r) != PGRES_COMMAND_OK || write(ready_pipe, "x", 1) != 1) {
            _exit(1);
        }
        PQclear(r);
        mdx_sleep_ms(ms); /* the fault under test: the lock is held this long */
        PQclear(PQexec(c, "COMMIT"));
        PQfinish(c);
        _exit(0);
    }
    if (pid == 0) {
        char path[512];
        sqlite3 *db;
        snprintf(path, sizeof(path), "%s/modax.db", dir);
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
            _exit(1);
        }
        if (write(ready_pipe, "x", 1) != 1) {
            _exit(1);
        }
        mdx_sleep_ms(ms); /* the fault under test: the lock is held this long */
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(0);
    }
    return pid;
}

static void sqlite_locked_ten_seconds_ingest_waits_and_catches_up(void)
{
    char dir[256], c;
    struct broker b;
    struct serve s;
    struct pub *p;
    int64_t base = mdx_now_ms() - 7200 * 1000, during;
    int fds[2], status;
    pid_t locker;

    CHECK(setup(&b, dir, sizeof(dir), "sqlitelock") == 0);
    CHECK(serve_start(&s, dir, b.port) == 0);
    p = pub_connect(b.port, "test-pub-lock");
    publish_range(p, 0, 1000, base);
    CHECK_EQ_INT(wait_points(dir, "acme", 1000 * POINTS_PER_MSG, 20000), 1000 * POINTS_PER_MSG);
    CHECK(pipe(fds) == 0);
    locker = lock_database(dir, 10000, fds[1]);
    CHECK(read(fds[0], &c, 1) == 1);
    publish_range(p, 1000, 4000, base);
    CHECK(pub_wait_acked(p, 20000) == 0);  /* the broker side keeps flowing */
    waitpid(locker, &status, 0); /* the lock holder ends after its 10 s */
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    during = store_points(dir, "acme");
    CHECK(during >= 1000 * POINTS_PER_MSG);
    CHECK_EQ_INT(wait_points(dir, "acme", 4000 * POINTS_PER_MSG, 30000), 4000 * POINTS_PER_MSG);
    /* The service logged the wait and kept running. */
    {
        char log[600], line[4096];
        int seen = 0;
        FILE *f;
        snprintf(log, sizeof(log), "%s/serve.log", dir);
        f = fopen(log, "r");
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            seen |= strstr(line, "store unavailable") != NULL;
        }
        if (f != NULL) {
            fclose(f);
        }
        CHECK(seen);
    }
    close(fds[0]);
    close(fds[1]);
    pub_close(p);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"broker restarted during a stream: every point arrives",
     broker_restart_mid_stream_loses_nothing},
    {"serve SIGKILLed 20 times: no duplicate, at most one message lost per kill",
     sigkill_twenty_times_no_duplicate_at_most_one_lost_per_kill},
    {"SIGTERM drains the spool into the store", sigterm_drains_the_spool},
    {"store (SQLite file, PostgreSQL table) locked by another process for 10 s: the ingest "
     "waits and catches up",
     sqlite_locked_ten_seconds_ingest_waits_and_catches_up},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
