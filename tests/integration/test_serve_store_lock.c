/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_serve_store_lock.c - `modax serve` started while another process
 * holds the SQLite database locked (issue 16): it waits, retrying with
 * back-off and saying so, is not ready meanwhile, and becomes ready once
 * the lock is let go; stopped while it waits, it exits cleanly.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "modax/clock.h"
#include "support/support.h"

static char dir[512];
static struct broker br;

/* A connection holding an exclusive lock on dir/modax.db, or NULL. */
static sqlite3 *lock_db(void)
{
    char path[700];
    sqlite3 *db = NULL;

    snprintf(path, sizeof(path), "%s/modax.db", dir);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;"
                     " CREATE TABLE IF NOT EXISTS holder (x);",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "  cannot lock %s: %s\n", path, db != NULL ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static void unlock_db(sqlite3 *db)
{
    sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
    sqlite3_close(db);
}

/* 1 once 'name' in dir holds 'needle', within timeout_ms. */
static int file_has(const char *name, const char *needle, int timeout_ms)
{
    char path[700];
    static char buf[1 << 16];
    int64_t end = mdx_mono_us() / 1000 + timeout_ms;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    do {
        FILE *f = fopen(path, "r");
        size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        buf[n] = '\0';
        if (f != NULL) {
            fclose(f);
        }
        if (strstr(buf, needle) != NULL) {
            return 1;
        }
        mdx_sleep_ms(20);
    } while (mdx_mono_us() / 1000 < end);
    return 0;
}

struct holder {
    sqlite3 *db;
    int saw_retry;            /* the service said it retries */
    int ready_while_locked;   /* its ready file appeared while the lock was held */
};

/* Lets the lock go once the service has said it is waiting for it. */
static void *hold_then_release(void *arg)
{
    struct holder *h = arg;
    char ready[700];

    h->saw_retry = file_has("serve.log", "locked by another process; retrying", 15000);
    /* The lock is held 1.5 s longer (several retries; the log says it once): still not ready. */
    mdx_sleep_ms(1500);
    snprintf(ready, sizeof(ready), "%s/serve.ready", dir);
    h->ready_while_locked = access(ready, F_OK) == 0;
    unlock_db(h->db);
    return NULL;
}

static void waits_for_a_locked_database_then_becomes_ready(void)
{
    struct holder h = {lock_db(), 0, 0};
    struct serve s;
    pthread_t t;

    CHECK(h.db != NULL);
    if (h.db == NULL) {
        return;
    }
    pthread_create(&t, NULL, hold_then_release, &h);
    /* serve_start waits for the ready file: it comes once the lock is gone. */
    CHECK_EQ_INT(serve_start_roles(&s, dir, br.port, "ingest"), 0);
    pthread_join(t, NULL);
    CHECK(h.saw_retry);
    CHECK(!h.ready_while_locked);
    if (s.pid > 0) {
        CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    }
}

static void stopped_while_waiting_it_exits_cleanly(void)
{
    sqlite3 *db = lock_db();
    char exe[700], log[700];
    const char *bin = getenv("MODAX_BIN_DIR");
    int status = -1;

    CHECK(db != NULL);
    if (db == NULL) {
        return;
    }
    snprintf(exe, sizeof(exe), "%s/modax", bin != NULL ? bin : ".");
    snprintf(log, sizeof(log), "%s/serve.log", dir);
    CHECK(truncate(log, 0) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "a", stderr);
        (void)f;
        execl(exe, exe, "serve", "--roles", "ingest", (char *)NULL);
        _exit(127);
    }
    CHECK(file_has("serve.log", "locked by another process; retrying", 15000));
    kill(pid, SIGTERM);
    int64_t end = mdx_mono_us() / 1000 + 10000;
    while (waitpid(pid, &status, WNOHANG) != pid && mdx_mono_us() / 1000 < end) {
        mdx_sleep_ms(20);
    }
    if (!WIFEXITED(status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unlock_db(db);
}

int main(void)
{
    static const struct mdx_test tests[] = {
        {"issue 16: serve waits for a locked database, then becomes ready",
         waits_for_a_locked_database_then_becomes_ready},
        {"issue 16: serve stopped while waiting for the lock exits cleanly",
         stopped_while_waiting_it_exits_cleanly},
        {NULL, NULL}};
    int rc;

    const char *kind = getenv("MODAX_TEST_STORE");
    if (kind != NULL && strcmp(kind, "postgresql") == 0) {
        printf("skipped: a SQLite lock only\n");
        return 0;
    }
    tmp_make(dir, sizeof(dir), "serve_store_lock");
    if (broker_start(&br, dir, 0) != 0) {
        fprintf(stderr, "setup: broker did not start\n");
        return 1;
    }
    modax_env(dir, br.port);
    setenv("MODAX_STORE_BUSY_TIMEOUT_MS", "50", 1);
    rc = mdx_test_run(tests, 1, NULL);
    broker_stop(&br, SIGTERM);
    if (rc == 0) {
        tmp_remove(dir);
    }
    return rc;
}
