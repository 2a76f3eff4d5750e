/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_config.c - `modax config`: the configuration reference, from the key tables.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cmd_config(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--markdown") == 0) {
        cli_conf_describe(stdout, 1);
        return CLI_OK;
    }
    if (argc == 2 && strcmp(argv[1], "--example") == 0) {
        cli_conf_describe(stdout, 0);
        return CLI_OK;
    }
    fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
            "usage: modax config --markdown | --example\n\n"
            "Prints every configuration key with its environment variable, default,\n"
            "range and meaning: as a markdown table, or as an example config file.\n");
    return argc == 2 && strcmp(argv[1], "--help") == 0 ? CLI_OK : CLI_USAGE;
}
