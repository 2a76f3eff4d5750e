/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support.h - helpers for integration tests: a real Mosquitto on a free
 * loopback port, `modax serve` as a child process, a QoS 1 publisher,
 * and running `modax` commands.
 */
#ifndef MODAX_TEST_SUPPORT_H
#define MODAX_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A scratch directory for one test, removed by tmp_remove(). */
void tmp_make(char *out, size_t len, const char *name);
void tmp_remove(const char *dir);

int free_port(void);
/* Runs argv (PATH searched) with stdout and stderr appended to 'log_path'; the child's pid. */
pid_t proc_spawn(char *const argv[], const char *log_path);
/* Field 'name' ("VmRSS", "VmHWM") of /proc/PID/status in kB; -1 if unknown. */
long proc_status_kb(pid_t pid, const char *name);

struct broker {
    pid_t pid;
    int port;
    char dir[512];
};
/* Starts Mosquitto with the project's conf/mosquitto.conf on a free port in 'dir'. 0 on success. */
int broker_start(struct broker *b, const char *dir, int port);
/* Stops it with 'sig' and waits. */
void broker_stop(struct broker *b, int sig);
/*
 * Has it save its database now (SIGUSR1, as scripts/run-demo.sh does once the ingest
 * subscribed) and waits up to 'timeout_ms' for the save. 0 once saved, -1 if not.
 */
int broker_save(const struct broker *b, int timeout_ms);

struct serve {
    pid_t pid;
    char dir[512];
    int port;
    char ready[600];
    char log[700];            /* its stdout and stderr */
    int api_port;             /* where its api role listens: $MODAX_TEST_API_PORT, else a free port */
};
/* Environment for modax processes of a test: store, spool and broker port under 'dir'. */
void modax_env(const char *dir, int port);
/* Starts `modax serve`, waits until it is subscribed (ready file). 0 on success. */
int serve_start(struct serve *s, const char *dir, int port);
/* The same for one of several workers: its own spool, client id, log and ready file. */
int serve_start_worker(struct serve *s, const char *dir, int port, const char *worker);
/* Starts `modax serve --roles ROLES` (NULL: the default roles), as serve_start(). */
int serve_start_roles(struct serve *s, const char *dir, int port, const char *roles);
/* Both: worker 'worker' (own log WORKER.log and ready file) running 'roles'. */
int serve_start_worker_roles(struct serve *s, const char *dir, int port, const char *worker,
                             const char *roles);
/*
 * Stops it with 'sig' and waits; returns the exit status (or 128+signal). A
 * sanitizer report in its log is copied to stderr (ThreadSanitizer then makes
 * the status 66, ASan/UBSan abort it).
 */
int serve_stop(struct serve *s, int sig);

/* The figure 'key' of the last "statistics" line in a serve log; -1 if none. */
int64_t log_last_stat(const char *log, const char *key);
/* Prints to stderr the lines of a broker or serve log that say a connection began or ended:
   why a message was delivered twice. */
void log_print_disconnects(const char *log);

/* Runs `modax ARGS...` (NULL-terminated) with the test's environment; output into out. */
int modax_run(char *out, size_t outlen, const char *arg0, ...);
/* The same, but its stderr (what the command says went wrong) into err. */
int modax_stderr(char *err, size_t errlen, const char *arg0, ...);

/* Runs `modax-edge ARGS...` (NULL-terminated); its stderr (the summary line) into err. */
int edge_run(char *err, size_t errlen, const char *arg0, ...);

struct pub;
/* A QoS 1 publisher with a persistent session that reconnects by itself. */
struct pub *pub_connect(int port, const char *client_id);
/* Queues one QoS 1 message; keeps at most 'window' unacknowledged. 0 on success. */
int pub_send(struct pub *p, const char *topic, const void *payload, size_t len);
/* Waits until every message sent is acknowledged; 0 if so within timeout_ms. */
int pub_wait_acked(struct pub *p, int timeout_ms);
uint64_t pub_acked(struct pub *p);
void pub_close(struct pub *p);

/* The test folder's store: dir/modax.db, or its PostgreSQL database (see below). */
struct mdx_store *test_store_open(const char *dir);
/* Points stored under 'tenant' in the test's store (SQLite, or PostgreSQL: see below). */
int64_t store_points(const char *dir, const char *tenant);
/* Waits until store_points() >= want or timeout; returns the last count. */
int64_t wait_points(const char *dir, const char *tenant, int64_t want, int timeout_ms);

/* ---- PostgreSQL (pg.c) ---- */

struct mdx_store_conf;

/* A throwaway PostgreSQL 15 cluster: initdb + pg_ctl as 'postgres', loopback, SCRAM password. */
struct pg_cluster {
    char dir[256];            /* data, socket and logs; removed by pg_cluster_destroy() */
    int port;
    char password[40];        /* of superuser "modax" */
    int durable;              /* fsync on (benchmarks); tests run with fsync off */
    int initialised;
    int running;
};
/* initdb and start on a free port. 0 on success; a missing PostgreSQL is an error. */
int pg_cluster_init(struct pg_cluster *c, int durable);
/* Starts it again (same port). 0 on success. */
int pg_cluster_start(struct pg_cluster *c);
/* pg_ctl stop -m 'mode' ("fast", "immediate"). */
int pg_cluster_stop(struct pg_cluster *c, const char *mode);
/* Stops it and removes its folder. */
void pg_cluster_destroy(struct pg_cluster *c);
/* CREATE DATABASE 'db' (createdb). 0 on success. */
int pg_cluster_create_db(struct pg_cluster *c, const char *db);
/* libpq connection string for 'db', without the password. */
void pg_cluster_url(const struct pg_cluster *c, const char *db, char *buf, size_t len);
/* A store config for 'url' of cluster 'c' (borrows both). */
void pg_store_conf(struct mdx_store_conf *conf, struct pg_cluster *c, const char *url);

/* Non-zero when MODAX_TEST_STORE=postgresql: the helpers above then use PostgreSQL. */
int test_store_pgsql(void);
/* The test program's shared cluster, started on first use, removed at exit; NULL if it failed. */
struct pg_cluster *pg_shared(void);
/* Makes the shared cluster durable (fsync on), for benchmarks; call before its first use. */
void pg_shared_durable(int on);
/* The database name of a test folder. */
void pg_db_name(const char *dir, char *buf, size_t len);
/* Creates the test folder's database in the shared cluster; its url into 'url'. 0 on success. */
int pg_test_db(const char *dir, char *url, size_t len);

struct pg_conn; /* libpq's PGconn */
/* A plain libpq connection to database 'url' of cluster 'c'; PQfinish() it. Errors on stderr. */
struct pg_conn *pg_raw_conn(const struct pg_cluster *c, const char *url);
/* The first column of the first row of 'sql', or -1 (the error on stderr). */
int64_t pg_raw_int(struct pg_conn *conn, const char *sql);
/* Runs 'sql': 1 on success, else 0 (the error on stderr). */
int pg_raw_exec(struct pg_conn *conn, const char *sql);

#endif
