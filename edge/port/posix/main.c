/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - modax-edge: the edge agent for Linux gateways, and the fleet
 * simulator: one process publishes simulated readings for N machines
 * over one MQTT connection (or, with --secrets / --cert-dir, one per
 * machine, each as its own device), and answers the commands sent to them.
 *
 * Reads options, allocates everything the agent needs once, runs it until
 * --count/--duration is reached or SIGINT/SIGTERM, then publishes the
 * machines offline and prints a one-line summary to stderr.
 * Exit codes: 0 done, 1 runtime failure, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "fleet_ids.h"
#include "histories.h"
#include "modax/status.h"
#include "port_posix.h"

#define EXIT_USAGE 2
#define PASSWORD_MAX 256
#define SLOTS_MAX_BYTES (2ull * 1024 * 1024 * 1024) /* store-and-forward memory limit */
#define CLOSE_WAIT_MS 5000u                         /* for acknowledgements at exit */
#define ENDPOINTS_MAX 8

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
    const char *histories;    /* write run-to-failure histories here instead of publishing */
    uint32_t lives;           /* ... this many lives per machine */
    uint32_t row_s;           /* ... one row per this many seconds */
    const char *secrets_file; /* per-machine connections with these secrets */
    const char *cert_dir;     /* ... or with these client certificates */
    const char *cafile;
    const char *certfile;
    const char *keyfile;
    int persistent;
    int log_level;
    int commands; /* subscribe to the machines' commands topics */
    struct mdx_posix_endpoint endpoints[ENDPOINTS_MAX];
    char endpoint_hosts[ENDPOINTS_MAX][256];
    uint32_t nendpoints;
    uint32_t failover_after;
    uint32_t health_timeout_ms;
    uint32_t primary_probe_ms;
    const char *profile_name; /* connection profile (mqtt) */
    const char *hub;          /* azure-iot-hub: the hub's name */
    const char *alpn;         /* TLS ALPN protocol; NULL: the profile's on its ALPN port */
    const char *device_key_file; /* azure-iot-hub: the device's base64 key (SAS tokens) */
    uint32_t sas_ttl_s;
    int retain_granted;       /* aws-iot: the policy grants iot:RetainPublish */
    const char *outbox;       /* persistent outbox file; NULL: readings wait in RAM */
    uint32_t outbox_readings; /* its size: readings per machine */
};

