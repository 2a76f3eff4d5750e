/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - modax-edge: the edge agent for Linux gateways, and the fleet
 * simulator: one process publishes simulated readings for N machines
 * over one MQTT connection.
 *
 * Reads options, allocates everything the agent needs once, runs it until
 * --count/--duration is reached or SIGINT/SIGTERM, then publishes the
 * machines offline and prints a one-line summary to stderr.
 * Exit codes: 0 done, 1 runtime failure, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "modax/status.h"
#include "port_posix.h"

#define EXIT_USAGE 2
#define PASSWORD_MAX 256
#define SLOTS_MAX_BYTES (2ull * 1024 * 1024 * 1024) /* store-and-forward memory limit */
#define CLOSE_WAIT_MS 5000u                         /* for acknowledgements at exit */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct options {
    struct mdx_edge_conf edge;
    const char *host;
    int port;
    const char *client_id;
    const char *username;
    const char *password_file;
    int persistent;
    int log_level;
};

static void usage(FILE *f)
{
    fputs("usage: modax-edge [options]\n"
          "Simulates machines and publishes their readings to MQTT:\n"
          "  modax/{tenant}/{device}/sensor_data (QoS 1), .../status (retained), .../safety\n"
          "\n"
          "Broker:\n"
          "  --host HOST            broker host (127.0.0.1)\n"
          "  --port PORT            broker port (1883)\n"
          "  --client-id ID         MQTT client id (modax-edge-sim-<seed>-<first>)\n"
          "  --username USER        user name\n"
          "  --password-file FILE   file holding the password (first line)\n"
          "  --clean-session        start a clean session each time: what the broker and this\n"
          "                         client had in flight when the connection broke is lost\n"
          "                         (default: persistent session, nothing lost)\n"
          "Fleet:\n"
          "  --tenant T             tenant (demo)\n"
          "  --prefix P             device id prefix (m-): devices m-0001, m-0002, ...\n"
          "  --machines N           machines in this process (20)\n"
          "  --first N              number of the first machine (1), to split a fleet\n"
          "  --seed S               simulation seed (1); same seed, same readings\n"
          "  --life HOURS           simulated machine life until failure (720)\n"
          "  --fault DEV:KIND@S     inject KIND (overheat|spike|bearing|dropout) into DEV\n"
          "                         from simulated second S on; repeatable; @S-E: repaired\n"
          "                         at second E\n"
          "Readings:\n"
          "  --rate HZ              readings per machine per simulated second (1)\n"
          "  --time-scale X         simulated clock runs X times faster (1)\n"
          "  --start-ago SECONDS    simulated clock starts this long before now (0), so a\n"
          "                         compressed run's timestamps stay in the past\n"
          "  --form cloud|field     payload form (cloud)\n"
          "  --batch N              readings per message, as a JSON array (1: single)\n"
          "  --buffer N             readings kept per machine while offline (3600)\n"
          "  --no-safety            don't publish safety messages\n"
          "Run:\n"
          "  --count N              stop after N readings per machine\n"
          "  --duration SECONDS     stop after this many real seconds (0: until signal)\n"
          "  --quiet                only warnings and errors\n"
          "  --verbose              debug messages\n"
          "  --help                 this text\n",
          f);
}

static int bad(const char *opt, const char *value, const char *want)
{
    fprintf(stderr, "modax-edge: --%s '%s': %s (try --help)\n", opt, value, want);
    return -1;
}

static int parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (s[0] == '-' || s[0] == '\0') {
        return bad(opt, s, "expected a non-negative integer");
    }
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) {
        char want[96];
        snprintf(want, sizeof(want), "expected an integer from %llu to %llu",
                 (unsigned long long)lo, (unsigned long long)hi);
        return bad(opt, s, want);
    }
    *out = v;
    return 0;
}

static int parse_u32(const char *opt, const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v;

    if (parse_u64(opt, s, lo, hi, &v) != 0) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
        char want[96];
        snprintf(want, sizeof(want), "expected a number from %g to %g", lo, hi);
        return bad(opt, s, want);
    }
    *out = v;
    return 0;
}

