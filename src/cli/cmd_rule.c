/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_rule.c - `modax rule add|list|rm`: a tenant's threshold rules.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "modax/alert.h"
#include "modax/status.h"
#include "modax/validate.h"

#define WEEK_MS (7LL * MDX_DAY_MS)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax rule add TENANT --name NAME --sensor SENSOR --cmp gt|ge|lt|le\n"
            "                      --threshold X [--hysteresis H] [--min-duration DURATION]\n"
            "                      [--severity info|warning|critical]\n"
            "                      [--device-type TYPE | --device DEVICE] [--disabled]\n"
            "       modax rule list TENANT\n"
            "       modax rule rm TENANT ID\n\n"
            "A rule raises an alert when SENSOR's value compares true with X (--cmp also\n"
            "takes >, >=, <, <=; quote them in a shell) for at least --min-duration\n"
            "(0, or a whole number and ms, s, m, h or d, at most 7d; default 0). The\n"
            "alert"
            " clears once the value is back past X by --hysteresis H (default 0).\n"
            "Severity defaults to warning.\n\n"
            "Scope: without --device-type or --device the rule is tenant-wide; a rule of\n"
            "the same name for a device type (see 'modax device set-type'), or for one\n"
            "device, overrides it there: the most specific one applies. 'rule add'\n"
            "replaces the rule with the same name and scope (keeping its id) and prints\n"
            "the rule's id. Every tenant starts with 'overcurrent' (current_mean > 10)\n"
            "and 'overtemperature' (temperature_mean > 80), editable like any rule.\n"
            "--disabled stores the rule switched off; as the most specific rule, a\n"
            "disabled device or type rule switches its name off for those devices.\n\n"
            "Exit codes: 0 ok, 1 failure, 2 bad arguments, 3 no such tenant or rule.\n");
}

/* "0" or a whole number and ms, s, m or h ("30s"); MDX_EINVAL otherwise or beyond a week. */
static int parse_duration(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", MDX_DAY_MS}};
    char *end = NULL;
    long long n;

    if (s[0] < '0' || s[0] > '9') {
        return MDX_EINVAL;
    }
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || end == s) {
        return MDX_EINVAL;
    }
    if (*end == '\0') {
        if (n != 0) {
            return MDX_EINVAL; /* a bare number has no unit: only 0 is unambiguous */
        }
        *out = 0;
        return MDX_OK;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (n > WEEK_MS / units[i].ms) {
                return MDX_EINVAL;
            }
            *out = (int64_t)n * units[i].ms;
            return MDX_OK;
        }
    }
    return MDX_EINVAL;
}

/* A finite decimal number, the whole string. */
static int parse_number(const char *s, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        return MDX_EINVAL;
    }
    *out = v;
    return MDX_OK;
}

/* "30s", "5m", "0s": the largest unit that divides 'ms'. */
static void format_duration(int64_t ms, char *buf, size_t len)
{
    if (ms != 0 && ms % 3600000 == 0) {
        snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
    } else if (ms != 0 && ms % 60000 == 0) {
        snprintf(buf, len, "%lldm", (long long)(ms / 60000));
    } else if (ms % 1000 == 0) {
        snprintf(buf, len, "%llds", (long long)(ms / 1000));
    } else {
        snprintf(buf, len, "%lldms", (long long)ms);
    }
}

static int copy_name(char *dst, size_t size, const char *src)
{
    int n = snprintf(dst, size, "%s", src);

    return n >= 0 && (size_t)n < size ? MDX_OK : MDX_EINVAL;
}

/* Copies the value of option 'opt' into dst when it is a valid name (1); else prints why (0). */
static int take_name(char *dst, size_t size, const char *opt, const char *value)
{
    if (copy_name(dst, size, value) != MDX_OK || !mdx_valid_segment(value, strlen(value))) {
        fprintf(stderr, "modax rule add: %s '%s' is not a valid name; use [A-Za-z0-9_-]{1,64}\n",
                opt, value);
        return 0;
    }
    return 1;
}

