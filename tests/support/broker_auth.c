/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker_auth.c - Mosquitto with the auth plugin for integration tests
 * (see broker_auth.h). In sanitizer builds the plugin is instrumented but
 * mosquitto is not: the plugin brings the ASan runtime in when the broker
 * loads it, which ASan allows with verify_asan_link_order=0 (leak checks
 * off for mosquitto). Preloading libasan instead left glibc's gettext lock
 * broken in the broker, so libpq (the plugin over PostgreSQL) hung on its
 * first message.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modax/clock.h"
#include "support/broker_auth.h"

void asan_runtime(char *buf, size_t len)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];

    buf[0] = '\0';
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *p = strchr(line, '/');
        if (p != NULL && strstr(p, "libasan.so") != NULL) {
            p[strcspn(p, "\n")] = '\0';
            snprintf(buf, len, "%s", p);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

static int write_conf(const struct broker *b, const struct broker_auth_opts *o, char *path,
                      size_t len)
{
    char src[1024], line[1024];
    const char *bin = getenv("MODAX_BIN_DIR"), *srcdir = getenv("MODAX_SOURCE_DIR");
    FILE *in, *out;

    snprintf(src, sizeof(src), "%s/conf/mosquitto.conf", srcdir ? srcdir : MODAX_SOURCE_DIR_DEFAULT);
    snprintf(path, len, "%s/mosquitto.conf", b->dir);
    in = fopen(src, "r");
    out = fopen(path, "w");
    if (in == NULL || out == NULL || bin == NULL) {
        fprintf(stderr, "broker config: cannot read %s or write %s (MODAX_BIN_DIR set?)\n", src,
                path);
        if (in) fclose(in);
        if (out) fclose(out);
        return -1;
    }
    /* The shared limits; listeners, plugin and persistence are this run's. */
    while (fgets(line, sizeof(line), in) != NULL) {
        if (strncmp(line, "listener", 8) != 0 && strncmp(line, "persistence_location", 20) != 0 &&
            strncmp(line, "allow_anonymous", 15) != 0) {
            fputs(line, out);
        }
    }
    fprintf(out, "per_listener_settings false\nallow_anonymous false\n"
                 "plugin %s/broker/modax_auth.so\nplugin_opt_stats_file %s/plugin-stats\n"
                 "plugin_opt_refresh_ms 500\n"
                 "listener %d 127.0.0.1\npersistence_location %s/\n",
            bin, b->dir, b->port, b->dir);
    if (o != NULL && o->tls_port > 0) {
        fprintf(out, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
                     "require_certificate true\nuse_identity_as_username true\n",
                o->tls_port, o->cafile, o->certfile, o->keyfile);
    }
    if (geteuid() == 0) {
        fprintf(out, "user root\n");
    }
    fclose(in);
    fclose(out);
    return 0;
}

int broker_start_auth(struct broker *b, const char *dir, int port,
                      const struct broker_auth_opts *o)
{
    char conf[700], log[700], asan[512];

    snprintf(b->dir, sizeof(b->dir), "%s", dir);
    b->port = port > 0 ? port : free_port();
    if (write_conf(b, o, conf, sizeof(conf)) != 0) {
        return -1;
    }
    snprintf(log, sizeof(log), "%s/mosquitto.log", dir);
    asan_runtime(asan, sizeof(asan));
    b->pid = fork();
    if (b->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (asan[0] != '\0') {
            setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1:verify_asan_link_order=0", 1);
        }
        execlp("mosquitto", "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    if (b->pid < 0) {
        return -1;
    }
    for (int i = 0; i < 200; i++) {
        char stats[700];
        snprintf(stats, sizeof(stats), "%s/plugin-stats", dir);
        if (access(stats, R_OK) == 0) {
            return 0;         /* the plugin ticked: loaded and running */
        }
        mdx_sleep_ms(50);
    }
    fprintf(stderr, "mosquitto with the plugin did not start on port %d; see %s\n", b->port, log);
    return -1;
}

long long broker_auth_stat(const struct broker *b, const char *name)
{
    char path[700], key[128];
    long long v, found = -1;
    FILE *f;

    snprintf(path, sizeof(path), "%s/plugin-stats", b->dir);
    f = fopen(path, "r");
    while (f != NULL && fscanf(f, "%127s %lld", key, &v) == 2) {
        if (strcmp(key, name) == 0) {
            found = v;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return found;
}
