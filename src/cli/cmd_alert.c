/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_alert.c - `modax alert list|ack|resolve`: the stored alerts and an
 * operator's acknowledge and resolve.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "modax/alert.h"
#include "modax/clock.h"
#include "modax/status.h"

#define DEFAULT_LIMIT 100

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax alert list [--tenant T] [--state open|acknowledged|resolved|active]\n"
            "                        [--device D] [--severity info|warning|critical]\n"
            "                        [--limit N] [--json]\n"
            "       modax alert ack TENANT ID\n"
            "       modax alert resolve TENANT ID\n\n"
            "An alert is open, then acknowledged by an operator, then resolved (by the\n"
            "service once the value is back to normal, or by an operator).\n\n"
            "list prints the newest alerts first (at most N, default %d): of one tenant\n"
            "or of every tenant, in one state ('active': open or acknowledged), of one\n"
            "device, of at least one severity; --json prints a JSON array.\n"
            "ack acknowledges an open alert; resolve resolves an open or acknowledged one.\n\n"
            "Exit codes: 0 done, 1 failure, 2 bad arguments, 3 no such tenant or alert\n"
            "(also for another tenant's alert), 4 the alert is already acknowledged or\n"
            "resolved: nothing changed (a resolved alert cannot be acknowledged).\n",
            DEFAULT_LIMIT);
}

struct printer {
    int json;
    size_t n;
};

static void format_value(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "-");
    } else {
        snprintf(buf, len, "%.15g", v);
    }
}

static int print_alert(void *arg, const struct mdx_alert *a)
{
    struct printer *p = arg;
    char opened[40], value[40];

    if (p->json) {
        char *text = mdx_alert_json(a);

        if (text == NULL) {
            return MDX_ENOMEM;
        }
        printf("%s%s", p->n > 0 ? ",\n " : "", text);
        cJSON_free(text);
    } else {
        mdx_format_iso_ms(a->opened_ms, opened, sizeof(opened));
        format_value(a->value, value, sizeof(value));
        printf("%-8lld %-16s %-20s %-24s %-20s %-9s %-13s %-24s %-10s %s\n", (long long)a->id,
               a->tenant, a->device, a->source, a->sensor[0] != '\0' ? a->sensor : "-",
               mdx_severity_name(a->severity), mdx_alert_state_name(a->state), opened, value,
               a->summary);
    }
    p->n++;
    return MDX_OK;
}

static int list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, 't'},
        {"state", required_argument, NULL, 's'},
        {"device", required_argument, NULL, 'd'},
        {"severity", required_argument, NULL, 'v'},
        {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct mdx_alert_filter f = {NULL, NULL, -1, -1, DEFAULT_LIMIT};
    struct printer p = {0, 0};
    struct cli_conf conf;
    struct mdx_store *st;
    int c, rc;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't': f.tenant = optarg; break;
        case 'd': f.device = optarg; break;
        case 's':
            if (mdx_alert_state_parse(optarg, &f.state) != MDX_OK) {
                fprintf(stderr, "modax alert list: --state '%s' is unknown; use open, "
                                "acknowledged, resolved or active\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'v':
            if (cli_parse_severity("modax alert list", optarg, &f.severity) != CLI_OK) {
                return CLI_USAGE;
            }
            break;
        case 'l':
            f.limit = cli_parse_positive(optarg);
            if (f.limit < 0) {
                fprintf(stderr, "modax alert list: --limit needs a whole number > 0\n");
                return CLI_USAGE;
            }
            break;
        case 'j': p.json = 1; break;
        case 'h': usage(stdout); return CLI_OK;
        default:
            fprintf(stderr, "modax alert list: unknown option or missing value '%s'; see "
                            "'modax alert --help'\n", argv[optind - 1]);
            return CLI_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "modax alert list: unexpected '%s'; the tenant is --tenant T\n",
                argv[optind]);
        return CLI_USAGE;
    }
    rc = cli_open(&conf, &st);
    if (rc != CLI_OK) {
        return rc;
    }
    rc = f.tenant != NULL ? mdx_store_tenant_exists(st, f.tenant) : MDX_OK;
    if (rc == MDX_OK) {
        if (p.json) {
            printf("[");
        } else {
            printf("%-8s %-16s %-20s %-24s %-20s %-9s %-13s %-24s %-10s %s\n", "ID", "TENANT",
                   "DEVICE", "SOURCE", "SENSOR", "SEVERITY", "STATE", "OPENED", "VALUE",
                   "SUMMARY");
        }
        rc = mdx_store_alert_list(st, &f, print_alert, &p);
        if (p.json) {
            printf("]\n");
        }
    }
    if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax alert list: no such tenant '%s'; see 'modax tenant list'\n",
                f.tenant);
    } else if (rc != MDX_OK) {
        fprintf(stderr, "modax alert list: %s\n", mdx_strerror(rc));
    }
    return cli_finish(&conf, st, rc);
}

