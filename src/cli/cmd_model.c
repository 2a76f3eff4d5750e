/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_model.c - `modax model list|show|activate|register|threshold` (the
 * RUL model registry, issue 7) and `modax rul` (the live predictions the
 * serve's RUL stage stored). export (ONNX) is cmd_model_export.c.
 *
 * register loads the model (mdx_rul_model_load: XGBoost JSON with its
 * manifest) and refuses one whose feature specification the live pipeline
 * cannot produce: an invalid specification, or an input that is not a
 * sensor any device has sent (the sensors in the store).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_rul.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/rul.h"
#include "modax/status.h"

#define SENSORS_MAX 4096 /* distinct sensor names collected for the input check */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax model list\n"
            "       modax model show VERSION\n"
            "       modax model register PATH\n"
            "       modax model activate VERSION [--tenant T]\n"
            "       modax model threshold TENANT [CYCLES|clear]\n"
            "       modax model export --onnx FILE [MODEL] (see modax model export --help)\n\n"
            "RUL models trained by `modax train`: PATH is MODEL.json (XGBoost JSON) with\n"
            "MODEL.manifest.json next to it; the version is the manifest's. register\n"
            "refuses a model the live pipeline cannot serve: an input that is not a sensor\n"
            "the devices send, a window beyond %d rows, an invalid specification.\n"
            "activate makes the version serve a tenant, or every tenant without their own\n"
            "(no --tenant); `modax serve` picks it up within rul.model_poll_s, no restart.\n"
            "threshold sets a tenant's alert threshold (RUL below it alerts); clear falls\n"
            "back to rul.threshold_cycles.\n",
            MDX_RUL_WINDOW_MAX);
}

static void usage_rul(FILE *out)
{
    fprintf(out, "usage: modax rul TENANT [DEVICE] [--history N]\n"
                 "       modax rul export --tenant T ... --out FILE (see modax rul export --help)\n\n"
                 "The latest remaining-useful-life prediction of each device of TENANT, or\n"
                 "of DEVICE (with --history: its N newest predictions). A device without a\n"
                 "prediction shows why (e.g. needs 12 more rows).\n");
}

static void fmt_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || gmtime_r(&s, &tm) == NULL) {
        snprintf(buf, len, "-");
        return;
    }
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- list, show ---- */

struct active_map {
    char tenant[64][MDX_NAME_MAX + 1];
    char version[64][MDX_RUL_VERSION_MAX];
    int n;
};

static int take_active(void *arg, const char *tenant, const char *version)
{
    struct active_map *a = arg;

    if (a->n < 64) {
        snprintf(a->tenant[a->n], sizeof(a->tenant[0]), "%s", tenant);
        snprintf(a->version[a->n], sizeof(a->version[0]), "%s", version);
        a->n++;
    }
    return MDX_OK;
}

static int print_model(void *arg, const struct mdx_rul_model_rec *m)
{
    const struct active_map *a = arg;
    char when[32], serves[512] = "";
    size_t off = 0;

    for (int i = 0; i < a->n; i++) {
        if (strcmp(a->version[i], m->version) == 0 && off < sizeof(serves)) {
            off += (size_t)snprintf(serves + off, sizeof(serves) - off, "%s%s", off ? "," : "",
                                    a->tenant[i][0] ? a->tenant[i] : "(default)");
        }
    }
    fmt_time(m->created_ms, when, sizeof(when));
    printf("%-32s %-20s %-24s %s\n", m->version, when, serves[0] ? serves : "-", m->path);
    return MDX_OK;
}

static int model_list(struct mdx_store *st)
{
    struct active_map a = {.n = 0};
    int rc = mdx_store_rul_active_list(st, take_active, &a);

    if (rc == MDX_OK) {
        printf("%-32s %-20s %-24s %s\n", "VERSION", "REGISTERED", "ACTIVE FOR", "PATH");
        rc = mdx_store_rul_model_list(st, print_model, &a);
    }
    if (rc != MDX_OK) {
        fprintf(stderr, "modax model list: %s\n", mdx_strerror(rc));
    }
    return rc;
}

static int model_show(struct mdx_store *st, const char *version)
{
    struct mdx_rul_model_rec *m = mdx_malloc(sizeof(*m));
    char when[32];
    int rc;

    if (m == NULL) {
        return MDX_ENOMEM;
    }
    rc = mdx_store_rul_model_get(st, version, m);
    if (rc == MDX_OK) {
        fmt_time(m->created_ms, when, sizeof(when));
        printf("version: %s\nregistered: %s\npath: %s\nmanifest: %s\n", m->version, when,
               m->path, m->manifest);
    } else if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax model show: no model version '%s' (see modax model list)\n",
                version);
    } else {
        fprintf(stderr, "modax model show: %s\n", mdx_strerror(rc));
    }
    mdx_free(m);
    return rc;
}

