/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_serve.c - `modax serve`: runs the service roles until SIGINT/SIGTERM.
 *
 * Role ingest: source -> engine (decode, validate, store), with
 * the stages of serve_stages.c on the engine's writer thread: live RUL
 * (rul_live.h) when rul.enabled; alerting (detector, rules, safety
 * events, alert lifecycle; alerting.h) when alert.detect or alert.rules is
 * on, its alert changes going to the sinks (alert dispatcher) and to
 * modax/{tenant}/{device}/alerts; and the api's live stream when the api
 * role runs in the same process.
 * The source is MQTT (ingest.source = mqtt; a push source whose messages
 * the engine spools), Kafka (kafka; a pull source whose offsets the
 * engine stores with each batch, source.h) or Google Pub/Sub (pubsub; a
 * pull source that acknowledges after each batch's commit).
 * On SIGINT/SIGTERM the source disconnects first, then the engine drains
 * the spool into the store, so a clean stop leaves nothing behind.
 *
 * Role api: the HTTP API, live stream, dashboard and /metrics (api.h) on
 * api.listen:api.port, with its own store handles and MQTT connection.
 * With the ingest in the same process, it starts before the engine's
 * writer, whose stage (mdx_api_live_stage_ops) feeds its live stream, and
 * stops after the writer's drain, before the ingest it reads counters from
 * is destroyed.
 *
 * Role archiver: a thread with its own store handle and object store runs
 * an archive pass (archive.h) every archive.interval_s, the first one at
 * start. A pass that fails is retried at the next interval with a warning;
 * SIGINT/SIGTERM stop it between two objects.
 */
#include <fcntl.h>
#include <pthread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/serve_stages.h"
#include "modax/archive.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "serve"
#define DRAIN_MS 30000
#define SINK_DRAIN_MS 5000 /* pending deliveries to alert sinks at stop */

enum { ROLE_INGEST = 1, ROLE_ARCHIVER = 2, ROLE_API = 4 };

/* The archiver role's thread and what it shares with the main thread. */
struct archiver_role {
    struct cli_conf *conf;    /* read-only while the thread runs */
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;             /* under mu */
    struct mdx_archiver *ar;  /* under mu: the pass to stop, if one runs */
};

static int deliver(void *arg, const char *topic, const void *payload, size_t len, int64_t recv_ms)
{
    return mdx_engine_submit(arg, topic, payload, len, recv_ms);
}

/* The ingest's source (ingest.source); set once before any thread starts. */
static const struct mdx_source_ops *serve_source = &mdx_source_mqtt;

static int publish(void *arg, const char *topic, const void *payload, size_t len, int qos,
                   int retain)
{
    if (serve_source->publish == NULL) {
        return MDX_ECONN; /* Kafka, Pub/Sub: commands go another way (issue 12, item 5) */
    }
    return serve_source->publish(arg, topic, payload, len, qos, retain);
}

/* The ingest: its source and the engine over it. MDX_OK or an error (logged). */
static int ingest_create(struct cli_conf *conf, struct mdx_store *store,
                         struct mdx_engine **engine, void **source)
{
    int rc;

    if (strcmp(conf->ingest.source, "kafka") == 0 || strcmp(conf->ingest.source, "pubsub") == 0) {
        int kafka = conf->ingest.source[0] == 'k';
        serve_source = kafka ? &mdx_source_kafka : &mdx_source_pubsub;
        *source = serve_source->create(kafka ? (const void *)&conf->kafka
                                             : (const void *)&conf->pubsub,
                                       NULL, NULL, &rc);
        if (*source == NULL) {
            mdx_log_error(MOD, kafka ? "cannot create the Kafka consumer; check kafka.*"
                                     : "cannot create the Pub/Sub source; check pubsub.*",
                          MDX_F_ERR(rc));
            return rc;
        }
        *engine = mdx_engine_create_pull(&conf->ingest, store, serve_source, *source, &rc);
        if (*engine == NULL) {
            mdx_log_error(MOD, "cannot start the ingest", MDX_F_ERR(rc));
        }
        return *engine != NULL ? MDX_OK : rc;
    }
    if (strcmp(conf->ingest.source, "mqtt") != 0) {
        mdx_log_error(MOD, "ingest.source must be mqtt, kafka or pubsub",
                      MDX_F_STR("value", conf->ingest.source));
        return MDX_ECONF;
    }
    if (conf->mqtt.shared_group[0] != '\0') {
        /* Said once, never a silent degradation: see README, "Where your data comes from". */
        mdx_log_warn(MOD, "mqtt.shared_group: a device's messages alternate between the workers "
                          "of the group, so per-device detector baselines and RUL windows are "
                          "split between them; use Kafka keyed by device to keep them whole",
                     MDX_F_STR("group", conf->mqtt.shared_group));
    }
    conf->ingest.worker = conf->mqtt.client_id;
    *engine = mdx_engine_create(&conf->ingest, store, &rc);
    if (*engine == NULL) {
        mdx_log_error(MOD, "cannot start the ingest; check ingest.spool_dir", MDX_F_ERR(rc),
                      MDX_F_STR("spool_dir", conf->ingest.spool_dir));
        return rc;
    }
    *source = mdx_source_mqtt.create(&conf->mqtt, deliver, *engine, &rc);
    if (*source == NULL) {
        mdx_log_error(MOD, "cannot create the MQTT client; check mqtt.*", MDX_F_ERR(rc));
    }
    return *source != NULL ? MDX_OK : rc;
}

/*
 * The ingest's store. A database locked by another process at start-up
 * (MDX_EBUSY) is retried with back-off (50 ms doubling to 2 s) until it
 * opens or SIGINT/SIGTERM arrives: the service is not ready until then.
 * Other failures are final. NULL on failure, with *stopped set on a signal.
 */
static struct mdx_store *store_open_retrying(struct cli_conf *conf, const sigset_t *sigs,
                                             int *stopped)
{
    int64_t backoff_ms = 50;

    *stopped = 0;
    for (;;) {
        int err = MDX_OK;
        struct mdx_store *st = mdx_store_open(&conf->store, &err);
        struct timespec wait;

        if (st != NULL) {
            return st;
        }
        if (err != MDX_EBUSY) {
            return cli_store_open(conf); /* says what is wrong */
        }
        mdx_log_warn(MOD, "the store is locked by another process; retrying, not ready",
                     MDX_F_ERR(err), MDX_F_INT("retry_ms", backoff_ms));
        wait.tv_sec = backoff_ms / 1000;
        wait.tv_nsec = (long)(backoff_ms % 1000) * 1000000L;
        int sig = sigtimedwait(sigs, NULL, &wait);
        if (sig == SIGINT || sig == SIGTERM) {
            *stopped = 1;
            return NULL;
        }
        backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax serve [--roles ingest,api,archiver] [--ready-file PATH]\n\n"
            "Runs the service until SIGINT or SIGTERM.\n"
            "  --roles LIST       comma-separated roles (default: all):\n"
            "                       ingest    MQTT -> store\n"
            "                       api       HTTP API, live stream, dashboard and /metrics\n"
            "                                 on api.listen:api.port\n"
            "                       archiver  old raw points -> object store, every\n"
            "                                 archive.interval_s (see `modax archive`)\n"
            "  --ready-file PATH  create PATH once running (with ingest: subscribed to the\n"
            "                     broker; with api: listening), remove it on exit (for\n"
            "                     scripts and supervisors)\n");
}

/* The ROLE_* bits of a comma-separated list; -1 if a name is unknown or the list empty. */
static int parse_roles(const char *roles)
{
    char buf[256];
    char *save = NULL;
    int bits = 0;

    if (strlen(roles) >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, roles, strlen(roles) + 1);
    for (char *r = strtok_r(buf, ",", &save); r != NULL; r = strtok_r(NULL, ",", &save)) {
        if (strcmp(r, "ingest") == 0) {
            bits |= ROLE_INGEST;
        } else if (strcmp(r, "archiver") == 0) {
            bits |= ROLE_ARCHIVER;
        } else if (strcmp(r, "api") == 0) {
            bits |= ROLE_API;
        } else {
            fprintf(stderr,
                    "modax serve: unknown role '%s'; this version has: ingest, api, archiver\n", r);
            return -1;
        }
    }
    return bits != 0 ? bits : -1;
}

/* Waits up to 'ms' or until stopping; returns 1 when stopping. */
static int role_wait(struct archiver_role *a, int64_t ms)
{
    struct timespec until;
    int stop;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    while (!a->stopping && pthread_cond_timedwait(&a->cv, &a->mu, &until) == 0) {
    }
    stop = a->stopping;
    pthread_mutex_unlock(&a->mu);
    return stop;
}

/*
 * One pass with fresh handles, so a store or object store that was down is
 * reopened. Returns the pass's status: MDX_EEXIST when another archiver
 * holds the database's lease.
 */
static int archiver_pass(struct archiver_role *a)
{
    struct cli_conf *conf = a->conf;
    struct mdx_store *st = NULL;
    struct mdx_objstore *os = NULL;
    struct mdx_archiver *ar = NULL;
    struct mdx_archive_stats s;
    int rc = MDX_OK;
    int64_t t0 = mdx_mono_us();

    st = mdx_store_open(&conf->store, &rc);
    if (st == NULL) {
        mdx_log_warn(MOD, "archiver cannot open the store; retrying next interval", MDX_F_ERR(rc));
        return rc;
    }
    os = mdx_objstore_open(&conf->objstore, &rc);
    if (os == NULL) {
        mdx_log_error(MOD, "archiver cannot open the object store; check archive.store.*",
                      MDX_F_STR("kind", conf->objstore.kind), MDX_F_ERR(rc));
        goto out;
    }
    ar = mdx_archiver_create(&conf->archive, st, os);
    if (ar == NULL) {
        goto out;
    }
    pthread_mutex_lock(&a->mu);
    a->ar = a->stopping ? NULL : ar;
    pthread_mutex_unlock(&a->mu);
    if (a->ar == NULL) {
        goto out;
    }
    rc = mdx_archiver_run(ar, NULL, 0, mdx_now_ms(), &s);
    pthread_mutex_lock(&a->mu);
    a->ar = NULL;
    pthread_mutex_unlock(&a->mu);
    if (rc == MDX_OK) {
        mdx_log_info(MOD, "archive pass done", MDX_F_INT("objects", s.objects),
                     MDX_F_INT("points", s.points), MDX_F_INT("bytes", s.bytes),
                     MDX_F_INT("deleted", s.deleted), MDX_F_INT("expired", s.expired),
                     MDX_F_INT("skipped", s.skipped),
                     MDX_F_INT("ms", (mdx_mono_us() - t0) / 1000));
    } else if (rc == MDX_ESTOPPED) {
        mdx_log_info(MOD, "archive pass stopped; the next one finishes it",
                     MDX_F_INT("objects", s.objects));
    } else if (rc == MDX_EEXIST) {
        /* logged by the archiver: another replica works; archiver_main asks again soon */
    } else {
        mdx_log_warn(MOD, "archive pass incomplete; retrying next interval", MDX_F_ERR(rc),
                     MDX_F_INT("objects", s.objects), MDX_F_INT("skipped", s.skipped));
    }

out:
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    return rc;
}

/* Passes every archive.interval_s; while another replica holds the lease, a try every
 * archive.lease_s, so that this one takes over soon after that one dies. */
static void *archiver_main(void *arg)
{
    struct archiver_role *a = arg;
    int64_t wait_s;

    do {
        wait_s = a->conf->archive.interval_s;
        if (archiver_pass(a) == MDX_EEXIST && a->conf->archive.lease_s < wait_s) {
            wait_s = a->conf->archive.lease_s;
        }
    } while (!role_wait(a, wait_s * 1000));
    return NULL;
}

static int archiver_start(struct archiver_role *a, struct cli_conf *conf)
{
    a->conf = conf;
    conf->archive.tier = conf->objstore.archive_tier;
    if (pthread_create(&a->thread, NULL, archiver_main, a) != 0) {
        return MDX_ENOMEM;
    }
    a->started = 1;
    return MDX_OK;
}

static void archiver_stop(struct archiver_role *a)
{
    if (!a->started) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->stopping = 1;
    if (a->ar != NULL) {
        mdx_archiver_stop(a->ar);
    }
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    a->started = 0;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"roles", required_argument, NULL, 'r'},
        {"ready-file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *roles = "ingest,api,archiver", *ready_file = NULL;
    struct archiver_role arch = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct cli_conf conf;
    struct mdx_store *store = NULL;
    struct mdx_engine *engine = NULL;
    struct mdx_dispatch *dispatch = NULL;
    struct mdx_alerting *alerting = NULL;
    struct serve_stages stages = {.n = 0};
    struct mdx_api *api = NULL;
    void *source = NULL;
    sigset_t sigs;
    int rc, sig, ready = 0, status = CLI_FAIL, role_bits, stopped = 0;

    optind = 1;
    while ((rc = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (rc) {
        case 'r': roles = optarg; break;
        case 'f': ready_file = optarg; break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_usage_error(usage);
        }
    }
    role_bits = optind == argc ? parse_roles(roles) : -1;
    if (role_bits < 0) {
        return cli_usage_error(usage);
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

    if (role_bits & ROLE_ARCHIVER) {
        if (archiver_start(&arch, &conf) != MDX_OK) {
            mdx_log_error(MOD, "cannot start the archiver thread");
            goto out;
        }
    }
    if (!(role_bits & ROLE_INGEST)) {
        goto running;
    }
    store = store_open_retrying(&conf, &sigs, &stopped);
    if (store == NULL) {
        status = stopped ? CLI_OK : CLI_FAIL;
        goto out;
    }
    if (ingest_create(&conf, store, &engine, &source) != MDX_OK) {
        goto out;
    }
    if (conf.alerting.detect || conf.alerting.rules) {
        dispatch = mdx_dispatch_create(&conf.sinks, &rc);
        if (dispatch == NULL) {
            mdx_log_error(MOD, "cannot start the alert sinks; check alert.webhook.* and "
                               "alert.alertmanager.*", MDX_F_ERR(rc));
            goto out;
        }
        if (conf.alerting.detector_state_save_s < 0) {
            /* By source: a partitioned one (Kafka, Pub/Sub) hands devices between workers. */
            conf.alerting.detector_state_save_s = strcmp(conf.ingest.source, "mqtt") != 0 ? 30 : 0;
        }
        alerting = mdx_alerting_create(&conf.alerting, store, dispatch, publish, source, &rc);
        if (alerting == NULL) {
            mdx_log_error(MOD, "cannot start alerting; check alert.*", MDX_F_ERR(rc));
            goto out;
        }
    }

running:
    /* Before the engine's writer: with the ingest here, the api's live stage is one of its
     * stages. */
    if (role_bits & ROLE_API) {
        struct mdx_api_deps deps = {.store = &conf.store, .mqtt = &conf.mqtt, .engine = engine,
                                    .alerting = alerting, .dispatch = dispatch,
                                    .ingest_in_process = engine != NULL,
                                    .max_payload_bytes = conf.ingest.max_payload_bytes,
                                    .source_ops = source != NULL ? serve_source : NULL,
                                    .source = source, .command = &conf.command};
        api = mdx_api_start(&conf.api, &deps, &rc);
        if (api == NULL) {
            mdx_log_error(MOD, "cannot start the api; check api.*", MDX_F_ERR(rc));
            goto out;
        }
    }
    if (engine != NULL) {
        struct serve_parts parts = {.conf = &conf, .store = store, .publish = publish,
                                    .publish_arg = source, .dispatch = dispatch,
                                    .alerting = alerting, .api = api};
        if (serve_stages_add(&stages, &parts, engine) != MDX_OK) {
            goto out;
        }
        if (mdx_engine_start(engine) != MDX_OK || serve_source->start(source) != MDX_OK) {
            mdx_log_error(MOD, "cannot start threads");
            goto out;
        }
    }
    mdx_log_info(MOD, "started", MDX_F_STR("roles", roles), MDX_F_STR("store", conf.store.backend),
                 MDX_F_STR("broker", conf.mqtt.host), MDX_F_INT("port", conf.mqtt.port));
    for (;;) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 100000000L};

        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            break;
        }
        if (!ready && ready_file != NULL && (source == NULL || serve_source->ready(source))) {
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
    archiver_stop(&arch);
    if (source != NULL) {
        serve_source->stop(source);
    }
    if (engine != NULL) {
        mdx_engine_stop(engine, DRAIN_MS); /* its writer runs the api's live stage */
    }
    mdx_api_stop(api); /* before the engine and alerting whose counters it reads go */
    if (source != NULL) {
        serve_source->destroy(source);
    }
    mdx_engine_destroy(engine);
    serve_stages_destroy(&stages);
    if (alerting != NULL) {
        struct mdx_alerting_stats as;
        mdx_alerting_stats(alerting, &as);
        mdx_log_info(MOD, "alerting statistics", MDX_F_INT("series", as.series),
                     MDX_F_INT("active", as.alerts_active), MDX_F_INT("opened", as.opened),
                     MDX_F_INT("resolved", as.resolved), MDX_F_INT("reopened", as.reopened),
                     MDX_F_INT("overflow", as.alerts_overflow),
                     MDX_F_INT("published", as.published),
                     MDX_F_INT("publish_dropped", as.publish_dropped));
    }
    mdx_alerting_destroy(alerting);
    mdx_dispatch_destroy(dispatch, SINK_DRAIN_MS);
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