/* `alert ack|resolve TENANT ID`: moves the alert on, if it is not there yet. */
static int change(struct mdx_store *st, const char *cmd, const char *tenant, int64_t id)
{
    int want = strcmp(cmd, "ack") == 0 ? MDX_ALERT_ACKNOWLEDGED : MDX_ALERT_RESOLVED;
    struct mdx_alert a;
    int rc;

    rc = mdx_store_tenant_exists(st, tenant);
    if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax alert %s: no such tenant '%s'; see 'modax tenant list'\n", cmd,
                tenant);
        return CLI_NOTFOUND;
    }
    if (rc == MDX_OK) {
        rc = mdx_alert_change(st, tenant, id, want, mdx_now_ms(), &a);
    }
    if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax alert %s: tenant '%s' has no alert %lld; see 'modax alert list "
                        "--tenant %s'\n", cmd, tenant, (long long)id, tenant);
        return CLI_NOTFOUND;
    }
    if (rc == MDX_EEXIST && a.state == MDX_ALERT_RESOLVED) {
        fprintf(stderr, "modax alert %s: alert %lld is resolved already%s; nothing changed\n",
                cmd, (long long)id,
                want == MDX_ALERT_ACKNOWLEDGED ? " and cannot be acknowledged" : "");
        return CLI_EXISTS;
    }
    if (rc == MDX_EEXIST) {
        fprintf(stderr, "modax alert %s: alert %lld is acknowledged already; nothing changed\n",
                cmd, (long long)id);
        return CLI_EXISTS;
    }
    if (rc != MDX_OK) {
        fprintf(stderr, "modax alert %s: %s\n", cmd, mdx_strerror(rc));
        return cli_exit_for(rc);
    }
    printf("alert %lld %s\n", (long long)id, mdx_alert_state_name(want));
    return CLI_OK;
}

int cmd_alert(int argc, char **argv)
{
    struct cli_conf conf;
    struct mdx_store *st;
    const char *sub;
    int64_t id;
    int status;

    if (!cli_subcommand(argc, argv, usage, &sub, &status)) {
        return status;
    }
    if (strcmp(sub, "list") == 0) {
        return list(argc - 1, argv + 1);
    }
    if (argc == 3 && strcmp(argv[2], "--help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (argc != 4 || (strcmp(sub, "ack") != 0 && strcmp(sub, "resolve") != 0)) {
        return cli_usage_error(usage);
    }
    id = cli_parse_positive(argv[3]);
    if (id < 0) {
        fprintf(stderr, "modax alert %s: ID '%s' is not an alert id (a whole number > 0); see "
                        "'modax alert list --tenant %s'\n", argv[1], argv[3], argv[2]);
        return CLI_USAGE;
    }
    status = cli_open(&conf, &st);
    if (status != CLI_OK) {
        return status;
    }
    status = change(st, argv[1], argv[2], id);
    cli_close(&conf, st);
    return status;
}