/* DEVICE:KIND[@SECONDS] */
static int parse_fault(const char *s, struct mdx_edge_conf *c)
{
    struct mdx_edge_fault_spec *f;
    const char *colon = strchr(s, ':');
    const char *at;
    char kind[16];
    size_t n;

    if (c->nfaults == MDX_EDGE_MAX_FAULTS) {
        return bad("fault", s, "too many faults");
    }
    f = &c->faults[c->nfaults];
    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(f->device)) {
        return bad("fault", s, "expected DEVICE:KIND@SECONDS, e.g. m-0002:overheat@60");
    }
    memcpy(f->device, s, (size_t)(colon - s));
    f->device[colon - s] = '\0';
    at = strchr(colon + 1, '@');
    n = at != NULL ? (size_t)(at - colon - 1) : strlen(colon + 1);
    if (n == 0 || n >= sizeof(kind)) {
        return bad("fault", s, "kind must be overheat, spike, bearing or dropout");
    }
    memcpy(kind, colon + 1, n);
    kind[n] = '\0';
    f->kind = mdx_sim_fault_parse(kind);
    if (f->kind < 0) {
        return bad("fault", s, "kind must be overheat, spike, bearing or dropout");
    }
    f->at_s = 0;
    f->until_s = -1.0;
    if (at != NULL) {
        /* S or S-E: from second S, repaired at second E. */
        const char *dash = strchr(at + 1, '-');
        char start[32];
        size_t len = dash != NULL ? (size_t)(dash - at - 1) : strlen(at + 1);

        if (len == 0 || len >= sizeof(start)) {
            return bad("fault", s, "expected DEVICE:KIND@SECONDS or @START-END");
        }
        memcpy(start, at + 1, len);
        start[len] = '\0';
        if (parse_double("fault", start, 0, 1e9, &f->at_s) != 0) {
            return -1;
        }
        if (dash != NULL && parse_double("fault", dash + 1, f->at_s, 1e9, &f->until_s) != 0) {
            return -1;
        }
    }
    c->nfaults++;
    return 0;
}

enum {
    OPT_HOST = 256,
    OPT_PORT,
    OPT_CLIENT_ID,
    OPT_USERNAME,
    OPT_PASSWORD_FILE,
    OPT_CLEAN_SESSION,
    OPT_TENANT,
    OPT_PREFIX,
    OPT_MACHINES,
    OPT_FIRST,
    OPT_SEED,
    OPT_LIFE,
    OPT_FAULT,
    OPT_RATE,
    OPT_TIME_SCALE,
    OPT_START_AGO,
    OPT_FORM,
    OPT_BATCH,
    OPT_BUFFER,
    OPT_NO_SAFETY,
    OPT_COUNT,
    OPT_DURATION,
    OPT_QUIET,
    OPT_VERBOSE,
    OPT_HELP
};

