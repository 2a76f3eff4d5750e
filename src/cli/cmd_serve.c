/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_serve.c - `modax serve`: runs the service roles until SIGINT/SIGTERM.
 *
 * Role ingest: MQTT source -> engine (spool, decode, validate, store).
 * On SIGINT/SIGTERM the source disconnects first, then the engine drains
 * the spool into the store, so a clean stop leaves nothing behind.
 */
#include <fcntl.h>
#include <pthread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "serve"
#define DRAIN_MS 30000

static int deliver(void *arg, const char *topic, const void *payload, size_t len, int64_t recv_ms)
{
    return mdx_engine_submit(arg, topic, payload, len, recv_ms);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax serve [--roles ingest] [--ready-file PATH]\n\n"
            "Runs the service until SIGINT or SIGTERM.\n"
            "  --roles LIST       comma-separated roles; 'ingest' (MQTT -> store) is the one\n"
            "                     this version has (default: ingest)\n"
            "  --ready-file PATH  create PATH once subscribed to the broker, remove it on exit\n"
            "                     (for scripts and supervisors)\n");
}

static int parse_roles(const char *roles)
{
    char buf[256];
    char *save = NULL;

    if (strlen(roles) >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, roles, strlen(roles) + 1);
    for (char *r = strtok_r(buf, ",", &save); r != NULL; r = strtok_r(NULL, ",", &save)) {
        if (strcmp(r, "ingest") != 0) {
            fprintf(stderr, "modax serve: unknown role '%s'; this version has: ingest\n", r);
            return -1;
        }
    }
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"roles", required_argument, NULL, 'r'},
        {"ready-file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *roles = "ingest", *ready_file = NULL;
    struct cli_conf conf;
    struct mdx_store *store = NULL;
    struct mdx_engine *engine = NULL;
    void *source = NULL;
    sigset_t sigs;
    int rc, sig, ready = 0, status = CLI_FAIL;

    optind = 1;
    while ((rc = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (rc) {
        case 'r': roles = optarg; break;
        case 'f': ready_file = optarg; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (optind != argc || parse_roles(roles) != 0) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_conf_load(&conf) != CLI_OK) {
        return CLI_USAGE;
    }
    /* Signals are taken by sigwait below; threads created from here on inherit the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    store = cli_store_open(&conf);
    if (store == NULL) {
        goto out;
    }
    conf.ingest.worker = conf.mqtt.client_id;
    engine = mdx_engine_create(&conf.ingest, store, &rc);
    if (engine == NULL) {
        mdx_log_error(MOD, "cannot start the ingest; check ingest.spool_dir", MDX_F_ERR(rc),
                      MDX_F_STR("spool_dir", conf.ingest.spool_dir));
        goto out;
    }
    source = mdx_source_mqtt.create(&conf.mqtt, deliver, engine, &rc);
    if (source == NULL) {
        mdx_log_error(MOD, "cannot create the MQTT client; check mqtt.*", MDX_F_ERR(rc));
        goto out;
    }
    if (mdx_engine_start(engine) != MDX_OK || mdx_source_mqtt.start(source) != MDX_OK) {
        mdx_log_error(MOD, "cannot start threads");
        goto out;
    }
    mdx_log_info(MOD, "started", MDX_F_STR("roles", roles), MDX_F_STR("store", conf.store.backend),
                 MDX_F_STR("broker", conf.mqtt.host), MDX_F_INT("port", conf.mqtt.port));
    for (;;) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 100000000L};

        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            break;
        }
        if (!ready && ready_file != NULL && mdx_source_mqtt.ready(source)) {
            int fd = open(ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                close(fd);
            }
            ready = 1;
        }
    }
    mdx_log_info(MOD, "stopping: draining the spool into the store", MDX_F_INT("signal", sig));
    status = CLI_OK;

out:
    if (source != NULL) {
        mdx_source_mqtt.stop(source);
    }
    if (engine != NULL) {
        mdx_engine_stop(engine, DRAIN_MS);
    }
    if (source != NULL) {
        mdx_source_mqtt.destroy(source);
    }
    mdx_engine_destroy(engine);
    mdx_store_close(store);
    if (ready_file != NULL) {
        unlink(ready_file);
    }
    if (status == CLI_OK) {
        mdx_log_info(MOD, "stopped");
    }
    cli_conf_fini(&conf);
    return status;
}
