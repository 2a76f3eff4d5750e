/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_deadletters.c - `modax deadletters`: refused messages and counts per reason.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "modax/clock.h"
#include "modax/status.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: modax deadletters [--limit N] [--counts]\n\n"
                 "Lists the newest refused messages (time, reason, topic, size, the start\n"
                 "of the payload), or with --counts the number refused per reason.\n");
}

static int print_count(void *arg, const char *reason, int64_t n)
{
    (void)arg;
    printf("%10lld  %s\n", (long long)n, reason);
    return MDX_OK;
}

static int print_dead(void *arg, const struct mdx_deadletter *dl)
{
    char iso[40];
    size_t show = dl->payload_len < 120 ? dl->payload_len : 120;

    (void)arg;
    mdx_format_iso_ms(dl->recv_ms, iso, sizeof(iso));
    printf("%s  %-22s %s (%zu bytes)  ", iso, dl->reason, dl->topic, dl->orig_len);
    for (size_t i = 0; i < show; i++) {
        unsigned char c = dl->payload[i];
        putchar(c >= 0x20 && c < 0x7f ? c : '.');
    }
    printf("%s\n", show < dl->orig_len ? "..." : "");
    return MDX_OK;
}

int cmd_deadletters(int argc, char **argv)
{
    static const struct option opts[] = {
        {"limit", required_argument, NULL, 'l'},
        {"counts", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int64_t limit = 20;
    int counts = 0, c, rc;
    struct cli_conf conf;
    struct mdx_store *st;
    char *end;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            limit = strtoll(optarg, &end, 10);
            if (*end != '\0' || limit <= 0) {
                fprintf(stderr, "modax deadletters: --limit needs a whole number > 0\n");
                return CLI_USAGE;
            }
            break;
        case 'c': counts = 1; break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_usage_error(usage);
        }
    }
    if (optind != argc) {
        return cli_usage_error(usage);
    }
    rc = cli_open(&conf, &st);
    if (rc != CLI_OK) {
        return rc;
    }
    rc = counts ? mdx_store_deadletter_counts(st, print_count, NULL)
                : mdx_store_deadletter_list(st, limit, print_dead, NULL);
    if (rc != MDX_OK) {
        fprintf(stderr, "modax deadletters: %s\n", mdx_strerror(rc));
    }
    return cli_finish(&conf, st, rc);
}
