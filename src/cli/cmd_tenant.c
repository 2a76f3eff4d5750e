/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_tenant.c - `modax tenant add|list|retention|legacy-topics`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "modax/status.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: modax tenant add NAME\n"
                 "       modax tenant list\n"
                 "       modax tenant retention NAME [--archive-days N --expire-days M]\n"
                 "       modax tenant legacy-topics NAME [on|off]\n\n"
                 "Tenants are the customers sharing this installation; names are\n"
                 "[A-Za-z0-9_-]{1,64}. Devices belong to one tenant.\n"
                 "retention shows or sets the tenant's archive age (raw points older than N\n"
                 "days move to the object store) and expiry age (archive objects older than\n"
                 "M days are deleted), 1 <= N <= M <= 36500; without an override the\n"
                 "archive.after_days and archive.expire_days settings apply.\n"
                 "legacy-topics shows or sets whether the tenant's devices may use the\n"
                 "original MODAX firmware's topics (modax/sensor/data, modax/sensor/safety,\n"
                 "modax/control/commands); the broker plugin maps them to the device's own\n"
                 "modax/{tenant}/{device}/... topics. Off by default.\n");
}

/* Parses a whole decimal number of days; -1 if it is not one. */
static int64_t parse_days(const char *s)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 36500) {
        return -1;
    }
    return v;
}

/* `tenant retention NAME [--archive-days N --expire-days M]`; argv[2] is the name. */
static int retention(struct mdx_store *st, const struct cli_conf *conf, int argc, char **argv)
{
    struct mdx_retention r;
    int rc;

    if (argc == 3) {
        rc = mdx_store_retention_get(st, argv[2], &r);
        if (rc == MDX_ENOTFOUND && mdx_store_tenant_exists(st, argv[2]) == MDX_OK) {
            printf("tenant %s: archive after %lld days, expire after %lld days (defaults)\n",
                   argv[2], (long long)conf->archive.after_days,
                   (long long)conf->archive.expire_days);
            return MDX_OK;
        }
        if (rc == MDX_OK) {
            printf("tenant %s: archive after %lld days, expire after %lld days\n", argv[2],
                   (long long)r.archive_after_days, (long long)r.expire_after_days);
        }
    } else {
        r.archive_after_days = parse_days(argv[4]);
        r.expire_after_days = parse_days(argv[6]);
        rc = mdx_store_retention_set(st, argv[2], &r);
        if (rc == MDX_OK) {
            printf("tenant %s: archive after %lld days, expire after %lld days\n", argv[2],
                   (long long)r.archive_after_days, (long long)r.expire_after_days);
        } else if (rc == MDX_EINVAL) {
            fprintf(stderr, "modax tenant retention: days must be whole numbers with "
                            "1 <= archive-days <= expire-days <= 36500\n");
        }
    }
    if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax tenant retention: tenant '%s' does not exist\n", argv[2]);
    } else if (rc != MDX_OK && rc != MDX_EINVAL) {
        fprintf(stderr, "modax tenant retention: %s\n", mdx_strerror(rc));
    }
    return rc;
}

/* `tenant legacy-topics NAME [on|off]`; argv[2] is the name. */
static int legacy_topics(struct mdx_store *st, int argc, char **argv)
{
    int on = 0, rc;

    if (argc == 4) {
        on = strcmp(argv[3], "on") == 0;
        rc = mdx_store_tenant_legacy_set(st, argv[2], on);
    } else {
        rc = mdx_store_tenant_legacy_get(st, argv[2], &on);
    }
    if (rc == MDX_OK) {
        printf("tenant %s: legacy topics %s\n", argv[2], on ? "on" : "off");
    } else if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax tenant legacy-topics: tenant '%s' does not exist\n", argv[2]);
    } else {
        fprintf(stderr, "modax tenant legacy-topics: %s\n", mdx_strerror(rc));
    }
    return rc;
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
    if (argc == 7 && strcmp(argv[1], "retention") == 0 && strcmp(argv[3], "--expire-days") == 0 &&
        strcmp(argv[5], "--archive-days") == 0) {
        char *t = argv[3], *v = argv[4]; /* accept the two options in either order */
        argv[3] = argv[5];
        argv[4] = argv[6];
        argv[5] = t;
        argv[6] = v;
    }
    if (!((argc == 3 && strcmp(argv[1], "add") == 0) ||
          (argc == 2 && strcmp(argv[1], "list") == 0) ||
          (argc == 3 && strcmp(argv[1], "retention") == 0) ||
          (argc == 3 && strcmp(argv[1], "legacy-topics") == 0) ||
          (argc == 4 && strcmp(argv[1], "legacy-topics") == 0 &&
           (strcmp(argv[3], "on") == 0 || strcmp(argv[3], "off") == 0)) ||
          (argc == 7 && strcmp(argv[1], "retention") == 0 &&
           strcmp(argv[3], "--archive-days") == 0 && strcmp(argv[5], "--expire-days") == 0))) {
        return cli_usage_error(usage);
    }
    status = cli_open(&conf, &st);
    if (status != CLI_OK) {
        return status;
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
    } else if (strcmp(argv[1], "retention") == 0) {
        rc = retention(st, &conf, argc, argv);
    } else if (strcmp(argv[1], "legacy-topics") == 0) {
        rc = legacy_topics(st, argc, argv);
    } else {
        rc = mdx_store_tenant_list(st, print_name, NULL);
        if (rc != MDX_OK) {
            fprintf(stderr, "modax tenant list: %s\n", mdx_strerror(rc));
        }
    }
    return cli_finish(&conf, st, rc);
}
