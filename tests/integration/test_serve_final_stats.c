/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_serve_final_stats.c - `modax serve` writes its final statistics line
 * after SIGTERM even when a periodic one was written just before, inside the
 * log's repeat-suppression interval (issue 16, item 13): "stored = received"
 * is in the log after every stop.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support/support.h"
#include "modax/clock.h"

static char out[1 << 14];

struct stats_lines {
    int n;                    /* "statistics" lines */
    int finals;               /* of which final */
    long long received, stored, duplicates; /* of the last one */
};

static void read_stats(const struct serve *s, struct stats_lines *st)
{
    char line[4096];
    FILE *f = fopen(s->log, "r");

    memset(st, 0, sizeof(*st));
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, "\"msg\":\"statistics\"") != NULL) {
            st->n++;
            st->finals += strstr(line, "\"final\":1") != NULL;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    st->received = log_last_stat(s->log, "received");
    st->stored = log_last_stat(s->log, "stored");
    st->duplicates = log_last_stat(s->log, "duplicates");
}

static void final_statistics_after_sigterm_right_after_a_periodic_line(void)
{
    char dir[256], msg[160];
    struct broker b;
    struct serve s;
    struct stats_lines st;
    struct pub *p;
    int64_t base = mdx_now_ms() - 3600 * 1000;
    int periodic, sent = 0;

    tmp_make(dir, sizeof(dir), "finalstats");
    CHECK(broker_start(&b, dir, 0) == 0);
    modax_env(dir, b.port);
    CHECK(modax_run(out, sizeof(out), "tenant", "add", "acme", NULL) == 0);
    CHECK(modax_run(out, sizeof(out), "device", "add", "acme", "press-1", NULL) == 0);
    /* A periodic line every second, and repeats held back for ten minutes. */
    setenv("MODAX_INGEST_STATS_INTERVAL_S", "1", 1);
    setenv("MODAX_LOG_SUPPRESS_MS", "600000", 1);
    CHECK(serve_start(&s, dir, b.port) == 0);
    p = pub_connect(b.port, "test-pub-finalstats");
    CHECK(p != NULL);
    /* A steady trickle until the first periodic line (the engine writes it between batches),
       then SIGTERM at once: the ones after it would be held back by the suppression. */
    read_stats(&s, &st);
    for (int i = 0; p != NULL && st.n == 0 && i < 1000; i++) {
        snprintf(msg, sizeof(msg), "{\"timestamp\":%lld,\"sensor_data\":{\"s\":%d}}",
                 (long long)(base + i), i);
        CHECK(pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg)) == 0);
        sent++;
        WAIT_UNTIL((read_stats(&s, &st), st.n > 0), 20);
    }
    periodic = st.n;
    CHECK(periodic >= 1);
    CHECK_EQ_INT(st.finals, 0);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);

    read_stats(&s, &st);
    CHECK_EQ_INT(st.n, periodic + 1);
    CHECK_EQ_INT(st.finals, 1);
    CHECK(st.received > 0);
    CHECK_EQ_INT(st.stored, st.received);
    /* QoS 1 may deliver a message again: it is then a duplicate (one point a message). */
    CHECK_EQ_INT(store_points(dir, "acme") + st.duplicates, st.stored);
    CHECK(st.received - st.duplicates <= sent);

    pub_close(p);
    unsetenv("MODAX_INGEST_STATS_INTERVAL_S");
    unsetenv("MODAX_LOG_SUPPRESS_MS");
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

/*
 * An idle ingest still runs its periodic work: the statistics line (and
 * the stages' ticks, the alert rules' reload among them) come between
 * batches, and with no message at all the writer used to wait in its read
 * loop for ever.
 */
static void an_idle_ingest_still_writes_its_periodic_line(void)
{
    char dir[256];
    struct broker b;
    struct serve s;
    struct stats_lines st;

    tmp_make(dir, sizeof(dir), "idlestats");
    CHECK(broker_start(&b, dir, 0) == 0);
    modax_env(dir, b.port);
    setenv("MODAX_INGEST_STATS_INTERVAL_S", "1", 1);
    setenv("MODAX_LOG_SUPPRESS_MS", "0", 1); /* idle lines are all alike: show each */
    CHECK(serve_start(&s, dir, b.port) == 0);
    read_stats(&s, &st);
    WAIT_UNTIL((read_stats(&s, &st), st.n >= 2), 10000);
    CHECK(st.n >= 2);
    CHECK_EQ_INT(st.received, 0);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    unsetenv("MODAX_INGEST_STATS_INTERVAL_S");
    unsetenv("MODAX_LOG_SUPPRESS_MS");
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"issue 16: the final statistics line is written after SIGTERM right after a periodic one",
     final_statistics_after_sigterm_right_after_a_periodic_line},
    {"an idle ingest still writes its periodic statistics line",
     an_idle_ingest_still_writes_its_periodic_line},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