/* ---- register ---- */

struct sensor_set {
    char (*names)[MDX_NAME_MAX + 1];
    size_t n;
    struct mdx_store *st;
    const char *tenant;
    int rc;
};

static int add_sensor(void *arg, const char *name)
{
    struct sensor_set *s = arg;

    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->names[i], name) == 0) {
            return MDX_OK;
        }
    }
    if (s->n < SENSORS_MAX) {
        snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
    }
    return MDX_OK;
}

static int sensors_of_device(void *arg, const struct mdx_device_info *d)
{
    struct sensor_set *s = arg;

    return mdx_store_sensor_list(s->st, d->tenant, d->device, add_sensor, s);
}

static int sensors_of_tenant(void *arg, const char *tenant)
{
    struct sensor_set *s = arg;

    return mdx_store_device_list(s->st, tenant, sensors_of_device, s);
}

/* Reads a whole small file into a new NUL-terminated buffer; NULL on failure. */
static char *slurp(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL) {
        return NULL;
    }
    buf = mdx_malloc(max);
    n = buf != NULL ? fread(buf, 1, max - 1, f) : 0;
    if (buf != NULL && (ferror(f) || !feof(f))) { /* error, or larger than max - 1 */
        mdx_free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
    }
    return buf;
}

/*
 * Why the live pipeline cannot produce the features of 'spec' (a message
 * into 'why'), or MDX_OK. 'sensors' are the names devices have sent.
 */
static int check_servable(const struct mdx_rul_spec *spec, const struct sensor_set *sensors,
                          char *why, size_t whylen)
{
    if (mdx_rul_spec_check(spec, why, whylen) != MDX_OK) {
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < spec->n_inputs; i++) {
        int found = 0;
        for (size_t k = 0; k < sensors->n && !found; k++) {
            found = strcmp(sensors->names[k], spec->inputs[i]) == 0;
        }
        if (!found) {
            size_t off = (size_t)snprintf(why, whylen,
                                          "input '%s' is not a sensor any device sends (%s",
                                          spec->inputs[i],
                                          sensors->n ? "known:" : "no sensor data stored yet");
            for (size_t k = 0; k < sensors->n && k < 12 && off < whylen; k++) {
                off += (size_t)snprintf(why + off, whylen - off, " %s", sensors->names[k]);
            }
            if (off < whylen) {
                snprintf(why + off, whylen - off, "%s)", sensors->n > 12 ? " ..." : "");
            }
            return MDX_EINVAL;
        }
    }
    return MDX_OK;
}

