/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_tenant.c - `modax tenant add|list`.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "modax/status.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: modax tenant add NAME\n"
                 "       modax tenant list\n\n"
                 "Tenants are the customers sharing this installation; names are\n"
                 "[A-Za-z0-9_-]{1,64}. Devices belong to one tenant.\n");
}

static int print_name(void *arg, const char *name)
{
    (void)arg;
    printf("%s\n", name);
    return MDX_OK;
}

int cmd_tenant(int argc, char **argv)
{
    struct cli_conf conf;
    struct mdx_store *st;
    int rc, status;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return CLI_OK;
    }
    if (!((argc == 3 && strcmp(argv[1], "add") == 0) ||
          (argc == 2 && strcmp(argv[1], "list") == 0))) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_conf_load(&conf) != CLI_OK) {
        return CLI_USAGE;
    }
    st = cli_store_open(&conf);
    if (st == NULL) {
        cli_conf_fini(&conf);
        return CLI_FAIL;
    }
    if (strcmp(argv[1], "add") == 0) {
        rc = mdx_store_tenant_add(st, argv[2]);
        if (rc == MDX_EEXIST) {
            fprintf(stderr, "modax tenant add: tenant '%s' exists already\n", argv[2]);
        } else if (rc == MDX_EINVAL) {
            fprintf(stderr, "modax tenant add: '%s' is not a valid name; use [A-Za-z0-9_-]{1,64}\n",
                    argv[2]);
        } else if (rc != MDX_OK) {
            fprintf(stderr, "modax tenant add: %s\n", mdx_strerror(rc));
        } else {
            printf("tenant %s added\n", argv[2]);
        }
    } else {
        rc = mdx_store_tenant_list(st, print_name, NULL);
        if (rc != MDX_OK) {
            fprintf(stderr, "modax tenant list: %s\n", mdx_strerror(rc));
        }
    }
    status = cli_exit_for(rc);
    mdx_store_close(st);
    cli_conf_fini(&conf);
    return status;
}
