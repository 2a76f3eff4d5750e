/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_run_demo.c - `make run`'s script (scripts/run-demo.sh) for real, in a
 * scratch var/ folder on free ports (MODAX_DEMO_VAR, MODAX_MQTT_PORT, ...):
 * started as a background job would be (SIGINT ignored), it stops the
 * broker, the service and the fleet on SIGTERM and on SIGHUP; what it
 * leaves in var/ is private (files 0600, folders 0700) and the broker saved
 * its persistence file. And scripts/broker-persist-dir.sh: Mosquitto
 * dropping to another user (`user nobody`) can save into the folder it
 * made, and it refuses a folder that user cannot reach.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "support/broker_auth.h"
#include "support/support.h"

struct demo {
    char dir[512];
    char var[600];
    char out[700];
    pid_t pid;
};

static const char *src_dir(void)
{
    const char *s = getenv("MODAX_SOURCE_DIR");
    return s != NULL ? s : ".";
}

static int64_t now_ms(void)
{
    return mdx_mono_us() / 1000;
}

/* The script's output so far into buf (NUL-terminated). */
static const char *demo_output(const struct demo *d, char *buf, size_t len)
{
    FILE *f = fopen(d->out, "r");
    size_t n = f != NULL ? fread(buf, 1, len - 1, f) : 0;

    buf[n] = '\0';
    if (f != NULL) {
        fclose(f);
    }
    return buf;
}

/* Waits until the output holds 'needle'; 1 if it did within timeout_ms. */
static int wait_output(const struct demo *d, const char *needle, int timeout_ms)
{
    static char buf[1 << 16];
    int64_t end = now_ms() + timeout_ms;

    do {
        if (strstr(demo_output(d, buf, sizeof(buf)), needle) != NULL) {
            return 1;
        }
        mdx_sleep_ms(50);
    } while (now_ms() < end);
    return 0;
}

/* Processes other than us whose command line mentions 'needle'; with 'sig', signalled. */
static int processes_with_signal(const char *needle, int sig)
{
    DIR *p = opendir("/proc");
    int n = 0;

    for (struct dirent *e; p != NULL && (e = readdir(p)) != NULL;) {
        char path[300], cmd[4096], *end;
        long num = strtol(e->d_name, &end, 10);
        pid_t pid = (pid_t)num;
        if (*end != '\0' || num <= 0 || pid == getpid()) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            continue;
        }
        ssize_t len = read(fd, cmd, sizeof(cmd) - 1);
        close(fd);
        for (ssize_t i = 0; i < len; i++) {
            cmd[i] = cmd[i] == '\0' ? ' ' : cmd[i];
        }
        cmd[len > 0 ? len : 0] = '\0';
        if (strstr(cmd, needle) != NULL) {
            n++;
            if (sig != 0) {
                kill(pid, sig);
            }
        }
    }
    if (p != NULL) {
        closedir(p);
    }
    return n;
}

static int processes_with(const char *needle)
{
    return processes_with_signal(needle, 0);
}

