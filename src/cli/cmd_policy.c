/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_policy.c - `modax policy render|check`: the broker's topic rules
 * (topic_rules.h) as the AWS IoT Core policies and the Azure IoT Hub device
 * setup committed under cloud/, and a one-off check of a topic.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "modax/status.h"
#include "modax/topic_rules.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax policy render --aws [--role device|service|operator]\n"
            "       modax policy render --azure\n"
            "       modax policy render --write DIR\n"
            "       modax policy check ROLE TENANT NAME publish|subscribe|receive TOPIC\n\n"
            "render prints the AWS IoT Core policy of a role (device by default) or the\n"
            "Azure IoT Hub device setup, both made from the topic rules the broker plugin\n"
            "enforces; --write DIR writes every document under DIR (the repository keeps\n"
            "them in cloud/: `modax policy render --write cloud`).\n"
            "check prints 'allowed' or the reason of the denial (TENANT '-' for the service).\n\n"
            "Exit codes: 0 done (check: allowed), 1 failure or denied, 2 bad arguments.\n");
}

static int write_all(const char *dir)
{
    char path[4096];

    for (const char *const *f = mdx_topic_render_files; *f != NULL; f++) {
        const char *slash = strchr(*f, '/');
        FILE *out;
        int rc;

        snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(slash - *f), *f);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "modax policy: cannot create %s: %s\n", path, strerror(errno));
            return CLI_FAIL;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, *f);
        out = fopen(path, "w");
        if (out == NULL) {
            fprintf(stderr, "modax policy: cannot write %s: %s\n", path, strerror(errno));
            return CLI_FAIL;
        }
        rc = mdx_topic_render_file(*f, out);
        if (fclose(out) != 0 || rc != MDX_OK) {
            fprintf(stderr, "modax policy: writing %s failed\n", path);
            return CLI_FAIL;
        }
        printf("%s\n", path);
    }
    return CLI_OK;
}

static int render(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--azure") == 0) {
        return mdx_topic_render_azure(stdout) == MDX_OK ? CLI_OK : CLI_FAIL;
    }
    if (argc == 3 && strcmp(argv[1], "--write") == 0) {
        return write_all(argv[2]);
    }
    if ((argc == 2 || argc == 4) && strcmp(argv[1], "--aws") == 0) {
        int role = MDX_TOPIC_DEVICE;

        if (argc == 4) {
            role = strcmp(argv[2], "--role") == 0 ? mdx_topic_role_parse(argv[3]) : -1;
            if (role < 0) {
                return cli_usage_error(usage);
            }
        }
        return mdx_topic_render_aws(role, stdout) == MDX_OK ? CLI_OK : CLI_FAIL;
    }
    return cli_usage_error(usage);
}

static int check(int argc, char **argv)
{
    struct mdx_topic_who who;
    unsigned access;
    enum mdx_topic_verdict v;

    if (argc != 6) {
        return cli_usage_error(usage);
    }
    who.role = mdx_topic_role_parse(argv[1]);
    who.tenant = strcmp(argv[2], "-") == 0 ? "" : argv[2];
    who.name = argv[3];
    if (strcmp(argv[4], "publish") == 0) {
        access = MDX_ACCESS_PUBLISH;
    } else if (strcmp(argv[4], "subscribe") == 0) {
        access = MDX_ACCESS_SUBSCRIBE;
    } else if (strcmp(argv[4], "receive") == 0) {
        access = MDX_ACCESS_RECEIVE;
    } else {
        access = 0;
    }
    if (who.role < 0 || access == 0) {
        return cli_usage_error(usage);
    }
    v = mdx_topic_check(&who, access, argv[5], strlen(argv[5]));
    printf("%s\n", mdx_topic_verdict_text(v));
    return v == MDX_TOPIC_ALLOW ? CLI_OK : CLI_FAIL;
}

int cmd_policy(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return CLI_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "render") == 0) {
        return render(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        return check(argc - 1, argv + 1);
    }
    return cli_usage_error(usage);
}
