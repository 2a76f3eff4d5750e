/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_identity.c - `modax identity add|list|revoke`: broker identities
 * that are not devices (store.h): the service that `modax serve` connects
 * as, and operators/HMIs of one tenant. A new identity's secret is printed
 * once, alone on the first line of stdout, and never logged.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "modax/clock.h"
#include "modax/secret.h"
#include "modax/status.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax identity add --service NAME\n"
            "       modax identity add --operator --tenant TENANT NAME\n"
            "       modax identity list\n"
            "       modax identity revoke NAME\n\n"
            "Broker identities that are not devices. The service identity (what `modax\n"
            "serve` connects as: mqtt.username and MODAX_MQTT_PASSWORD) receives every\n"
            "tenant's telemetry and sends commands and alerts; an operator/HMI identity\n"
            "receives its tenant's alerts and status only. NAME is [A-Za-z0-9_-]{1,64}\n"
            "and may not be a device id: the broker has one user name space.\n\n"
            "add prints the new secret alone on the first line of stdout; it is shown\n"
            "only this once (the store keeps its argon2id hash). revoke makes the broker\n"
            "refuse the identity from then on.\n\n"
            "Exit codes: 0 done, 1 failure, 2 bad arguments, 3 no such tenant or\n"
            "identity, 4 the name is taken (or revoked already).\n");
}

static const char *kind_name(int kind)
{
    return kind == MDX_IDENTITY_SERVICE ? "service" : kind == MDX_IDENTITY_OPERATOR ? "operator"
                                                                                      : "?";
}

static int add(struct cli_conf *c, struct mdx_store *st, int kind, const char *tenant,
               const char *name)
{
    struct mdx_argon2_cost cost = mdx_auth_cost(&c->auth);
    struct mdx_broker_identity id;
    char secret[MDX_SECRET_TEXT_MAX];
    int rc;

    memset(&id, 0, sizeof(id));
    snprintf(id.name, sizeof(id.name), "%s", name);
    snprintf(id.tenant, sizeof(id.tenant), "%s", tenant);
    id.kind = kind;
    id.created_ms = mdx_now_ms();
    rc = mdx_secret_generate(secret);
    if (rc == MDX_OK) {
        rc = mdx_secret_hash(secret, &cost, id.secret_hash, sizeof(id.secret_hash));
    }
    if (rc == MDX_OK) {
        rc = mdx_store_identity_add(st, &id);
    }
    switch (rc) {
    case MDX_OK:
        printf("%s\n", secret);
        printf("# identity %s (%s%s%s): broker user name %s, the secret on the line above\n"
               "# (shown only this once)\n",
               name, kind_name(kind), kind == MDX_IDENTITY_OPERATOR ? ", tenant " : "", tenant,
               name);
        printf("host = %s\nport = %lld\nusername = %s\n", c->auth.broker_host,
               (long long)c->auth.broker_port, name);
        if (kind == MDX_IDENTITY_SERVICE) {
            printf("# modax serve: mqtt.username = %s, and the secret in MODAX_MQTT_PASSWORD "
                   "(or in the file named by MODAX_MQTT_PASSWORD_FILE)\n", name);
        } else {
            printf("# subscribes: modax/%s/+/alerts, modax/%s/+/status\n", tenant, tenant);
        }
        break;
    case MDX_ENOTFOUND:
        fprintf(stderr, "modax identity add: tenant '%s' does not exist; add it with 'modax "
                        "tenant add %s'\n", tenant, tenant);
        break;
    case MDX_EEXIST:
        fprintf(stderr, "modax identity add: the name '%s' is taken by a broker identity or a "
                        "device id (the broker has one user name space); pick another\n", name);
        break;
    default:
        fprintf(stderr, "modax identity add: %s\n", mdx_strerror(rc));
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

static int print_identity(void *arg, const struct mdx_broker_identity *id)
{
    struct cli_times t;

    (void)arg;
    cli_times_format(&t, id->created_ms, id->revoked_ms);
    printf("%-24s  %-8s  %-16s  %-24s  %s\n", id->name, kind_name(id->kind),
           id->tenant[0] != '\0' ? id->tenant : "-", t.created, t.revoked);
    return MDX_OK;
}

static int list(struct mdx_store *st)
{
    int rc;

    printf("%-24s  %-8s  %-16s  %-24s  %s\n", "NAME", "KIND", "TENANT", "CREATED", "REVOKED");
    rc = mdx_store_identity_list(st, print_identity, NULL);
    if (rc != MDX_OK) {
        fprintf(stderr, "modax identity list: %s\n", mdx_strerror(rc));
    }
    return rc;
}

static int revoke(struct mdx_store *st, const char *name)
{
    return cli_revoke_report("identity", "no identity", name,
                             ": the broker refuses it from now on",
                             mdx_store_identity_revoke(st, name, mdx_now_ms()));
}

int cmd_identity(int argc, char **argv)
{
    static const struct option opts[] = {
        {"service", no_argument, NULL, 's'},
        {"operator", no_argument, NULL, 'o'},
        {"tenant", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *tenant = NULL, *sub, *name = NULL;
    struct cli_conf conf;
    struct mdx_store *st;
    int service = 0, operator = 0, rc, status;

    if (!cli_subcommand(argc, argv, usage, &sub, &status)) {
        return status;
    }
    while ((rc = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (rc) {
        case 's': service = 1; break;
        case 'o': operator = 1; break;
        case 't': tenant = optarg; break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_usage_error(usage);
        }
    }
    if (strcmp(sub, "add") == 0) {
        if (optind != argc - 2 || service == operator || (service && tenant != NULL) ||
            (operator && tenant == NULL)) {
            fprintf(stderr, "modax identity add: give --service NAME, or --operator --tenant T "
                            "NAME\n");
            return CLI_USAGE;
        }
        name = argv[1 + optind];
        if (!cli_valid_name(name) || (tenant != NULL && !cli_valid_name(tenant))) {
            fprintf(stderr, "modax identity add: invalid name; use [A-Za-z0-9_-]{1,64}\n");
            return CLI_USAGE;
        }
    } else if (strcmp(sub, "list") == 0) {
        if (optind != argc - 1 || service || operator || tenant != NULL) {
            return cli_usage_error(usage);
        }
    } else if (strcmp(sub, "revoke") == 0) {
        if (optind != argc - 2 || service || operator || tenant != NULL) {
            return cli_usage_error(usage);
        }
        name = argv[1 + optind];
    } else {
        return cli_usage_error(usage);
    }
    status = cli_open(&conf, &st);
    if (status != CLI_OK) {
        return status;
    }
    if (strcmp(sub, "add") == 0) {
        rc = add(&conf, st, service ? MDX_IDENTITY_SERVICE : MDX_IDENTITY_OPERATOR,
                 tenant != NULL ? tenant : "", name);
    } else if (strcmp(sub, "list") == 0) {
        rc = list(st);
    } else {
        rc = revoke(st, name);
    }
    return cli_finish(&conf, st, rc);
}