static const struct option long_options[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"username", required_argument, NULL, OPT_USERNAME},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"clean-session", no_argument, NULL, OPT_CLEAN_SESSION},
    {"tenant", required_argument, NULL, OPT_TENANT},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"machines", required_argument, NULL, OPT_MACHINES},
    {"first", required_argument, NULL, OPT_FIRST},
    {"seed", required_argument, NULL, OPT_SEED},
    {"life", required_argument, NULL, OPT_LIFE},
    {"fault", required_argument, NULL, OPT_FAULT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"time-scale", required_argument, NULL, OPT_TIME_SCALE},
    {"start-ago", required_argument, NULL, OPT_START_AGO},
    {"form", required_argument, NULL, OPT_FORM},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"buffer", required_argument, NULL, OPT_BUFFER},
    {"no-safety", no_argument, NULL, OPT_NO_SAFETY},
    {"count", required_argument, NULL, OPT_COUNT},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Returns 0 to run, 1 for --help, -1 on a usage error (already reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
    struct mdx_edge_conf *c = &o->edge;
    uint32_t u32;
    double hours;
    int opt, rc = 0;

    mdx_edge_conf_defaults(c);
    o->host = "127.0.0.1";
    o->port = 1883;
    o->log_level = MDX_EDGE_LOG_INFO;
    opterr = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_HOST:
            o->host = optarg;
            break;
        case OPT_PORT:
            rc = parse_u32("port", optarg, 1, 65535, &u32);
            o->port = (int)u32;
            break;
        case OPT_CLIENT_ID:
            o->client_id = optarg;
            break;
        case OPT_USERNAME:
            o->username = optarg;
            break;
        case OPT_PASSWORD_FILE:
            o->password_file = optarg;
            break;
        case OPT_CLEAN_SESSION:
            o->persistent = 0;
            break;
        case OPT_TENANT:
            c->tenant = optarg;
            break;
        case OPT_PREFIX:
            c->prefix = optarg;
            break;
        case OPT_MACHINES:
            rc = parse_u32("machines", optarg, 1, MDX_EDGE_MAX_MACHINES, &c->machines);
            break;
        case OPT_FIRST:
            rc = parse_u32("first", optarg, 0, 99999999, &c->first);
            break;
        case OPT_SEED:
            rc = parse_u64("seed", optarg, 0, UINT64_MAX, &c->seed);
            break;
        case OPT_LIFE:
            rc = parse_double("life", optarg, 0.001, 1e7, &hours);
            c->life_s = hours * 3600.0;
            break;
        case OPT_FAULT:
            rc = parse_fault(optarg, c);
            break;
        case OPT_RATE:
            rc = parse_double("rate", optarg, 0.001, 1000, &c->rate_hz);
            break;
        case OPT_TIME_SCALE:
            rc = parse_double("time-scale", optarg, 0.001, 1e6, &c->time_scale);
            break;
        case OPT_START_AGO:
            rc = parse_double("start-ago", optarg, 0, 1e9, &c->start_ago_s);
            break;
        case OPT_FORM:
            if (strcmp(optarg, "cloud") == 0) {
                c->form = MDX_EDGE_FORM_CLOUD;
            } else if (strcmp(optarg, "field") == 0) {
                c->form = MDX_EDGE_FORM_FIELD;
            } else {
                rc = bad("form", optarg, "expected cloud or field");
            }
            break;
        case OPT_BATCH:
            rc = parse_u32("batch", optarg, 1, MDX_EDGE_MAX_BATCH, &c->batch);
            break;
        case OPT_BUFFER:
            rc = parse_u32("buffer", optarg, 1, 10000000, &c->ring_cap);
            break;
        case OPT_NO_SAFETY:
            c->safety = 0;
            break;
        case OPT_COUNT:
            rc = parse_u64("count", optarg, 1, UINT64_MAX, &c->count);
            break;
        case OPT_DURATION:
            rc = parse_double("duration", optarg, 0, 1e9, &c->duration_s);
            break;
        case OPT_QUIET:
            o->log_level = MDX_EDGE_LOG_WARN;
            break;
        case OPT_VERBOSE:
            o->log_level = MDX_EDGE_LOG_DEBUG;
            break;
        case OPT_HELP:
            return 1;
        default:
            fprintf(stderr, "modax-edge: unknown option or missing value: %s (try --help)\n",
                    argv[optind - 1]);
            return -1;
        }
    }
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "modax-edge: unexpected argument '%s' (try --help)\n", argv[optind]);
        return -1;
    }
    if (rc == 0 &&
        (uint64_t)c->machines * c->ring_cap * sizeof(struct mdx_edge_reading) > SLOTS_MAX_BYTES) {
        fprintf(stderr,
                "modax-edge: --machines x --buffer needs more than %llu MiB; "
                "lower --buffer\n",
                SLOTS_MAX_BYTES >> 20);
        return -1;
    }
    if (rc == 0 && o->password_file != NULL && o->username == NULL) {
        fprintf(stderr, "modax-edge: --password-file needs --username\n");
        return -1;
    }
    return rc;
}