/* Parses `rule add`'s options into 'r' (argv[0] is "add"); prints what is wrong. */
static int parse_add(int argc, char **argv, struct mdx_rule *r)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"sensor", required_argument, NULL, 's'},
        {"cmp", required_argument, NULL, 'c'},
        {"threshold", required_argument, NULL, 't'},
        {"hysteresis", required_argument, NULL, 'y'},
        {"min-duration", required_argument, NULL, 'm'},
        {"severity", required_argument, NULL, 'v'},
        {"device-type", required_argument, NULL, 'T'},
        {"device", required_argument, NULL, 'D'},
        {"disabled", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int have_cmp = 0, have_thr = 0, c;

    memset(r, 0, sizeof(*r));
    r->severity = MDX_SEVERITY_WARNING;
    r->enabled = 1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!take_name(r->name, sizeof(r->name), "--name", optarg)) {
                return CLI_USAGE;
            }
            break;
        case 's':
            if (copy_name(r->sensor, sizeof(r->sensor), optarg) != MDX_OK ||
                !mdx_valid_sensor(optarg, strlen(optarg))) {
                fprintf(stderr, "modax rule add: --sensor '%s' is not a sensor name; use "
                                "[a-z0-9_]{1,64}, e.g. current_mean\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'c':
            if (mdx_cmp_parse(optarg, &r->cmp) != MDX_OK) {
                fprintf(stderr, "modax rule add: --cmp '%s' is not a comparison; use gt, ge, "
                                "lt or le (or >, >=, <, <=)\n", optarg);
                return CLI_USAGE;
            }
            have_cmp = 1;
            break;
        case 't':
            if (parse_number(optarg, &r->threshold) != MDX_OK) {
                fprintf(stderr, "modax rule add: --threshold '%s' is not a number; use e.g. "
                                "10 or 80.5\n", optarg);
                return CLI_USAGE;
            }
            have_thr = 1;
            break;
        case 'y':
            if (parse_number(optarg, &r->hysteresis) != MDX_OK || r->hysteresis < 0) {
                fprintf(stderr, "modax rule add: --hysteresis '%s' must be a number >= 0\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        case 'm':
            if (parse_duration(optarg, &r->min_duration_ms) != MDX_OK) {
                fprintf(stderr, "modax rule add: --min-duration '%s' is not a duration; use 0 "
                                "or e.g. 500ms, 30s, 5m, 1h (at most 7d)\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'v':
            if (cli_parse_severity("modax rule add", optarg, &r->severity) != CLI_OK) {
                return CLI_USAGE;
            }
            break;
        case 'T':
            if (!take_name(r->device_type, sizeof(r->device_type), "--device-type", optarg)) {
                return CLI_USAGE;
            }
            break;
        case 'D':
            if (!take_name(r->device, sizeof(r->device), "--device", optarg)) {
                return CLI_USAGE;
            }
            break;
        case 'x': r->enabled = 0; break;
        case 'h': usage(stdout); return -1;
        default:
            fprintf(stderr, "modax rule add: unknown option or missing value '%s'; see "
                            "'modax rule --help'\n", argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "modax rule add: give exactly one TENANT; see 'modax rule --help'\n");
        return CLI_USAGE;
    }
    if (r->name[0] == '\0' || r->sensor[0] == '\0' || !have_cmp || !have_thr) {
        fprintf(stderr, "modax rule add: --name, --sensor, --cmp and --threshold are required; "
                        "see 'modax rule --help'\n");
        return CLI_USAGE;
    }
    if (r->device_type[0] != '\0' && r->device[0] != '\0') {
        fprintf(stderr, "modax rule add: give --device-type or --device, not both: a rule "
                        "targets the tenant, one device type or one device\n");
        return CLI_USAGE;
    }
    if (copy_name(r->tenant, sizeof(r->tenant), argv[optind]) != MDX_OK) {
        fprintf(stderr, "modax rule add: no such tenant '%s'; see 'modax tenant list'\n",
                argv[optind]);
        return CLI_NOTFOUND;
    }
    return CLI_OK;
}

static int print_rule(void *arg, const struct mdx_rule *r)
{
    char scope[80], cond[64], dur[32];

    (void)arg;
    if (r->device[0] != '\0') {
        snprintf(scope, sizeof(scope), "device:%s", r->device);
    } else if (r->device_type[0] != '\0') {
        snprintf(scope, sizeof(scope), "type:%s", r->device_type);
    } else {
        snprintf(scope, sizeof(scope), "tenant");
    }
    snprintf(cond, sizeof(cond), "%s %.15g", mdx_cmp_symbol(r->cmp), r->threshold);
    format_duration(r->min_duration_ms, dur, sizeof(dur));
    printf("%-6lld %-20s %-20s %-20s %-12s %-10.15g %-12s %-9s %s\n", (long long)r->id, r->name,
           scope, r->sensor, cond, r->hysteresis, dur, mdx_severity_name(r->severity),
           r->enabled ? "yes" : "no");
    return MDX_OK;
}

/* `rule add` with the parsed rule 'r'. */
static int add(struct mdx_store *st, struct mdx_rule *r)
{
    int rc = mdx_store_rule_put(st, r);

    if (rc == MDX_OK) {
        printf("%lld\n", (long long)r->id);
    } else if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax rule add: no such tenant '%s'; see 'modax tenant list'\n",
                r->tenant);
    } else {
        fprintf(stderr, "modax rule add: %s\n", mdx_strerror(rc));
    }
    return cli_exit_for(rc);
}

/* `rule list TENANT` and `rule rm TENANT ID`. */
static int list_or_rm(struct mdx_store *st, char **argv)
{
    const char *cmd = argv[1], *tenant = argv[2];
    int64_t id = 0;
    int rc;

    if (strcmp(cmd, "rm") == 0) {
        id = cli_parse_positive(argv[3]);
        if (id < 0) {
            fprintf(stderr, "modax rule rm: ID '%s' is not a rule id (a whole number > 0); see "
                            "'modax rule list %s'\n", argv[3], tenant);
            return CLI_USAGE;
        }
    }
    rc = mdx_store_tenant_exists(st, tenant);
    if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax rule %s: no such tenant '%s'; see 'modax tenant list'\n", cmd,
                tenant);
        return CLI_NOTFOUND;
    }
    if (rc == MDX_OK && strcmp(cmd, "list") == 0) {
        printf("%-6s %-20s %-20s %-20s %-12s %-10s %-12s %-9s %s\n", "ID", "NAME", "SCOPE",
               "SENSOR", "CONDITION", "HYSTERESIS", "MIN-DURATION", "SEVERITY", "ENABLED");
        rc = mdx_store_rule_list(st, tenant, print_rule, NULL);
    } else if (rc == MDX_OK) {
        rc = mdx_store_rule_delete(st, tenant, id);
        if (rc == MDX_OK) {
            printf("rule %lld removed\n", (long long)id);
        } else if (rc == MDX_ENOTFOUND) {
            fprintf(stderr, "modax rule rm: tenant '%s' has no rule %lld; see 'modax rule list "
                            "%s'\n", tenant, (long long)id, tenant);
            return CLI_NOTFOUND;
        }
    }
    if (rc != MDX_OK) {
        fprintf(stderr, "modax rule %s: %s\n", cmd, mdx_strerror(rc));
    }
    return cli_exit_for(rc);
}

int cmd_rule(int argc, char **argv)
{
    struct cli_conf conf;
    struct mdx_store *st;
    struct mdx_rule r;
    const char *sub;
    int is_add, status;

    if (!cli_subcommand(argc, argv, usage, &sub, &status)) {
        return status;
    }
    is_add = strcmp(sub, "add") == 0;
    if (is_add) {
        status = parse_add(argc - 1, argv + 1, &r);
        if (status != CLI_OK) {
            return status < 0 ? CLI_OK : status; /* < 0: --help was printed */
        }
    } else if (!((argc == 3 && strcmp(sub, "list") == 0) ||
                 (argc == 4 && strcmp(sub, "rm") == 0))) {
        return cli_usage_error(usage);
    }
    status = cli_open(&conf, &st);
    if (status != CLI_OK) {
        return status;
    }
    status = is_add ? add(st, &r) : list_or_rm(st, argv);
    cli_close(&conf, st);
    return status;
}
