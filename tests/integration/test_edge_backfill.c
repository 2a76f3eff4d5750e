/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_backfill.c - modax-edge's persistent outbox with a real
 * Mosquitto and `modax serve`: readings made while the broker was
 * unreachable wait in the outbox file; the agent is SIGKILLed at random
 * moments while it backfills them and started again, and in the end every
 * reading is stored exactly once (the store's point count is exactly the
 * readings times their sensors). An outbox file of another device is
 * refused with a clear error and left as it is.
 */
#include <errno.h>
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
#include "support/support.h"

#define MACHINES 3
#define READINGS 3000 /* per machine: 5 minutes at 10 Hz */
#define SENSORS 7     /* points per reading, cloud form */
#define WAIT_MS 60000 /* a failure bound, not a timing assertion */

static char out[1 << 16];

static const char *edge_bin(char *buf, size_t cap)
{
    const char *d = getenv("MODAX_BIN_DIR");

    snprintf(buf, cap, "%s/edge/modax-edge", d != NULL ? d : "build");
    return buf;
}

/* Starts modax-edge with 'argv' (after the program name), output appended to 'log'. */
static pid_t edge_spawn(const char *log, char *const args[])
{
    char bin[600];
    char *argv[40];
    pid_t pid;
    int n = 0;

    argv[n++] = (char *)edge_bin(bin, sizeof(bin));
    while (args[n - 1] != NULL && n < 39) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Waits for 'pid' up to 'ms'; its exit status, 128+signal, or -1 on timeout (then killed). */
static int wait_exit(pid_t pid, int ms)
{
    int64_t deadline = mdx_mono_us() + (int64_t)ms * 1000;
    int st;

    while (mdx_mono_us() < deadline) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        mdx_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static void file_digest(const char *path, long *size, unsigned long *sum)
{
    FILE *f = fopen(path, "rb");
    int c;

    *size = 0;
    *sum = 0;
    if (f == NULL) {
        return;
    }
    while ((c = fgetc(f)) != EOF) {
        *sum = *sum * 31 + (unsigned long)c;
        (*size)++;
    }
    fclose(f);
}

static void sigkill_during_backfill_loses_nothing(void)
{
    char dir[256], port[16], dead[16], outbox[300], log[300], readings[16];
    struct broker b;
    struct serve s;
    int64_t want = (int64_t)MACHINES * READINGS * SENSORS, n = 0;
    int kill_round, rc;
    long size1, size2;
    unsigned long sum1, sum2;

    tmp_make(dir, sizeof(dir), "edge-outbox");
    snprintf(outbox, sizeof(outbox), "%s/outbox.bin", dir);
    snprintf(log, sizeof(log), "%s/edge.log", dir);
    snprintf(dead, sizeof(dead), "%d", free_port());
    snprintf(readings, sizeof(readings), "%d", READINGS);

    /* Offline: the broker's port is closed; every reading goes into the outbox. */
    rc = edge_run(out, sizeof(out), "--port", dead, "--tenant", "plant", "--machines", "3",
                  "--rate", "10", "--time-scale", "60", "--start-ago", "300", "--count", readings,
                  "--outbox", outbox,
                  "--outbox-readings", "4000", "--no-safety", "--no-commands", NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(out, "kept in the outbox") != NULL);
    CHECK(strstr(out, "buffered=9000") != NULL);

    /* Another device's agent refuses that file and leaves it alone. */
    file_digest(outbox, &size1, &sum1);
    rc = edge_run(out, sizeof(out), "--port", dead, "--tenant", "other", "--machines", "3",
                  "--outbox", outbox, "--drain", "--no-commands", NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(out, "outbox refused: written by device plant/m-/1, this agent is other/m-/1") !=
          NULL);
    file_digest(outbox, &size2, &sum2);
    CHECK(size1 == size2 && sum1 == sum2);

    CHECK(broker_start(&b, dir, 0) == 0);
    snprintf(port, sizeof(port), "%d", b.port);
    modax_env(dir, b.port);
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "plant", NULL), 0);
    CHECK(serve_start(&s, dir, b.port) == 0);

    /* Backfill slowly; kill the agent at random moments on the way, start it again. */
    srand((unsigned)getpid());
    for (kill_round = 0; kill_round < 3; kill_round++) {
        char *args[] = {"--port", port, "--tenant", "plant", "--machines", "3", "--outbox",
                        outbox, "--drain", "--backfill-rate", "1500", "--no-commands", NULL};
        pid_t pid = edge_spawn(log, args);
        int64_t target = n + want / 6 + (int64_t)(rand() % (int)(want / 12));

        CHECK(pid > 0);
        n = wait_points(dir, "plant", target, WAIT_MS);
        CHECK(n >= target);
        mdx_sleep_ms((unsigned)(rand() % 150));
        kill(pid, SIGKILL);
        CHECK_EQ_INT(wait_exit(pid, 5000), 128 + SIGKILL);
        CHECK(n < want); /* killed while backfilling */
    }
    {
        char *args[] = {"--port", port,   "--tenant", "plant",   "--machines", "3",
                        "--outbox", outbox, "--drain", "--backfill-rate", "0", "--no-commands",
                        NULL};
        pid_t pid = edge_spawn(log, args);

        CHECK_EQ_INT(wait_exit(pid, WAIT_MS), 0);
    }
    n = wait_points(dir, "plant", want, WAIT_MS);
    CHECK_EQ_INT(n, want);
    /* Nothing more arrives: each reading exactly once (resends hit the same (series, ts)). */
    mdx_sleep_ms(500);
    CHECK_EQ_INT(store_points(dir, "plant"), want);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    broker_stop(&b, SIGTERM);
    unsetenv("MODAX_INGEST_AUTO_REGISTER");
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"edge outbox: SIGKILL during backfill loses nothing; another device's outbox is refused",
     sigkill_during_backfill_loses_nothing},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