/* Reads the first line of 'path' into 'pw'. Returns 0, or -1 with a message. */
static int read_password(const char *path, char *pw, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "modax-edge: cannot read password file %s: %s\n", path, strerror(errno));
        return -1;
    }
    n = fread(pw, 1, cap - 1, f);
    fclose(f);
    pw[n] = '\0';
    pw[strcspn(pw, "\r\n")] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    static struct options o;
    static struct mdx_edge_agent agent;
    static struct mdx_posix_port pp;
    struct mdx_posix_conf pc = {0};
    struct mdx_edge_unit *units = NULL;
    struct mdx_edge_reading *slots = NULL;
    char *buf = NULL;
    size_t buf_cap;
    char password[PASSWORD_MAX];
    char client_id[96];
    char will_topic[MDX_EDGE_TOPIC_MAX];
    struct sigaction sa;
    int rc, status = 1, port_closed = 0;

    o.persistent = 1; /* unacknowledged readings are resent after a reconnect */
    rc = parse_options(argc, argv, &o);
    if (rc != 0) {
        if (rc > 0) {
            usage(stdout);
            return 0;
        }
        return EXIT_USAGE;
    }
    password[0] = '\0';
    if (o.password_file != NULL && read_password(o.password_file, password, sizeof(password))) {
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* All the memory of the run, once. */
    buf_cap = mdx_edge_agent_buf_size(&o.edge);
    units = calloc(o.edge.machines, sizeof(*units));
    slots = calloc((size_t)o.edge.machines * o.edge.ring_cap, sizeof(*slots));
    buf = malloc(buf_cap);
    if (units == NULL || slots == NULL || buf == NULL) {
        fprintf(stderr,
                "modax-edge: out of memory for %u machines x %u buffered readings; "
                "lower --machines or --buffer\n",
                o.edge.machines, o.edge.ring_cap);
        goto out;
    }

    if (o.client_id == NULL) {
        snprintf(client_id, sizeof(client_id), "modax-edge-sim-%llu-%u",
                 (unsigned long long)o.edge.seed, o.edge.first);
        o.client_id = client_id;
    }
    pc.host = o.host;
    pc.port = o.port;
    pc.client_id = o.client_id;
    pc.username = o.username;
    pc.password = o.password_file != NULL ? password : NULL;
    pc.persistent = o.persistent;
    pc.keepalive_s = 30;
    pc.log_level = o.log_level;
    pc.stop = &stop_flag;
    if (o.edge.machines == 1) {
        /* One device, one connection: the broker can say when it vanishes. */
        snprintf(will_topic, sizeof(will_topic), "modax/%s/%s%04u/status", o.edge.tenant,
                 o.edge.prefix, o.edge.first);
        pc.will_topic = will_topic;
    }

    rc = mdx_posix_port_open(&pp, &pc);
    explicit_bzero(password, sizeof(password));
    if (rc != MDX_OK) {
        goto out;
    }
    rc = mdx_edge_agent_init(&agent, &o.edge, &pp.port, units, slots, buf, buf_cap);
    if (rc != MDX_OK) {
        status = EXIT_USAGE;
        goto out;
    }
    mdx_posix_log(&pp, MDX_EDGE_LOG_INFO, "started");
    mdx_edge_agent_run(&agent);
    mdx_edge_agent_fini(&agent);
    mdx_posix_port_close(&pp, CLOSE_WAIT_MS);
    fprintf(stderr,
            "modax-edge: published=%llu messages=%llu dropped=%llu buffered=%llu failures=%llu "
            "errors=%llu\n",
            (unsigned long long)agent.stats.published_readings,
            (unsigned long long)agent.stats.published_msgs, (unsigned long long)agent.stats.dropped,
            (unsigned long long)mdx_edge_agent_buffered(&agent),
            (unsigned long long)agent.stats.failures,
            (unsigned long long)agent.stats.publish_errors);
    status = 0;
    if (pp.fatal) {
        status = 1;
    } else if (!stop_flag && mdx_edge_agent_buffered(&agent) > 0) {
        fprintf(stderr, "modax-edge: readings left undelivered; is the broker at %s:%d up?\n",
                o.host, o.port);
        status = 1;
    }
    port_closed = 1;

out:
    if (!port_closed) {
        mdx_posix_port_close(&pp, 0);
    }
    free(units);
    free(slots);
    free(buf);
    return status;
}