static int model_register(struct mdx_store *st, const char *path)
{
    struct mdx_rul_model_rec *rec = mdx_calloc(1, sizeof(*rec));
    struct sensor_set sensors = {.st = st};
    struct mdx_rul_model *m = NULL;
    const struct mdx_rul_manifest *man;
    char why[1024] = "", abs[PATH_MAX], mpath[PATH_MAX + 32];
    char *text = NULL;
    size_t len;
    int rc = MDX_OK, err = MDX_OK;

    sensors.names = mdx_calloc(SENSORS_MAX, sizeof(*sensors.names));
    if (rec == NULL || sensors.names == NULL) {
        rc = MDX_ENOMEM;
        goto out;
    }
    if (realpath(path, abs) == NULL) {
        fprintf(stderr, "modax model register: %s: %s\n", path, strerror(errno));
        rc = MDX_ENOTFOUND;
        goto out;
    }
    m = mdx_rul_model_load(abs, why, sizeof(why), &err);
    if (m == NULL) {
        fprintf(stderr, "modax model register: %s is refused: %s\n", path,
                why[0] ? why : mdx_strerror(err));
        rc = err != MDX_OK ? err : MDX_EINVAL;
        goto out;
    }
    man = mdx_rul_model_manifest(m);
    rc = mdx_store_tenant_list(st, sensors_of_tenant, &sensors);
    if (rc != MDX_OK) {
        fprintf(stderr, "modax model register: reading the sensors: %s\n", mdx_strerror(rc));
        goto out;
    }
    rc = check_servable(&man->spec, &sensors, why, sizeof(why));
    if (rc != MDX_OK) {
        fprintf(stderr,
                "modax model register: %s is refused: its feature specification cannot be "
                "produced by the live pipeline: %s\n",
                path, why);
        goto out;
    }
    len = strlen(abs);
    if (len > 5 && strcmp(abs + len - 5, ".json") == 0) {
        snprintf(mpath, sizeof(mpath), "%.*s.manifest.json", (int)(len - 5), abs);
    } else {
        snprintf(mpath, sizeof(mpath), "%s.manifest.json", abs);
    }
    text = slurp(mpath, sizeof(rec->manifest));
    if (text == NULL) {
        fprintf(stderr, "modax model register: cannot read the manifest %s (or it is over %zu "
                        "bytes)\n", mpath, sizeof(rec->manifest) - 1);
        rc = MDX_EIO;
        goto out;
    }
    snprintf(rec->version, sizeof(rec->version), "%s", man->version);
    if (strlen(abs) >= sizeof(rec->path)) {
        fprintf(stderr, "modax model register: the model's path is over %zu bytes; move it\n",
                sizeof(rec->path) - 1);
        rc = MDX_EINVAL;
        goto out;
    }
    memcpy(rec->path, abs, strlen(abs) + 1);
    snprintf(rec->manifest, sizeof(rec->manifest), "%s", text);
    rec->created_ms = mdx_now_ms();
    rc = mdx_store_rul_model_put(st, rec);
    if (rc == MDX_OK) {
        printf("registered %s (window %d, %zu inputs, %zu features) from %s\n", rec->version,
               man->spec.window, man->spec.n_inputs, mdx_rul_n_features(&man->spec), abs);
    } else if (rc == MDX_EEXIST) {
        fprintf(stderr, "modax model register: version '%s' is registered already\n",
                rec->version);
    } else if (rc == MDX_EINVAL) {
        fprintf(stderr, "modax model register: the manifest's version '%s' is not a valid "
                        "version ([A-Za-z0-9_.:-]{1,63})\n", rec->version);
    } else {
        fprintf(stderr, "modax model register: %s\n", mdx_strerror(rc));
    }

out:
    mdx_rul_model_free(m);
    mdx_free(text);
    mdx_free(sensors.names);
    mdx_free(rec);
    return rc;
}

/* ---- activate, threshold ---- */

static int model_activate(struct mdx_store *st, const char *version, const char *tenant)
{
    struct mdx_rul_model_rec *rec = mdx_malloc(sizeof(*rec));
    int rc;

    if (rec == NULL) {
        return MDX_ENOMEM;
    }
    rc = mdx_store_rul_model_get(st, version, rec);
    mdx_free(rec);
    if (rc == MDX_OK && tenant[0] != '\0') {
        rc = mdx_store_tenant_exists(st, tenant);
        if (rc == MDX_ENOTFOUND) {
            fprintf(stderr, "modax model activate: tenant '%s' does not exist\n", tenant);
            return rc;
        }
    } else if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax model activate: no model version '%s' (see modax model list)\n",
                version);
        return rc;
    }
    if (rc == MDX_OK) {
        rc = mdx_store_rul_model_activate(st, tenant, version, mdx_now_ms());
    }
    if (rc == MDX_OK) {
        printf("%s now serves %s\n", version,
               tenant[0] ? tenant : "every tenant without its own model");
    } else {
        fprintf(stderr, "modax model activate: %s\n", mdx_strerror(rc));
    }
    return rc;
}

static int model_threshold(struct mdx_store *st, const struct cli_conf *conf, int argc,
                           char **argv)
{
    const char *tenant = argv[2];
    double c = NAN;
    int rc;

    if (argc == 3) {
        rc = mdx_store_rul_threshold_get(st, tenant, &c);
        if (rc == MDX_ENOTFOUND && mdx_store_tenant_exists(st, tenant) == MDX_OK) {
            printf("tenant %s: RUL alert below %g cycles (rul.threshold_cycles)\n", tenant,
                   conf->rul.threshold_cycles);
            return MDX_OK;
        }
        if (rc == MDX_OK) {
            printf("tenant %s: RUL alert below %g cycles\n", tenant, c);
        }
    } else {
        if (strcmp(argv[3], "clear") != 0) {
            char *end = NULL;
            c = strtod(argv[3], &end);
            if (end == argv[3] || *end != '\0' || !isfinite(c) || c < 0) {
                fprintf(stderr, "modax model threshold: '%s' is not a number of cycles >= 0\n",
                        argv[3]);
                return MDX_EINVAL;
            }
        }
        rc = mdx_store_rul_threshold_set(st, tenant, c);
        if (rc == MDX_OK) {
            printf(isnan(c) ? "tenant %s: threshold cleared\n" : "tenant %s: RUL alert below %g "
                                                                 "cycles\n",
                   tenant, c);
        }
    }
    if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax model threshold: tenant '%s' does not exist\n", tenant);
    } else if (rc != MDX_OK) {
        fprintf(stderr, "modax model threshold: %s\n", mdx_strerror(rc));
    }
    return rc;
}

