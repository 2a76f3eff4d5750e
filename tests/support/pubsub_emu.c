/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pubsub_emu.c - the Pub/Sub emulator as a child process, and REST calls
 * to it with libcurl (see pubsub_emu.h).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "modax/clock.h"
#include "support/pubsub_emu.h"
#include "support/support.h"

static const char *const emulator_paths[] = {
    "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    "/usr/share/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    "/opt/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    NULL,
};

struct sink {
    char *out;
    size_t len, at;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t b = size * n;

    if (s->out != NULL && s->len > 0) {
        size_t room = s->len - 1 - s->at;
        size_t c = b < room ? b : room;
        memcpy(s->out + s->at, p, c);
        s->at += c;
        s->out[s->at] = '\0';
    }
    return b;
}

int pubsub_emu_call(const struct pubsub_emu *e, const char *method, const char *project,
                    const char *path, const char *body, char *out, size_t len)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct sink s = {out, len, 0};
    char url[1024];
    long status = -1;

    if (out != NULL && len > 0) {
        out[0] = '\0';
    }
    if (c == NULL) {
        curl_slist_free_all(h);
        return -1;
    }
    snprintf(url, sizeof(url), "http://%s/v1/projects/%s/%s", e->host, project, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (curl_easy_perform(c) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
        status = -1;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return (int)status;
}

/* Starts it on 'port' (0: a free one). */
static int start_on(struct pubsub_emu *e, const char *dir, int port)
{
    const char *bin = getenv("MODAX_PUBSUB_EMULATOR");
    char log[700], host_arg[64], port_arg[64];
    int64_t t0 = mdx_mono_us(), end = t0 + 90000000;

    memset(e, 0, sizeof(*e));
    for (size_t i = 0; (bin == NULL || bin[0] == '\0') && emulator_paths[i] != NULL; i++) {
        if (access(emulator_paths[i], X_OK) == 0) {
            bin = emulator_paths[i];
        }
    }
    if (bin == NULL || bin[0] == '\0' || access(bin, X_OK) != 0) {
        return 1;
    }
    e->port = port > 0 ? port : free_port();
    snprintf(e->host, sizeof(e->host), "127.0.0.1:%d", e->port);
    snprintf(log, sizeof(log), "%s/pubsub-emulator.log", dir);
    snprintf(host_arg, sizeof(host_arg), "--host=127.0.0.1");
    snprintf(port_arg, sizeof(port_arg), "--port=%d", e->port);
    e->pid = fork();
    if (e->pid == 0) {
        char *const argv[] = {(char *)bin, host_arg, port_arg, NULL};
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setpgid(0, 0); /* the script execs java; its group is stopped as one */
        execv(bin, argv);
        fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    if (e->pid < 0) {
        return -1;
    }
    while (mdx_mono_us() < end) {
        int st;
        if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
            e->pid = 0;
            fprintf(stderr, "  the Pub/Sub emulator exited; see %s\n", log);
            return -1;
        }
        if (pubsub_emu_call(e, "GET", "probe", "topics", NULL, NULL, 0) == 200) {
            fprintf(stderr, "  Pub/Sub emulator up in %lld ms\n",
                    (long long)((mdx_mono_us() - t0) / 1000));
            return 0;
        }
        mdx_sleep_ms(100);
    }
    fprintf(stderr, "  the Pub/Sub emulator did not answer within 90 s; see %s\n", log);
    pubsub_emu_stop(e);
    return -1;
}

int pubsub_emu_start(struct pubsub_emu *e, const char *dir)
{
    return start_on(e, dir, 0);
}

int pubsub_emu_restart(struct pubsub_emu *e, const char *dir)
{
    int port = e->port;

    pubsub_emu_stop(e);
    return start_on(e, dir, port);
}

void pubsub_emu_stop(struct pubsub_emu *e)
{
    if (e->pid > 0) {
        kill(-e->pid, SIGTERM);
        kill(e->pid, SIGTERM);
        waitpid(e->pid, NULL, 0);
        e->pid = 0;
    }
}
