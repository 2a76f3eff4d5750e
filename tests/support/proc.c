/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support_proc.c - real services for integration tests: Mosquitto on a free
 * loopback port, `modax serve` and `modax` commands as child processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/support.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/store.h"

/* The build directory: $MODAX_BIN_DIR, else the parent of this program's directory. */
static const char *bin_dir(void)
{
    static char dir[1024];
    const char *d = getenv("MODAX_BIN_DIR");
    ssize_t n;

    if (d != NULL) {
        return d;
    }
    n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
    if (n <= 0) {
        return "build";
    }
    dir[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(dir, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
    }
    return dir;
}

static const char *source_dir(void)
{
    const char *d = getenv("MODAX_SOURCE_DIR");
    return d != NULL ? d : MODAX_SOURCE_DIR_DEFAULT;
}

void tmp_make(char *out, size_t len, const char *name)
{
    snprintf(out, len, "/tmp/modax-test-%s-XXXXXX", name);
    if (mkdtemp(out) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

void tmp_remove(const char *dir)
{
    pid_t pid;

    if (getenv("MODAX_TEST_KEEP") != NULL) {
        fprintf(stderr, "  kept %s\n", dir);
        return;
    }
    pid = fork();

    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        waitpid(pid, NULL, 0);
    }
}

int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

static int port_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

long proc_status_kb(pid_t pid, const char *name)
{
    char path[64], line[256];
    size_t n = strlen(name);
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

pid_t proc_spawn(char *const argv[], const char *log_path)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* The project's broker config with this test's listener and persistence directory. */
static int write_broker_conf(const char *dir, int port, char *path, size_t len)
{
    char src[1024], line[1024];
    FILE *in, *out;

    snprintf(src, sizeof(src), "%s/conf/mosquitto.conf", source_dir());
    snprintf(path, len, "%s/mosquitto.conf", dir);
    in = fopen(src, "r");
    out = fopen(path, "w");
    if (in == NULL || out == NULL) {
        fprintf(stderr, "broker config: cannot read %s or write %s\n", src, path);
        if (in) fclose(in);
        if (out) fclose(out);
        return -1;
    }
    while (fgets(line, sizeof(line), in) != NULL) {
        if (strncmp(line, "listener", 8) != 0 && strncmp(line, "persistence_location", 20) != 0) {
            fputs(line, out);
        }
    }
    fprintf(out, "listener %d 127.0.0.1\npersistence_location %s/\n", port, dir);
    if (geteuid() == 0) {
        fprintf(out, "user root\n"); /* else it drops to 'mosquitto', who can't write here */
    }
    fclose(in);
    fclose(out);
    return 0;
}

int broker_start(struct broker *b, const char *dir, int port)
{
    char conf[700], log[700];

    snprintf(b->dir, sizeof(b->dir), "%s", dir);
    b->port = port > 0 ? port : free_port();
    if (write_broker_conf(dir, b->port, conf, sizeof(conf)) != 0) {
        return -1;
    }
    snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
    char *argv[] = {"mosquitto", "-c", conf, NULL};
    b->pid = proc_spawn(argv, log);
    for (int i = 0; i < 100; i++) {
        if (port_open(b->port)) {
            return 0;
        }
        mdx_sleep_ms(50);
    }
    fprintf(stderr, "mosquitto did not start on port %d; see %s\n", b->port, log);
    return -1;
}

void broker_stop(struct broker *b, int sig)
{
    if (b->pid <= 0) {
        return;
    }
    kill(b->pid, sig);
    /* A broker that does not stop within 20 s is killed, so a hang in its shutdown is
     * reported here instead of stalling the suite until CTest's timeout. */
    for (int i = 0; i < 400; i++) {
        if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
            b->pid = 0;
            return;
        }
        mdx_sleep_ms(50);
    }
    fprintf(stderr, "mosquitto (pid %d) did not stop within 20 s of signal %d; killed\n",
            (int)b->pid, sig);
    kill(b->pid, SIGKILL);
    waitpid(b->pid, NULL, 0);
    b->pid = 0;
}

/* When the broker last saved its database (ns since the epoch); 0 if it never did. */
static int64_t broker_saved_ns(const struct broker *b)
{
    char path[600];
    struct stat st;

    snprintf(path, sizeof(path), "%s/mosquitto.db", b->dir);
    if (stat(path, &st) != 0) {
        return 0;
    }
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

int broker_save(const struct broker *b, int timeout_ms)
{
    int64_t before = broker_saved_ns(b), deadline = mdx_mono_us() + (int64_t)timeout_ms * 1000;

    if (b->pid <= 0 || kill(b->pid, SIGUSR1) != 0) {
        return -1;
    }
    while (broker_saved_ns(b) == before) {
        if (mdx_mono_us() >= deadline) {
            return -1;
        }
        mdx_sleep_ms(20);
    }
    return 0;
}

void modax_env(const char *dir, int port)
{
    char buf[700];

    snprintf(buf, sizeof(buf), "%s/modax.db", dir);
    setenv("MODAX_STORE_SQLITE_PATH", buf, 1);
    if (test_store_pgsql()) {
        /* One database per test folder in the program's shared cluster. */
        if (pg_test_db(dir, buf, sizeof(buf)) != 0) {
            fprintf(stderr, "MODAX_TEST_STORE=postgresql: no PostgreSQL cluster\n");
            exit(1);
        }
        setenv("MODAX_STORE_BACKEND", "postgresql", 1);
        setenv("MODAX_STORE_PGSQL_URL", buf, 1);
        setenv("MODAX_STORE_PGSQL_PASSWORD", pg_shared()->password, 1);
        setenv("MODAX_STORE_PGSQL_SSLMODE", "disable", 1);
    }
    snprintf(buf, sizeof(buf), "%s/spool", dir);
    setenv("MODAX_INGEST_SPOOL_DIR", buf, 1);
    snprintf(buf, sizeof(buf), "%d", port);
    setenv("MODAX_MQTT_PORT", buf, 1);
    setenv("MODAX_MQTT_HOST", "127.0.0.1", 1);
    setenv("MODAX_LOG_FORMAT", "json", 1);
    unsetenv("MODAX_CONFIG");
}

int serve_start(struct serve *s, const char *dir, int port)
{
    return serve_start_worker(s, dir, port, NULL);
}

static int serve_spawn(struct serve *s, const char *dir, int port, const char *worker,
                       const char *roles);

int serve_start_worker(struct serve *s, const char *dir, int port, const char *worker)
{
    return serve_spawn(s, dir, port, worker, NULL);
}

int serve_start_worker_roles(struct serve *s, const char *dir, int port, const char *worker,
                             const char *roles)
{
    return serve_spawn(s, dir, port, worker, roles);
}

int serve_start_roles(struct serve *s, const char *dir, int port, const char *roles)
{
    return serve_spawn(s, dir, port, NULL, roles);
}

static int serve_spawn(struct serve *s, const char *dir, int port, const char *worker,
                       const char *roles)
{
    char exe[700], log[700], buf[700];
    const char *name = worker != NULL ? worker : "serve";
    const char *api_port = getenv("MODAX_TEST_API_PORT");

    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    s->port = port;
    snprintf(s->ready, sizeof(s->ready), "%s/%s.ready", dir, name);
    unlink(s->ready);
    snprintf(exe, sizeof(exe), "%s/modax", bin_dir());
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    snprintf(s->log, sizeof(s->log), "%s", log);
    modax_env(dir, port);
    if (worker != NULL) {
        snprintf(buf, sizeof(buf), "%s/spool-%s", dir, worker);
        setenv("MODAX_INGEST_SPOOL_DIR", buf, 1);
        snprintf(buf, sizeof(buf), "modax-ingest-%s", worker);
        setenv("MODAX_MQTT_CLIENT_ID", buf, 1);
    } else {
        unsetenv("MODAX_MQTT_CLIENT_ID");
    }
    /* The api role listens on a free port, unless the test fixed one. */
    s->api_port = api_port != NULL ? (int)strtol(api_port, NULL, 10) : free_port();
    snprintf(buf, sizeof(buf), "%d", s->api_port);
    setenv("MODAX_API_PORT", buf, 1);
    char *argv[] = {exe, "serve", "--ready-file", s->ready, NULL, NULL, NULL};
    if (roles != NULL) {
        argv[4] = "--roles";
        argv[5] = (char *)roles;
    }
    s->pid = proc_spawn(argv, log);
    for (int i = 0; i < 300; i++) {
        struct stat st;
        int status;
        if (stat(s->ready, &st) == 0) {
            return 0;
        }
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            fprintf(stderr, "modax serve exited early; see %s\n", log);
            s->pid = 0;
            return -1;
        }
        mdx_sleep_ms(20);
    }
    fprintf(stderr, "modax serve did not become ready; see %s\n", log);
    return -1;
}

/* Copies the sanitizer reports of the log at 'path' to stderr (the log goes with its folder). */
static void copy_sanitizer_reports(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int copying = 0, copied = 0;

    while (f != NULL && fgets(line, sizeof(line), f) != NULL && copied < 400) {
        if (strstr(line, "WARNING: ThreadSanitizer") != NULL ||
            strstr(line, "ERROR: AddressSanitizer") != NULL ||
            strstr(line, "ERROR: LeakSanitizer") != NULL || strstr(line, "runtime error:") != NULL) {
            if (!copying) {
                fprintf(stderr, "  sanitizer report in %s:\n", path);
            }
            copying = 1;
        }
        if (copying) {
            fputs(line, stderr);
            copied++;
        }
        if (strncmp(line, "SUMMARY:", 8) == 0) {
            copying = 0;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

int serve_stop(struct serve *s, int sig)
{
    int status = 0;

    if (s->pid <= 0) {
        return -1;
    }
    kill(s->pid, sig);
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    copy_sanitizer_reports(s->log);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs argv (argv[0] a path), capturing file descriptor 'fd' (1 or 2) into out. */
static int run_capture(char *const argv[], int fd, char *out, size_t outlen)
{
    int pipefd[2], status;
    size_t used = 0;
    pid_t pid;

    if (pipe(pipefd) != 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], fd);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    for (;;) {
        char tmp[4096];
        ssize_t n = read(pipefd[0], tmp, sizeof(tmp));
        if (n <= 0) {
            break;
        }
        if (out != NULL && used + 1 < outlen) {
            size_t take = (size_t)n < outlen - 1 - used ? (size_t)n : outlen - 1 - used;
            memcpy(out + used, tmp, take);
            used += take;
        }
    }
    if (out != NULL && outlen > 0) {
        out[used] = '\0';
    }
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* argv for bin_dir()/tool followed by the NULL-terminated arguments. */
static int run_tool(const char *tool, int fd, char *out, size_t outlen, const char *arg0,
                    va_list ap)
{
    char exe[700];
    char *argv[64];
    int argc = 0;

    snprintf(exe, sizeof(exe), "%s/%s", bin_dir(), tool);
    argv[argc++] = exe;
    for (const char *a = arg0; a != NULL && argc < 63; a = va_arg(ap, const char *)) {
        argv[argc++] = (char *)a;
    }
    argv[argc] = NULL;
    return run_capture(argv, fd, out, outlen);
}

int modax_run(char *out, size_t outlen, const char *arg0, ...)
{
    va_list ap;
    int rc;

    va_start(ap, arg0);
    rc = run_tool("modax", 1, out, outlen, arg0, ap);
    va_end(ap);
    return rc;
}

int modax_stderr(char *err, size_t errlen, const char *arg0, ...)
{
    va_list ap;
    int rc;

    va_start(ap, arg0);
    rc = run_tool("modax", 2, err, errlen, arg0, ap);
    va_end(ap);
    return rc;
}

int edge_run(char *err, size_t errlen, const char *arg0, ...)
{
    va_list ap;
    int rc;

    va_start(ap, arg0);
    rc = run_tool("edge/modax-edge", 2, err, errlen, arg0, ap);
    va_end(ap);
    return rc;
}

struct mdx_store *test_store_open(const char *dir)
{
    struct mdx_store_conf conf = {0};
    char path[700];
    int err;

    if (test_store_pgsql()) {
        if (pg_test_db(dir, path, sizeof(path)) != 0) {
            return NULL;
        }
        pg_store_conf(&conf, pg_shared(), path);
        return mdx_store_open(&conf, &err);
    }
    snprintf(path, sizeof(path), "%s/modax.db", dir);
    conf.backend = "sqlite";
    conf.sqlite_path = path;
    conf.busy_timeout_ms = 5000;
    conf.chunk_points = 512;
    conf.cache_series = 1000;
    conf.deadletter_max = 10000;
    return mdx_store_open(&conf, &err);
}

int64_t store_points(const char *dir, const char *tenant)
{
    /* PostgreSQL: one connection per folder, kept, so polling does not load the server. */
    static struct mdx_store *kept;
    static char kept_dir[512];
    static pid_t kept_pid;
    struct mdx_store *st;
    int64_t n = -1;

    if (test_store_pgsql() && kept != NULL && kept_pid == getpid() &&
        strcmp(kept_dir, dir) == 0) {
        st = kept;
    } else {
        st = test_store_open(dir);
    }
    if (st == NULL) {
        return -1;
    }
    if (mdx_store_point_count(st, tenant, &n) != MDX_OK) {
        n = -1;
    }
    if (test_store_pgsql() && st != kept) {
        if (kept != NULL && kept_pid == getpid()) {
            mdx_store_close(kept);
        }
        kept = st;
        kept_pid = getpid();
        snprintf(kept_dir, sizeof(kept_dir), "%s", dir);
    } else if (st != kept) {
        mdx_store_close(st);
    }
    return n;
}

int64_t wait_points(const char *dir, const char *tenant, int64_t want, int timeout_ms)
{
    int64_t deadline = mdx_mono_us() + (int64_t)timeout_ms * 1000, n = -1;

    do {
        n = store_points(dir, tenant);
        if (n >= want) {
            return n;
        }
        mdx_sleep_ms(20);
    } while (mdx_mono_us() < deadline);
    return n;
}