/* Starts the demo as a background job would run: SIGINT ignored. 0 once it shows data. */
static int demo_start(struct demo *d, const char *name)
{
    char script[700], port[16], api[16], tls[16], asan[512];
    const char *bin = getenv("MODAX_BIN_DIR");
    int sanitized;

    tmp_make(d->dir, sizeof(d->dir), name);
    snprintf(d->var, sizeof(d->var), "%s/var", d->dir);
    snprintf(d->out, sizeof(d->out), "%s/demo.out", d->dir);
    snprintf(script, sizeof(script), "%s/scripts/run-demo.sh", src_dir());
    snprintf(port, sizeof(port), "%d", free_port());
    snprintf(api, sizeof(api), "%d", free_port());
    snprintf(tls, sizeof(tls), "%d", free_port());
    asan_runtime(asan, sizeof(asan));
    sanitized = asan[0] != '\0';
    d->pid = fork();
    if (d->pid == 0) {
        int fd = open(d->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        signal(SIGINT, SIG_IGN);
        setenv("MODAX_DEMO_VAR", d->var, 1);
        setenv("MODAX_MQTT_PORT", port, 1);
        setenv("MODAX_API_PORT", api, 1);
        setenv("MODAX_DEMO_TLS_PORT", tls, 1);
        if (sanitized) {
            /* The demo's broker loads the instrumented plugin (see broker_auth.h). */
            setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1:verify_asan_link_order=0", 1);
        }
        execl("/bin/sh", "sh", script, bin != NULL ? bin : "build", (char *)NULL);
        _exit(127);
    }
    if (!wait_output(d, "m-0001 sent", 90000)) {
        static char buf[1 << 16];
        fprintf(stderr, "  the demo did not show data:\n%s\n", demo_output(d, buf, sizeof(buf)));
        return -1;
    }
    return 0;
}

/* Waits for the script to exit; its status, or -1 after timeout_ms (then it is killed). */
static int demo_wait(struct demo *d, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    int status;

    while (now_ms() < end) {
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            return status;
        }
        mdx_sleep_ms(50);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    return -1;
}

/* No broker, service or fleet of this demo left after a while. */
static int demo_gone(const struct demo *d, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;

    while (processes_with(d->var) > 0 && now_ms() < end) {
        mdx_sleep_ms(100);
    }
    return processes_with(d->var) == 0;
}

static void demo_cleanup(struct demo *d)
{
    processes_with_signal(d->var, SIGKILL); /* whatever survived a failed test */
    tmp_remove(d->dir);
}

static long mode_of(const char *dir, const char *name)
{
    char p[800];
    struct stat sb;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return stat(p, &sb) == 0 ? (long)(sb.st_mode & 0777) : -1;
}

static void stops_on(int sig, const char *name)
{
    struct demo d;

    if (demo_start(&d, name) != 0) {
        CHECK(0);
        demo_cleanup(&d);
        return;
    }
    CHECK(processes_with(d.var) >= 3); /* broker, service, fleet */
    /* Issue 16 item 7: each log is bounded by rotatelogs (two files of 10 MiB at most). */
    {
        char needle[700];
        static const char *const logs[] = {"mosquitto", "serve", "fleet"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(needle, sizeof(needle), "rotatelogs -n 2 %s/%s.log 10M", d.var, logs[i]);
            CHECK_EQ_INT(processes_with(needle), 1);
        }
    }
    /* Issue 15 item 3: faults are scheduled and the RUL model trained on the simulator is active. */
    CHECK(wait_output(&d, "run: faults that develop in the first minutes: m-0004:overheat@", 1000));
    CHECK(wait_output(&d, "run: RUL model demo-sim-life8h active for tenant demo", 1000));
    kill(d.pid, sig);
    CHECK(wait_output(&d, "run: stopping", 3000)); /* at once, not after the 10 s nap */
    CHECK_EQ_INT(demo_wait(&d, 60000), 0);
    CHECK(wait_output(&d, "run: stopped", 1000));
    CHECK(demo_gone(&d, 10000));
    /* What stays in var/ is the user's alone, and the broker saved its queue. */
    CHECK_EQ_INT(mode_of(d.dir, "var"), 0700);
    CHECK_EQ_INT(mode_of(d.var, "modax.db"), 0600);
    CHECK_EQ_INT(mode_of(d.var, "serve.log"), 0600);
    CHECK_EQ_INT(mode_of(d.var, "mosquitto.log"), 0600);
    CHECK_EQ_INT(mode_of(d.var, "fleet.secrets"), 0600);
    CHECK_EQ_INT(mode_of(d.var, "spool"), 0700);
    CHECK_EQ_INT(mode_of(d.var, "mosquitto"), 0700);
    CHECK_EQ_INT(mode_of(d.var, "ca"), 0700);
    CHECK_EQ_INT(mode_of(d.var, "rul"), 0700);
    CHECK_EQ_INT(mode_of(d.var, "rul/demo-sim-life8h.json"), 0600);
    CHECK(mode_of(d.var, "mosquitto/mosquitto.db") >= 0);
    demo_cleanup(&d);
}

static void run_demo_stops_on_sigterm(void)
{
    stops_on(SIGTERM, "run_demo_term");
}

static void run_demo_stops_on_sighup(void)
{
    stops_on(SIGHUP, "run_demo_hup");
}

/* Runs `scripts/broker-persist-dir.sh DIR USER` (no shell between); its exit status, -1 if not run. */
static int persist_dir(const char *dir, const char *user)
{
    char script[1200];
    int status;
    pid_t pid;

    snprintf(script, sizeof(script), "%s/scripts/broker-persist-dir.sh", src_dir());
    pid = fork();
    if (pid == 0) {
        execlp("sh", "sh", script, dir, user, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Mosquitto started as root with `user nobody` (as Debian's broker drops to
 * `mosquitto`) saves into a folder made by broker-persist-dir.sh; a root-
 * owned folder, as `mkdir` makes it, it could not.
 */
static void broker_dropping_privileges_can_save_its_queue(void)
{
    char dir[512], persist[600], conf[700], db[700], log[700];
    struct passwd *nobody = getpwnam("nobody");
    int port = free_port(), status = -1;

    if (geteuid() != 0 || nobody == NULL) {
        printf("  skipped: needs root and user nobody\n");
        return;
    }
    tmp_make(dir, sizeof(dir), "persist_dir");
    CHECK_EQ_INT(chmod(dir, 0711), 0); /* nobody may pass through, not list */
    snprintf(persist, sizeof(persist), "%s/mosquitto", dir);
    CHECK_EQ_INT(mkdir(persist, 0755), 0); /* root's, as a plain mkdir makes it */
    CHECK_EQ_INT(persist_dir(persist, "nobody"), 0);
    struct stat sb;
    CHECK(stat(persist, &sb) == 0 && sb.st_uid == nobody->pw_uid && (sb.st_mode & 0777) == 0700);

    snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
    snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
    FILE *f = fopen(conf, "w");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    fprintf(f, "user nobody\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence true\n"
               "persistence_location %s/\n",
            port, persist);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execlp("mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    mdx_sleep_ms(300);
    int64_t end = now_ms() + 5000;
    while (now_ms() < end && processes_with(conf) == 0) {
        mdx_sleep_ms(50);
    }
    kill(pid, SIGTERM); /* a clean stop saves the in-memory database */
    waitpid(pid, &status, 0);
    snprintf(db, sizeof(db), "%s/mosquitto.db", persist);
    CHECK(access(db, F_OK) == 0);

    /* A folder nobody cannot reach is refused, with the reason, before the broker starts. */
    char closed[700], inner[800];
    snprintf(closed, sizeof(closed), "%s/closed", dir);
    snprintf(inner, sizeof(inner), "%s/mosquitto", closed);
    CHECK_EQ_INT(mkdir(closed, 0700), 0);
    CHECK(persist_dir(inner, "nobody") != 0);
    tmp_remove(dir);
}

int main(void)
{
    static const struct mdx_test tests[] = {
        {"issue 16: run-demo in the background stops on SIGTERM, its var/ private",
         run_demo_stops_on_sigterm},
        {"issue 16: run-demo stops on SIGHUP", run_demo_stops_on_sighup},
        {"issue 16: a broker dropping to another user can save its queue",
         broker_dropping_privileges_can_save_its_queue},
        {NULL, NULL}};

    signal(SIGPIPE, SIG_IGN);
    return mdx_test_run(tests, 1, NULL);
}