int cmd_model(int argc, char **argv)
{
    struct cli_conf conf;
    struct mdx_store *st;
    const char *sub;
    int rc;

    if (!cli_subcommand(argc, argv, usage, &sub, &rc)) {
        return rc;
    }
    if (strcmp(sub, "export") == 0) {
        return cmd_model_export(argc - 1, argv + 1); /* ONNX: cmd_model_export.c */
    }
    if (!((strcmp(sub, "list") == 0 && argc == 2) ||
          ((strcmp(sub, "show") == 0 || strcmp(sub, "register") == 0) && argc == 3) ||
          (strcmp(sub, "activate") == 0 &&
           (argc == 3 || (argc == 5 && strcmp(argv[3], "--tenant") == 0))) ||
          (strcmp(sub, "threshold") == 0 && (argc == 3 || argc == 4)))) {
        return cli_usage_error(usage);
    }
    rc = cli_open(&conf, &st);
    if (rc != CLI_OK) {
        return rc;
    }
    if (strcmp(sub, "list") == 0) {
        rc = model_list(st);
    } else if (strcmp(sub, "show") == 0) {
        rc = model_show(st, argv[2]);
    } else if (strcmp(sub, "register") == 0) {
        rc = model_register(st, argv[2]);
    } else if (strcmp(sub, "activate") == 0) {
        rc = model_activate(st, argv[2], argc == 5 ? argv[4] : "");
    } else {
        rc = model_threshold(st, &conf, argc, argv);
    }
    return cli_finish(&conf, st, rc);
}

/* ---- modax rul ---- */

static int print_prediction(void *arg, const struct mdx_rul_prediction *p)
{
    char when[32];

    (void)arg;
    fmt_time(p->ts_ms, when, sizeof(when));
    if (isnan(p->rul)) {
        printf("%-24s %10s %-24s %-20s %s\n", p->device, "-", "-", "-",
               p->reason[0] ? p->reason : "no prediction");
    } else {
        printf("%-24s %10.1f %-24s %-20s %s\n", p->device, p->rul, p->model_version, when,
               p->reason);
    }
    return MDX_OK;
}

int cmd_rul(int argc, char **argv)
{
    struct cli_conf conf;
    struct mdx_store *st;
    struct mdx_rul_prediction p;
    int64_t history = 0;
    int rc;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage_rul(stdout);
        return CLI_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "export") == 0) {
        return cmd_rul_export(argc - 1, argv + 1); /* training histories: cmd_rul_export.c */
    }
    if (argc == 5 && strcmp(argv[3], "--history") == 0) {
        history = cli_parse_positive(argv[4]);
    }
    if (!(argc == 2 || argc == 3 || (argc == 5 && history > 0))) {
        usage_rul(stderr);
        return CLI_USAGE;
    }
    rc = cli_open(&conf, &st);
    if (rc != CLI_OK) {
        return rc;
    }
    printf("%-24s %10s %-24s %-20s %s\n", "DEVICE", "RUL", "MODEL", "TIME", "NOTE");
    if (argc == 2) {
        rc = mdx_store_rul_prediction_list(st, argv[1], NULL, 0, print_prediction, NULL);
    } else if (history > 0) {
        rc = mdx_store_rul_prediction_list(st, argv[1], argv[2], history, print_prediction, NULL);
    } else {
        rc = mdx_store_rul_prediction_latest(st, argv[1], argv[2], &p);
        if (rc == MDX_OK) {
            print_prediction(NULL, &p);
        } else if (rc == MDX_ENOTFOUND) {
            struct mdx_device_info info;
            if (mdx_store_device_get(st, argv[1], argv[2], &info) == MDX_OK) {
                printf("%-24s %10s %-24s %-20s %s\n", argv[2], "-", "-", "-",
                       "no prediction yet (is rul.enabled on and a model active?)");
                rc = MDX_OK;
            }
        }
    }
    if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax rul: unknown tenant or device\n");
    } else if (rc != MDX_OK) {
        fprintf(stderr, "modax rul: %s\n", mdx_strerror(rc));
    }
    return cli_finish(&conf, st, rc);
}