static void usage(FILE *f)
{
    fputs("usage: modax-edge [options]\n"
          "Simulates machines and publishes their readings to MQTT:\n"
          "  modax/{tenant}/{device}/sensor_data (QoS 1), .../status (retained), .../safety\n"
          "and answers commands sent to each machine (QoS 1) on\n"
          "  modax/{tenant}/{device}/commands   {\"command_id\":42,\"name\":\"speed_pct\",\"value\":80}\n"
          "with modax/{tenant}/{device}/command_ack (QoS 1):\n"
          "  {\"device_id\":..,\"command_id\":42,\"status\":\"ok\"}, or \"rejected\" with a \"detail\"\n"
          "Commands: speed_pct 0..100 (% of the press cycle's load; currents, vibration and\n"
          "temperature follow). The machine's interlock rejects values out of range, unknown\n"
          "names and every command while its emergency stop is active (--fault DEV:estop@S),\n"
          "its door is open, its motor is overloaded or its temperature is not OK;\n"
          "a malformed command is rejected if its command_id is readable, else ignored.\n"
          "\n"
          "Broker:\n"
          "  --profile NAME         how to connect: mqtt (our broker; default), aws-iot (AWS IoT\n"
          "                         Core: TLS 1.2, device certificate, client id = thing name =\n"
          "                         device id, ALPN x-amzn-mqtt-ca on port 443) or azure-iot-hub\n"
          "                         (user name {hub}.azure-devices.net/{device}/?api-version=..,\n"
          "                         SAS token from the device key, or an X.509 certificate;\n"
          "                         telemetry on devices/{device}/messages/events/, commands as\n"
          "                         direct methods or cloud-to-device messages)\n"
          "  --hub NAME             azure-iot-hub: the hub's name (NAME.azure-devices.net)\n"
          "  --device-key-file F    azure-iot-hub: the device's primary key (base64, first line);\n"
          "                         with --secrets each machine's secret is its key instead\n"
          "  --sas-ttl SECONDS      azure-iot-hub: SAS token lifetime (3600), renewed before\n"
          "                         it expires (the session reconnects with the new one)\n"
          "  --alpn PROTO           TLS ALPN protocol to offer (default: the profile's on its\n"
          "                         port, x-amzn-mqtt-ca on 443 for aws-iot)\n"
          "  --retain-granted       aws-iot: the thing's policy grants iot:RetainPublish (the one\n"
          "                         `modax policy render` makes does not): retain status and Will\n"
          "  --host HOST            broker host (127.0.0.1)\n"
          "  --port PORT            broker port (the profile's: 1883, 8883)\n"
          "  --client-id ID         MQTT client id (modax-edge-sim-<seed>-<first>)\n"
          "  --username USER        user name\n"
          "  --password-file FILE   file holding the password (first line)\n"
          "  --clean-session        start a clean session each time: what the broker and this\n"
          "                         client had in flight when the connection broke is lost\n"
          "                         (default: persistent session, nothing lost)\n"
          "  --endpoint HOST:PORT   a broker, in order of preference; repeat for failover\n"
          "                         between regions (instead of --host/--port)\n"
          "  --failover-after N     move to the next endpoint after N failed attempts (3)\n"
          "  --health-timeout MS    ... or when a message waits this long for its PUBACK (10000)\n"
          "  --primary-probe S      while away, check the first endpoint every S seconds and\n"
          "                         move back once it answers (30)\n"
          "  --cafile FILE          TLS: verify the broker against this CA certificate\n"
          "  --cert FILE --key FILE TLS: this client certificate and key (mutual TLS)\n"
          "Per-machine connections (each machine its own device identity at the broker:\n"
          "client id = user name = device id, as the MODAX auth plugin requires):\n"
          "  --secrets FILE         lines \"DEVICE SECRET\" ('#' comments); the file must not\n"
          "                         be readable by others; every machine needs a line\n"
          "  --cert-dir DIR         client certificates DIR/DEVICE.crt and DIR/DEVICE.key\n"
          "                         (modax device add ... --cert --out DIR); needs --cafile\n"
          "Fleet:\n"
          "  --tenant T             tenant (demo)\n"
          "  --prefix P             device id prefix (m-): devices m-0001, m-0002, ...\n"
          "  --machines N           machines in this process (20)\n"
          "  --first N              number of the first machine (1), to split a fleet\n"
          "  --seed S               simulation seed (1); same seed, same readings\n"
          "  --life HOURS           simulated machine life until failure (720): wear grows,\n"
          "                         vibration and temperature creep up, then the machine\n"
          "                         fails and publishes .../status {\"state\":\"failed\",\n"
          "                         \"timestamp\":T,\"failures\":N} (the store keeps it as an\n"
          "                         event), and a new machine replaces it (\"online\"; a new\n"
          "                         life after T). Machines start part-worn (0-50%). With\n"
          "                         --time-scale the lives are short, e.g. --life 0.5\n"
          "                         --time-scale 600: a life every 3 real seconds or less\n"
          "  --fault DEV:KIND@S     inject KIND (overheat|spike|bearing|dropout|estop|drag) into\n"
          "                         DEV from simulated second S on; repeatable; @S-E: repaired\n"
          "                         at second E (estop: the emergency stop is pressed, the\n"
          "                         press stands still and refuses commands; drag: the motor\n"
          "                         current rises by 2.5 A while vibration does not); a suffix\n"
          "                         xP makes it develop P times faster (m-0009:bearing@60x10)\n"
          "Readings:\n"
          "  --rate HZ              readings per machine per simulated second (1)\n"
          "  --time-scale X         simulated clock runs X times faster (1)\n"
          "  --start-ago SECONDS    simulated clock starts this long before now (0), so a\n"
          "                         compressed run's timestamps stay in the past\n"
          "  --form cloud|field     payload form (cloud)\n"
          "  --batch N              readings per message, as a JSON array (1: single)\n"
          "  --buffer N             readings kept per machine while offline (3600)\n"
          "  --no-safety            don't publish safety messages\n"
          "Store-and-forward that survives power cuts and restarts:\n"
          "  --outbox FILE          keep readings in FILE until the broker acknowledged them\n"
          "                         (instead of --buffer in RAM); after a reconnect or a\n"
          "                         restart the backlog goes out oldest first, in arrays,\n"
          "                         while new readings go out at once. When full, the oldest\n"
          "                         are dropped, counted and reported as status \"gap\".\n"
          "                         A file of another device or a newer format is refused\n"
          "  --outbox-readings N    its size in readings per machine (36000: an hour at 10 Hz)\n"
          "  --backfill-rate N      backlog readings sent per second, all machines (2000; 0: no cap)\n"
          "  --drain                make no readings: deliver what the outbox holds, then exit\n"
          "  --no-commands          don't subscribe to commands\n"
          "Training data (no broker):\n"
          "  --histories FILE       run the machines (--machines, --first, --seed, --life,\n"
          "                         --rate; no faults) to failure --lives times each as fast\n"
          "                         as possible and write their histories to FILE as CSV for\n"
          "                         `modax train --format csv`: one row per --row seconds of\n"
          "                         each life (asset DEVICE.lifeN), the mean of each sensor,\n"
          "                         as `modax rul export` makes them from stored readings;\n"
          "                         deterministic, then exit\n"
          "  --lives N              lives per machine for --histories (3)\n"
          "  --row SECONDS          row length for --histories (60: rul.row_interval_s)\n"
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

/* HOST:PORT, appended to the endpoint list. */
static int parse_endpoint(const char *s, struct options *o)
{
    const char *colon = strrchr(s, ':');
    uint32_t port;
    size_t n;

    if (o->nendpoints == ENDPOINTS_MAX) {
        return bad("endpoint", s, "at most 8 endpoints");
    }
    n = colon != NULL ? (size_t)(colon - s) : 0;
    if (n == 0 || n >= sizeof(o->endpoint_hosts[0])) {
        return bad("endpoint", s, "expected HOST:PORT");
    }
    if (parse_u32("endpoint", colon + 1, 1, 65535, &port) != 0) {
        return -1;
    }
    memcpy(o->endpoint_hosts[o->nendpoints], s, n);
    o->endpoint_hosts[o->nendpoints][n] = '\0';
    o->endpoints[o->nendpoints].host = o->endpoint_hosts[o->nendpoints];
    o->endpoints[o->nendpoints].port = (int)port;
    o->nendpoints++;
    return 0;
}

/* DEVICE:KIND[@START[-END]][xPACE] */
static int parse_fault(const char *s, struct mdx_edge_conf *c)
{
    static const char kinds[] = "kind must be overheat, spike, bearing, dropout, estop or drag";
    struct mdx_edge_fault_spec *f;
    const char *colon = strchr(s, ':');
    const char *at, *pace;
    char kind[16], when[64];
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
    pace = strchr(colon + 1, 'x');
    at = strchr(colon + 1, '@');
    if (at != NULL && pace != NULL && pace < at) {
        at = NULL; /* an 'x' in the kind: refused below as an unknown kind */
    }
    n = at != NULL ? (size_t)(at - colon - 1)
                   : (pace != NULL ? (size_t)(pace - colon - 1) : strlen(colon + 1));
    if (n == 0 || n >= sizeof(kind)) {
        return bad("fault", s, kinds);
    }
    memcpy(kind, colon + 1, n);
    kind[n] = '\0';
    f->kind = mdx_sim_fault_parse(kind);
    if (f->kind < 0) {
        return bad("fault", s, kinds);
    }
    f->at_s = 0;
    f->until_s = -1.0;
    f->pace = 1.0;
    if (pace != NULL && parse_double("fault", pace + 1, 0.001, 1e6, &f->pace) != 0) {
        return -1;
    }
    if (at != NULL) {
        /* S or S-E: from second S, repaired at second E. */
        size_t len = pace != NULL ? (size_t)(pace - at - 1) : strlen(at + 1);
        char *dash;

        if (len == 0 || len >= sizeof(when)) {
            return bad("fault", s, "expected DEVICE:KIND@SECONDS or @START-END");
        }
        memcpy(when, at + 1, len);
        when[len] = '\0';
        dash = strchr(when, '-');
        if (dash != NULL) {
            *dash = '\0';
        }
        if (parse_double("fault", when, 0, 1e9, &f->at_s) != 0) {
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
    OPT_SECRETS,
    OPT_CERT_DIR,
    OPT_CAFILE,
    OPT_CERT,
    OPT_KEY,
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
    OPT_ENDPOINT,
    OPT_FAILOVER_AFTER,
    OPT_HEALTH_TIMEOUT,
    OPT_PRIMARY_PROBE,
    OPT_PROFILE,
    OPT_HUB,
    OPT_DEVICE_KEY_FILE,
    OPT_SAS_TTL,
    OPT_RETAIN_GRANTED,
    OPT_ALPN,
    OPT_OUTBOX,
    OPT_OUTBOX_READINGS,
    OPT_BACKFILL_RATE,
    OPT_DRAIN,
    OPT_NO_COMMANDS,
    OPT_COUNT,
    OPT_DURATION,
    OPT_HISTORIES,
    OPT_LIVES,
    OPT_ROW,
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
    {"secrets", required_argument, NULL, OPT_SECRETS},
    {"cert-dir", required_argument, NULL, OPT_CERT_DIR},
    {"cafile", required_argument, NULL, OPT_CAFILE},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
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
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"failover-after", required_argument, NULL, OPT_FAILOVER_AFTER},
    {"health-timeout", required_argument, NULL, OPT_HEALTH_TIMEOUT},
    {"primary-probe", required_argument, NULL, OPT_PRIMARY_PROBE},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"hub", required_argument, NULL, OPT_HUB},
    {"device-key-file", required_argument, NULL, OPT_DEVICE_KEY_FILE},
    {"sas-ttl", required_argument, NULL, OPT_SAS_TTL},
    {"retain-granted", no_argument, NULL, OPT_RETAIN_GRANTED},
    {"alpn", required_argument, NULL, OPT_ALPN},
    {"outbox", required_argument, NULL, OPT_OUTBOX},
    {"outbox-readings", required_argument, NULL, OPT_OUTBOX_READINGS},
    {"backfill-rate", required_argument, NULL, OPT_BACKFILL_RATE},
    {"drain", no_argument, NULL, OPT_DRAIN},
    {"no-commands", no_argument, NULL, OPT_NO_COMMANDS},
    {"count", required_argument, NULL, OPT_COUNT},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"histories", required_argument, NULL, OPT_HISTORIES},
    {"lives", required_argument, NULL, OPT_LIVES},
    {"row", required_argument, NULL, OPT_ROW},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* The broker identity options go together. 0, or -1 with a message. */
static int check_identity_options(const struct options *o)
{
    const char *why = NULL;

    if (o->secrets_file != NULL && o->cert_dir != NULL) {
        why = "--secrets and --cert-dir exclude each other";
    } else if ((o->secrets_file != NULL || o->cert_dir != NULL) &&
               (o->client_id != NULL || o->username != NULL || o->password_file != NULL ||
                o->certfile != NULL || o->keyfile != NULL)) {
        why = "--secrets/--cert-dir name each machine's identity: no --client-id, --username, "
              "--password-file, --cert or --key";
    } else if ((o->certfile != NULL) != (o->keyfile != NULL)) {
        why = "--cert and --key go together";
    } else if ((o->certfile != NULL || o->cert_dir != NULL) && o->cafile == NULL) {
        why = "a client certificate needs --cafile (TLS)";
    } else if ((o->secrets_file != NULL || o->cert_dir != NULL) &&
               o->edge.machines > MDX_POSIX_MAX_CONNS) {
        why = "at most 500 machines per process with one connection each; use --first to split";
    }
    if (why != NULL) {
        fprintf(stderr, "modax-edge: %s (try --help)\n", why);
        return -1;
    }
    return 0;
}

/* The connection profile and the options it needs. 0, or -1 with a message. */
static int check_profile(struct options *o)
{
    const struct mdx_edge_profile *pr = mdx_edge_profile_find(o->profile_name != NULL
                                                                   ? o->profile_name
                                                                   : "mqtt");
    int per_machine = o->secrets_file != NULL || o->cert_dir != NULL;
    int certificate = o->certfile != NULL || o->cert_dir != NULL;
    const char *why = NULL;
    char names[64];

    if (pr == NULL) {
        mdx_edge_profile_names(names, sizeof(names));
        return bad("profile", o->profile_name, names);
    }
    o->edge.profile = pr;
    o->edge.link.tenant = o->edge.tenant;
    o->edge.link.form = o->edge.form == MDX_EDGE_FORM_FIELD ? "field" : "cloud";
    o->edge.link.hub = o->hub;
    o->edge.link.sas_ttl_s = o->sas_ttl_s;
    o->edge.link.retain_granted = o->retain_granted;
    if (o->port == 0) {
        o->port = pr->port;
    }
    if (pr == &mdx_edge_profile_mqtt) {
        if (o->hub != NULL || o->device_key_file != NULL || o->sas_ttl_s != 0 ||
            o->retain_granted) {
            why = "--hub, --device-key-file, --sas-ttl and --retain-granted belong to other "
                  "profiles";
        }
    } else if (o->cafile == NULL) {
        why = "this profile needs TLS: give --cafile (the service's root CA)";
    } else if (o->client_id != NULL || o->username != NULL || o->password_file != NULL) {
        why = "the profile makes the client id, user name and password: no --client-id, "
              "--username or --password-file";
    } else if (!per_machine && o->edge.machines != 1) {
        why = "one connection is one device here: --machines 1, or --secrets/--cert-dir";
    } else if (pr == &mdx_edge_profile_aws_iot && !certificate) {
        why = "aws-iot: the device certificate is needed (--cert/--key or --cert-dir)";
    } else if (pr == &mdx_edge_profile_azure &&
               (o->hub == NULL || o->hub[0] == '\0' || strchr(o->hub, '.') != NULL ||
                strchr(o->hub, '/') != NULL)) {
        why = "azure-iot-hub: --hub NAME is needed (the name only, without .azure-devices.net)";
    } else if (pr == &mdx_edge_profile_azure &&
               (o->device_key_file != NULL) + (o->secrets_file != NULL) + certificate != 1) {
        why = "azure-iot-hub: one of --device-key-file (one machine), --secrets (device keys) "
              "or a certificate (--cert/--key, --cert-dir)";
    } else if (pr == &mdx_edge_profile_aws_iot && (o->device_key_file != NULL || o->hub != NULL)) {
        why = "aws-iot: --hub and --device-key-file are for azure-iot-hub";
    }
    if (why != NULL) {
        fprintf(stderr, "modax-edge: --profile %s: %s (try --help)\n", pr->name, why);
        return -1;
    }
    return 0;
}

/* Returns 0 to run, 1 for --help, -1 on a usage error (already reported). */
static int parse_options(int argc, char **argv, struct options *o)
{
    struct mdx_edge_conf *c = &o->edge;
    uint32_t u32;
    double hours;
    int opt, rc = 0;

    mdx_edge_conf_defaults(c);
    o->host = "127.0.0.1";
    o->port = 0; /* the profile's */
    o->log_level = MDX_EDGE_LOG_INFO;
    o->commands = 1;
    o->outbox_readings = 36000;
    o->failover_after = 3;
    o->health_timeout_ms = 10000;
    o->primary_probe_ms = 30000;
    c->backfill_rate = 2000;
    opterr = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_HOST:
            o->host = optarg;
            break;
        case OPT_PROFILE:
            o->profile_name = optarg;
            break;
        case OPT_HUB:
            o->hub = optarg;
            break;
        case OPT_DEVICE_KEY_FILE:
            o->device_key_file = optarg;
            break;
        case OPT_SAS_TTL:
            rc = parse_u32("sas-ttl", optarg, 10, 365u * 24 * 3600, &o->sas_ttl_s);
            break;
        case OPT_RETAIN_GRANTED:
            o->retain_granted = 1;
            break;
        case OPT_ALPN:
            o->alpn = optarg;
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
        case OPT_SECRETS:
            o->secrets_file = optarg;
            break;
        case OPT_CERT_DIR:
            o->cert_dir = optarg;
            break;
        case OPT_CAFILE:
            o->cafile = optarg;
            break;
        case OPT_CERT:
            o->certfile = optarg;
            break;
        case OPT_KEY:
            o->keyfile = optarg;
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
        case OPT_ENDPOINT:
            rc = parse_endpoint(optarg, o);
            break;
        case OPT_FAILOVER_AFTER:
            rc = parse_u32("failover-after", optarg, 1, 1000, &o->failover_after);
            break;
        case OPT_HEALTH_TIMEOUT:
            rc = parse_u32("health-timeout", optarg, 0, 3600000, &o->health_timeout_ms);
            break;
        case OPT_PRIMARY_PROBE:
            rc = parse_double("primary-probe", optarg, 0, 86400, &hours);
            o->primary_probe_ms = (uint32_t)(hours * 1000.0);
            break;
        case OPT_OUTBOX:
            o->outbox = optarg;
            break;
        case OPT_OUTBOX_READINGS:
            rc = parse_u32("outbox-readings", optarg, 1, 100000000, &o->outbox_readings);
            break;
        case OPT_BACKFILL_RATE:
            rc = parse_u32("backfill-rate", optarg, 0, 10000000, &c->backfill_rate);
            break;
        case OPT_DRAIN:
            c->drain_only = 1;
            break;
        case OPT_NO_COMMANDS:
            o->commands = 0;
            break;
        case OPT_COUNT:
            rc = parse_u64("count", optarg, 1, UINT64_MAX, &c->count);
            break;
        case OPT_DURATION:
            rc = parse_double("duration", optarg, 0, 1e9, &c->duration_s);
            break;
        case OPT_HISTORIES:
            o->histories = optarg;
            break;
        case OPT_LIVES:
            rc = parse_u32("lives", optarg, 1, 1000, &o->lives);
            break;
        case OPT_ROW:
            rc = parse_u32("row", optarg, 1, 86400, &o->row_s);
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
    if (rc == 0 && c->drain_only && o->outbox == NULL) {
        fprintf(stderr, "modax-edge: --drain needs --outbox\n");
        return -1;
    }
    if (rc == 0 && o->outbox != NULL) {
        c->ring_cap = 1; /* readings wait in the outbox, not in RAM */
    }
    if (rc == 0 && o->password_file != NULL && o->username == NULL) {
        fprintf(stderr, "modax-edge: --password-file needs --username\n");
        return -1;
    }
    if (rc == 0) {
        rc = check_profile(o);
    }
    return rc == 0 ? check_identity_options(o) : rc;
}

/* The inbox of the port: the agent's commands topics, and messages to the agent. */
static int inbox_topic(void *arg, uint32_t unit, uint32_t k, char *buf, size_t cap)
{
    return mdx_edge_agent_subscription(arg, unit, k, buf, cap);
}

static void inbox_deliver(void *arg, uint32_t unit, const char *topic, const void *payload,
                          size_t len)
{
    mdx_edge_agent_command(arg, unit, topic, payload, len);
}

static void inbox_acked(void *arg, uint32_t unit, uint32_t token)
{
    mdx_edge_agent_acked(arg, unit, token);
}

/* What the port's credentials callback needs: the agent, and the device keys (azure-iot-hub). */
struct credentials {
    struct mdx_edge_agent *agent;
    const struct mdx_edge_port *port;
    uint8_t (*keys)[MDX_EDGE_KEY_MAX]; /* one per machine; NULL: none (certificates) */
    size_t *key_len;
};

/* port_posix.h credentials: the profile's user name and password of machine 'unit'. */
static int make_credentials(void *arg, uint32_t unit, char *user, size_t ucap, char *pass,
                            size_t pcap, int64_t *renew_at_s)
{
    const struct credentials *cr = arg;
    const struct mdx_edge_agent *a = cr->agent;
    const struct mdx_edge_profile *pr = a->conf.profile;
    const char *device = a->units[unit].device_id;
    char client_id[MDX_EDGE_DEVICE_ID_MAX];
    int n;

    *renew_at_s = 0;
    pass[0] = '\0';
    if (pr->identity(&a->conf.link, device, client_id, sizeof(client_id), user, ucap) != 0) {
        return -1;
    }
    if (pr->password == NULL || cr->keys == NULL) {
        return 0;
    }
    n = pr->password(&a->conf.link, cr->port, device, cr->keys[unit], cr->key_len[unit],
                     (int64_t)time(NULL), pass, pcap, renew_at_s);
    return n > 0 ? 0 : -1;
}

/* Decodes the base64 device key 's' into key 'i' of 'cr'. 0, or -1 with a message. */
static int set_key(struct credentials *cr, uint32_t i, const char *s, const char *where)
{
    int n = mdx_edge_unbase64(s, cr->keys[i], MDX_EDGE_KEY_MAX);

    if (n <= 0) {
        fprintf(stderr, "modax-edge: %s: the device key is not base64 (at most %d bytes)\n", where,
                MDX_EDGE_KEY_MAX);
        return -1;
    }
    cr->key_len[i] = (size_t)n;
    return 0;
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

/* --histories: the file, then exit 0, or 1 with a message. */
static int write_histories(const struct options *o)
{
    FILE *f = fopen(o->histories, "w");
    int64_t rows;

    if (f == NULL) {
        fprintf(stderr, "modax-edge: cannot write %s: %s\n", o->histories, strerror(errno));
        return 1;
    }
    rows = mdx_edge_histories_write(f, &o->edge, o->lives, o->row_s);
    if (fclose(f) != 0 || rows < 0) {
        fprintf(stderr, "modax-edge: cannot write %s: %s\n", o->histories, strerror(errno));
        return 1;
    }
    if (o->log_level >= MDX_EDGE_LOG_INFO) {
        fprintf(stderr, "modax-edge: %" PRId64 " rows of %u machines x %u lives in %s\n", rows,
                (unsigned)o->edge.machines, (unsigned)o->lives, o->histories);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct options o;
    static struct mdx_edge_agent agent;
    static struct mdx_posix_port pp;
    static struct fleet_ids ids;
    struct mdx_posix_conf pc = {0};
    struct mdx_edge_unit *units = NULL;
    struct mdx_edge_reading *slots = NULL;
    char *buf = NULL;
    size_t buf_cap;
    char password[PASSWORD_MAX];
    char client_id[96];
    char will_topic[MDX_EDGE_TOPIC_MAX];
    char user[MDX_EDGE_USER_MAX];
    struct credentials cr = {&agent, &pp.port, NULL, NULL};
    struct sigaction sa;
    int rc, status = 1, port_closed = 0;

    o.persistent = 1; /* unacknowledged readings are resent after a reconnect */
    o.lives = 3;
    o.row_s = 60;
    rc = parse_options(argc, argv, &o);
    if (rc != 0) {
        if (rc > 0) {
            usage(stdout);
            return 0;
        }
        return EXIT_USAGE;
    }
    if (o.histories != NULL) {
        return write_histories(&o);
    }
    password[0] = '\0';
    if (o.password_file != NULL && read_password(o.password_file, password, sizeof(password))) {
        return 1;
    }
    if ((o.secrets_file != NULL || o.cert_dir != NULL) &&
        fleet_ids_load(&ids, &o.edge, o.secrets_file, o.cert_dir) != 0) {
        fleet_ids_free(&ids);
        return 1;
    }
    if (o.device_key_file != NULL || (o.edge.profile->password != NULL && o.secrets_file != NULL)) {
        /* azure-iot-hub: SAS tokens are made from the device keys, at each connect. */
        cr.keys = calloc(o.edge.machines, sizeof(*cr.keys));
        cr.key_len = calloc(o.edge.machines, sizeof(*cr.key_len));
        if (cr.keys == NULL || cr.key_len == NULL) {
            fprintf(stderr, "modax-edge: out of memory for the device keys\n");
            rc = -1;
        } else if (o.device_key_file != NULL) {
            rc = read_password(o.device_key_file, password, sizeof(password)) != 0 ||
                 set_key(&cr, 0, password, o.device_key_file) != 0;
        } else {
            rc = 0;
            for (uint32_t i = 0; i < ids.n && rc == 0; i++) {
                rc = set_key(&cr, i, ids.secret[i], ids.device[i]);
            }
        }
        explicit_bzero(password, sizeof(password));
        if (rc != 0) {
            fleet_ids_free(&ids);
            free(cr.keys);
            free(cr.key_len);
            return 1;
        }
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

    if (o.edge.profile != &mdx_edge_profile_mqtt) {
        /* The profile's identity (one machine; with --secrets/--cert-dir, per machine). */
        char id[MDX_EDGE_DEVICE_ID_MAX];

        snprintf(id, sizeof(id), "%s%04u", o.edge.prefix, o.edge.first);
        if (o.edge.profile->identity(&o.edge.link, id, client_id, sizeof(client_id), user,
                                     sizeof(user)) != 0) {
            fprintf(stderr, "modax-edge: --profile %s: device id or hub name too long\n",
                    o.edge.profile->name);
            goto out;
        }
        o.client_id = client_id;
        pc.credentials = make_credentials;
        pc.credentials_arg = &cr;
        pc.tls12 = o.edge.profile->tls12;
        if (o.edge.profile->alpn != NULL && o.port == o.edge.profile->alpn_port) {
            pc.alpn = o.edge.profile->alpn;
        }
    }
    if (o.alpn != NULL) {
        pc.alpn = o.alpn;
    }
    pc.will_retain = o.edge.profile->may_retain(&o.edge.link);
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
    pc.cafile = o.cafile;
    pc.certfile = o.certfile;
    pc.keyfile = o.keyfile;
    pc.idents = ids.idents;
    pc.nidents = ids.n;
    pc.outbox_path = o.outbox;
    pc.endpoints = o.endpoints;
    pc.nendpoints = o.nendpoints;
    pc.failover_after = o.failover_after;
    pc.health_timeout_ms = o.health_timeout_ms;
    pc.primary_probe_ms = o.primary_probe_ms;
    pc.outbox_bytes = mdx_edge_outbox_size(o.edge.machines, o.outbox_readings);
    if (o.edge.machines == 1) {
        /* One device, one connection: the broker can say when it vanishes. */
        char id[MDX_EDGE_DEVICE_ID_MAX];

        snprintf(id, sizeof(id), "%s%04u", o.edge.prefix, o.edge.first);
        if (o.edge.profile->topic(&o.edge.link, id, "status", will_topic, sizeof(will_topic)) ==
            0) {
            pc.will_topic = will_topic;
        }
    }

    rc = mdx_posix_port_open(&pp, &pc);
    explicit_bzero(password, sizeof(password));
    fleet_ids_wipe(&ids); /* libmosquitto has its copies */
    if (rc != MDX_OK) {
        goto out;
    }
    rc = mdx_edge_agent_init(&agent, &o.edge, &pp.port, units, slots, buf, buf_cap);
    if (rc != MDX_OK) {
        status = rc == MDX_EINVAL && pp.outbox_fd < 0 ? EXIT_USAGE : 1;
        goto out;
    }
    {
        struct mdx_posix_inbox inbox = {&agent, o.commands ? inbox_topic : NULL,
                                        o.commands ? inbox_deliver : NULL, inbox_acked};

        mdx_posix_port_inbox(&pp, &inbox);
    }
    mdx_posix_log(&pp, MDX_EDGE_LOG_INFO, "started");
    mdx_edge_agent_run(&agent);
    mdx_edge_agent_fini(&agent);
    mdx_posix_port_wait_acked(&pp, CLOSE_WAIT_MS);
    mdx_edge_agent_checkpoint(&agent); /* what was acknowledged while closing */
    mdx_posix_port_close(&pp, 0);
    fprintf(stderr,
            "modax-edge: generated=%llu published=%llu messages=%llu dropped=%llu buffered=%llu failures=%llu "
            "errors=%llu commands=%llu applied=%llu rejected=%llu ignored=%llu backfilled=%llu "
            "backfill_msgs=%llu acked=%llu failovers=%llu\n",
            (unsigned long long)agent.stats.generated,
            (unsigned long long)agent.stats.published_readings,
            (unsigned long long)agent.stats.published_msgs, (unsigned long long)agent.stats.dropped,
            (unsigned long long)mdx_edge_agent_buffered(&agent),
            (unsigned long long)agent.stats.failures,
            (unsigned long long)agent.stats.publish_errors,
            (unsigned long long)agent.stats.commands,
            (unsigned long long)agent.stats.commands_applied,
            (unsigned long long)agent.stats.commands_rejected,
            (unsigned long long)agent.stats.commands_ignored,
            (unsigned long long)agent.stats.backfilled,
            (unsigned long long)agent.stats.backfill_msgs,
            (unsigned long long)agent.stats.acked_readings, (unsigned long long)pp.failovers);
    status = 0;
    if (pp.fatal) {
        status = 1;
    } else if (!stop_flag && mdx_edge_agent_buffered(&agent) > 0) {
        fprintf(stderr, "modax-edge: readings left undelivered%s%s%s; is the broker at %s:%d up?\n",
                o.outbox != NULL ? " (kept in the outbox " : "", o.outbox != NULL ? o.outbox : "",
                o.outbox != NULL ? ")" : "", o.host, o.port);
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
    fleet_ids_free(&ids);
    if (cr.keys != NULL) {
        explicit_bzero(cr.keys, (size_t)o.edge.machines * sizeof(*cr.keys));
    }
    free(cr.keys);
    free(cr.key_len);
    return status;
}
