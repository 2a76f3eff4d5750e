/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - the `modax` command: global options and the table of subcommands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char *cli_config_path;
extern const char mdx_build_commit[]; /* generated/version.c, by cmake/version.cmake */

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run the service (roles ingest, api, archiver)"},
    {"tenant", cmd_tenant, "add or list tenants"},
    {"device", cmd_device, "add, list or show devices"},
    {"query", cmd_query, "print points of a device's sensor in a time range (CSV or JSON)"},
    {"deadletters", cmd_deadletters, "list refused messages and counts per reason"},
    {"detect", cmd_detect, "score a timestamp,value CSV with the anomaly detector"},
    {"rule", cmd_rule, "add, list or remove a tenant's threshold rules"},
    {"alert", cmd_alert, "list, acknowledge or resolve alerts"},
    {"key", cmd_key, "add, list or revoke API keys"},
    {"ca", cmd_ca, "create the device CA, issue the broker's server certificate"},
    {"identity", cmd_identity, "add, list or revoke broker identities (service, operators)"},
    {"archive", cmd_archive, "archive old raw points to object storage now, or list archives"},
    {"policy", cmd_policy, "render or check the broker topic rules (AWS IoT, Azure IoT Hub)"},
    {"train", cmd_train, "learn a remaining-useful-life model from run-to-failure histories"},
    {"predict", cmd_predict, "predict remaining useful life per asset with a trained model"},
    {"model", cmd_model, "list, register or activate RUL models; set tenants' RUL thresholds"},
    {"rul", cmd_rul, "print the latest live RUL predictions of a tenant or device"},
    {"config", cmd_config, "print the configuration reference or an example file"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: modax [--config FILE] COMMAND [ARGS]\n"
                 "       modax --version\n\n"
                 "MODAX Cloud: industrial telemetry ingest, storage and monitoring.\n\n"
                 "Commands:\n");
    for (const struct command *c = commands; c->name != NULL; c++) {
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    }
    fprintf(out, "\n'modax COMMAND --help' describes a command. The configuration file is\n"
                 "--config FILE or $MODAX_CONFIG; every key can be set as MODAX_<KEY>\n"
                 "(see 'modax config').\n\n"
                 "Exit codes: 0 ok, 1 failure, 2 usage or configuration error,\n"
                 "3 not found, 4 exists already (or already done).\n");
}

int main(int argc, char **argv)
{
    int i = 1;

    cli_config_path = getenv("MODAX_CONFIG");
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            cli_config_path = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            cli_config_path = argv[i] + 9;
            i++;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("modax %s\n", mdx_build_commit);
            return CLI_OK;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        } else {
            fprintf(stderr, "modax: unknown option '%s'; see 'modax --help'\n", argv[i]);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        return cli_usage_error(usage);
    }
    for (const struct command *c = commands; c->name != NULL; c++) {
        if (strcmp(c->name, argv[i]) == 0) {
            return c->run(argc - i, argv + i);
        }
    }
    fprintf(stderr, "modax: unknown command '%s'; see 'modax --help'\n", argv[i]);
    return CLI_USAGE;
}
