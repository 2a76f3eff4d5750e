/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg.c - a throwaway PostgreSQL 15 cluster for tests and benchmarks.
 *
 * initdb + pg_ctl from /usr/lib/postgresql/15/bin in a fresh folder under
 * /tmp, listening on a free loopback port only, password (SCRAM) auth for
 * superuser "modax" with a generated password. initdb refuses to run as
 * root, so when we are root every server command runs as the `postgres`
 * OS user (runuser) and the folder belongs to it. A missing PostgreSQL is
 * an error, never a skip. With MODAX_TEST_STORE=postgresql the support
 * helpers (modax_env, store_points, ...) use one shared cluster per test
 * program, started on first use and removed at exit, with one database
 * per test folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "modax/store.h"
#include "support/support.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"

/* Runs argv (as 'postgres' when we are root), output appended to 'log'; the exit status. */
static int run_pg(char *const argv[], const char *log, const char *password)
{
    char *full[32];
    int n = 0, status = 0;
    pid_t pid;

    if (geteuid() == 0) {
        full[n++] = "runuser";
        full[n++] = "-u";
        full[n++] = "postgres";
        full[n++] = "--";
    }
    for (int i = 0; argv[i] != NULL && n < 31; i++) {
        full[n++] = argv[i];
    }
    full[n] = NULL;
    pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (password != NULL) {
            setenv("PGPASSWORD", password, 1);
        }
        execvp(full[0], full);
        fprintf(stderr, "cannot run %s: %s\n", full[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int random_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];
    FILE *f = fopen("/dev/urandom", "rb");

    if (f == NULL || nbytes > sizeof(raw) || fread(raw, 1, nbytes, f) != nbytes) {
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    fclose(f);
    for (size_t i = 0; i < nbytes; i++) {
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    }
    return 0;
}

int pg_cluster_init(struct pg_cluster *c, int durable)
{
    char data[300], pwfile[300], log[300], pwopt[320];
    struct passwd *pw = NULL;
    FILE *f;

    memset(c, 0, sizeof(*c));
    c->durable = durable;
    if (access(PG_BIN "/initdb", X_OK) != 0) {
        fprintf(stderr, "PostgreSQL 15 is missing (%s/initdb); install postgresql-15\n", PG_BIN);
        return -1;
    }
    snprintf(c->dir, sizeof(c->dir), "/tmp/modax-pg-XXXXXX");
    if (mkdtemp(c->dir) == NULL || random_hex(c->password, 16) != 0) {
        perror("pg cluster dir");
        return -1;
    }
    if (geteuid() == 0) {
        pw = getpwnam("postgres");
        if (pw == NULL || chown(c->dir, pw->pw_uid, pw->pw_gid) != 0) {
            fprintf(stderr, "cannot hand %s to the postgres user\n", c->dir);
            return -1;
        }
    }
    snprintf(pwfile, sizeof(pwfile), "%s/pw", c->dir);
    f = fopen(pwfile, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "%s\n", c->password);
    fclose(f);
    if (pw != NULL && chown(pwfile, pw->pw_uid, pw->pw_gid) != 0) {
        return -1;
    }
    snprintf(data, sizeof(data), "%s/data", c->dir);
    snprintf(log, sizeof(log), "%s/initdb.log", c->dir);
    snprintf(pwopt, sizeof(pwopt), "--pwfile=%s", pwfile);
    char *argv[] = {PG_BIN "/initdb", "-D", data, "-U", "modax", pwopt, "--auth=scram-sha-256",
                    "-E", "UTF8", "--locale=C", "--no-sync", NULL};
    if (run_pg(argv, log, NULL) != 0) {
        fprintf(stderr, "initdb failed; see %s\n", log);
        return -1;
    }
    unlink(pwfile);
    c->initialised = 1;
    return pg_cluster_start(c);
}

int pg_cluster_start(struct pg_cluster *c)
{
    char data[300], log[300], ctl[300], opts[600];

    if (c->port == 0) {
        c->port = free_port();
    }
    snprintf(data, sizeof(data), "%s/data", c->dir);
    snprintf(log, sizeof(log), "%s/postgres.log", c->dir); /* written by the server */
    snprintf(ctl, sizeof(ctl), "%s/pg_ctl.log", c->dir);
    snprintf(opts, sizeof(opts),
             "-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200%s", c->port,
             c->dir, c->durable ? "" : " -c fsync=off -c full_page_writes=off");
    char *argv[] = {PG_BIN "/pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", opts,
                    "start", NULL};
    if (run_pg(argv, ctl, NULL) != 0) {
        fprintf(stderr, "PostgreSQL did not start on port %d; see %s\n", c->port, log);
        return -1;
    }
    c->running = 1;
    return 0;
}

int pg_cluster_stop(struct pg_cluster *c, const char *mode)
{
    char data[300], log[300];

    if (!c->running) {
        return 0;
    }
    snprintf(data, sizeof(data), "%s/data", c->dir);
    snprintf(log, sizeof(log), "%s/pg_ctl.log", c->dir);
    char *argv[] = {PG_BIN "/pg_ctl", "-D", data, "-m", (char *)mode, "-w", "-t", "60", "stop",
                    NULL};
    c->running = 0;
    return run_pg(argv, log, NULL) == 0 ? 0 : -1;
}

void pg_cluster_destroy(struct pg_cluster *c)
{
    if (c->dir[0] == '\0') {
        return;
    }
    pg_cluster_stop(c, "immediate");
    tmp_remove(c->dir);
    c->dir[0] = '\0';
}

int pg_cluster_create_db(struct pg_cluster *c, const char *db)
{
    char port[16], log[300];

    snprintf(port, sizeof(port), "%d", c->port);
    snprintf(log, sizeof(log), "%s/createdb.log", c->dir);
    char *argv[] = {PG_BIN "/createdb", "-h", "127.0.0.1", "-p", port, "-U", "modax", "-w",
                    (char *)db, NULL};
    return run_pg(argv, log, c->password) == 0 ? 0 : -1;
}

void pg_cluster_url(const struct pg_cluster *c, const char *db, char *buf, size_t len)
{
    snprintf(buf, len, "host=127.0.0.1 port=%d dbname=%s user=modax", c->port, db);
}

void pg_store_conf(struct mdx_store_conf *conf, struct pg_cluster *c, const char *url)
{
    memset(conf, 0, sizeof(*conf));
    conf->backend = "postgresql";
    conf->pgsql_url = (char *)url;
    conf->pgsql_password = c->password;
    conf->pgsql_sslmode = "disable";
    conf->pgsql_partition_days_ahead = 2;
    conf->pgsql_connect_timeout_s = 5;
    conf->busy_timeout_ms = 5000;
    conf->chunk_points = 512;
    conf->cache_series = 1000;
    conf->deadletter_max = 10000;
}

/* ---- the shared cluster of MODAX_TEST_STORE=postgresql ---- */

static struct pg_cluster shared;
static pid_t shared_owner;
static int shared_durable;

void pg_shared_durable(int on)
{
    shared_durable = on;
}

static void shared_cleanup(void)
{
    if (shared_owner == getpid()) {
        pg_cluster_destroy(&shared);
    }
}

int test_store_pgsql(void)
{
    const char *s = getenv("MODAX_TEST_STORE");

    return s != NULL && strcmp(s, "postgresql") == 0;
}

struct pg_cluster *pg_shared(void)
{
    if (shared.running) {
        return &shared; /* also in a forked child, which uses but never stops it */
    }
    if (shared_owner != 0) {
        return NULL; /* failed before, or a forked child */
    }
    shared_owner = getpid();
    atexit(shared_cleanup);
    if (pg_cluster_init(&shared, shared_durable) != 0) {
        fprintf(stderr, "cannot start the test PostgreSQL cluster\n");
        return NULL;
    }
    return &shared;
}

void pg_db_name(const char *dir, char *buf, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (const char *p = dir; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    }
    snprintf(buf, len, "t_%016llx", (unsigned long long)h);
}

int pg_test_db(const char *dir, char *url, size_t len)
{
    static char last[512];
    struct pg_cluster *c = pg_shared();
    char db[40];

    if (c == NULL) {
        return -1;
    }
    pg_db_name(dir, db, sizeof(db));
    if (strcmp(last, dir) != 0) {
        pg_cluster_create_db(c, db); /* fails harmlessly when it exists */
        snprintf(last, sizeof(last), "%s", dir);
    }
    pg_cluster_url(c, db, url, len);
    return 0;
}

struct pg_conn *pg_raw_conn(const struct pg_cluster *c, const char *url)
{
    const char *k[] = {"dbname", "password", NULL};
    const char *v[] = {url, c->password, NULL};
    PGconn *conn = PQconnectdbParams(k, v, 1);

    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "  raw connection: %s", PQerrorMessage(conn));
    }
    return conn;
}

int64_t pg_raw_int(struct pg_conn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    int64_t v = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    } else {
        fprintf(stderr, "  %s: %s", sql, PQresultErrorMessage(r));
    }
    PQclear(r);
    return v;
}

int pg_raw_exec(struct pg_conn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok) {
        fprintf(stderr, "  %s: %s", sql, PQresultErrorMessage(r));
    }
    PQclear(r);
    return ok;
}
