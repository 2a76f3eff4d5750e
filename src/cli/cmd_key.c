/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_key.c - `modax key add|list|revoke`: API keys (apikey.h). The key
 * text is printed once, on the first line of stdout, and never logged;
 * the store keeps its id and the SHA-256 of its secret.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "modax/apikey.h"
#include "modax/clock.h"
#include "modax/status.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax key add --tenant T --role viewer|operator|admin [--label TEXT]\n"
            "       modax key add --platform [--label TEXT]\n"
            "       modax key list [--tenant T]\n"
            "       modax key revoke KEY_ID\n\n"
            "API keys authenticate calls to the HTTP API (role api of `modax serve`).\n"
            "A tenant key sees only its tenant: viewer reads; operator also acknowledges\n"
            "and resolves alerts, sends commands and reads dead letters; admin also\n"
            "manages devices, rules and keys. The platform key manages tenants only.\n\n"
            "add prints the new key alone on the first line of stdout; it is shown only\n"
            "this once (the store keeps its SHA-256), so keep it now. list prints every\n"
            "key's id, tenant, role, label, creation and revocation time (of one tenant\n"
            "with --tenant). revoke refuses the key from then on (within api.key_cache_s).\n\n"
            "Exit codes: 0 done, 1 failure, 2 bad arguments, 3 no such tenant or key,\n"
            "4 the key is revoked already.\n");
}

/* 1 if the label is at most MDX_NAME_MAX bytes of printable text. */
static int label_ok(const char *s)
{
    if (strlen(s) > MDX_NAME_MAX) {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int add(struct mdx_store *st, const char *tenant, int role, const char *label)
{
    struct mdx_apikey rec;
    char text[MDX_APIKEY_TEXT_MAX];
    int rc;

    rc = mdx_apikey_generate(tenant, role, label, mdx_now_ms(), &rec, text);
    if (rc == MDX_EINVAL) {
        fprintf(stderr, "modax key add: '%s' is not a valid tenant name\n", tenant);
        return rc;
    }
    if (rc == MDX_OK) {
        rc = mdx_store_apikey_add(st, &rec);
    }
    if (rc == MDX_OK) {
        printf("%s\n", text);
        fflush(stdout);
        if (role == MDX_ROLE_PLATFORM) {
            fprintf(stderr, "key %s added (platform); it is shown only this once\n", rec.id);
        } else {
            fprintf(stderr, "key %s added (tenant %s, role %s); it is shown only this once\n",
                    rec.id, tenant, mdx_role_name(role));
        }
    } else if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax key add: tenant '%s' does not exist; add it with "
                        "'modax tenant add %s'\n", tenant, tenant);
    } else {
        fprintf(stderr, "modax key add: %s\n", mdx_strerror(rc));
    }
    OPENSSL_cleanse(text, sizeof(text));
    OPENSSL_cleanse(&rec, sizeof(rec));
    return rc;
}

static int print_key(void *arg, const struct mdx_apikey *k)
{
    struct cli_times t;

    (void)arg;
    cli_times_format(&t, k->created_ms, k->revoked_ms);
    printf("%-16s  %-16s  %-8s  %-24s  %-24s  %s\n", k->id,
           k->tenant[0] != '\0' ? k->tenant : "(platform)", mdx_role_name(k->role), t.created,
           t.revoked, k->label);
    return MDX_OK;
}

static int list(struct mdx_store *st, const char *tenant)
{
    int rc;

    printf("%-16s  %-16s  %-8s  %-24s  %-24s  %s\n", "ID", "TENANT", "ROLE", "CREATED",
           "REVOKED", "LABEL");
    rc = mdx_store_apikey_list(st, tenant, print_key, NULL);
    if (rc != MDX_OK) {
        fprintf(stderr, "modax key list: %s\n", mdx_strerror(rc));
    }
    return rc;
}

static int revoke(struct mdx_store *st, const char *id)
{
    return cli_revoke_report("key", "no key with id", id, "",
                             mdx_store_apikey_revoke(st, id, mdx_now_ms()));
}

int cmd_key(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, 't'},
        {"role", required_argument, NULL, 'r'},
        {"label", required_argument, NULL, 'l'},
        {"platform", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *tenant = NULL, *role_name = NULL, *label = "", *sub;
    struct cli_conf conf;
    struct mdx_store *st;
    int platform = 0, role = -1, rc, status;

    if (!cli_subcommand(argc, argv, usage, &sub, &status)) {
        return status;
    }
    while ((rc = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (rc) {
        case 't': tenant = optarg; break;
        case 'r': role_name = optarg; break;
        case 'l': label = optarg; break;
        case 'p': platform = 1; break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_usage_error(usage);
        }
    }
    if (strcmp(sub, "add") == 0) {
        if (optind != argc - 1 || (platform && (tenant != NULL || role_name != NULL)) ||
            (!platform && (tenant == NULL || role_name == NULL))) {
            fprintf(stderr, "modax key add: give --tenant T --role R, or --platform\n");
            return CLI_USAGE;
        }
        if (platform) {
            role = MDX_ROLE_PLATFORM;
            tenant = "";
        } else if (mdx_role_parse(role_name, &role) != MDX_OK || role == MDX_ROLE_PLATFORM) {
            fprintf(stderr, "modax key add: role '%s' is not one of viewer, operator, admin\n",
                    role_name);
            return CLI_USAGE;
        }
        if (!label_ok(label)) {
            fprintf(stderr, "modax key add: the label must be at most %d bytes of printable "
                            "text\n", MDX_NAME_MAX);
            return CLI_USAGE;
        }
    } else if (strcmp(sub, "list") == 0) {
        if (optind != argc - 1 || role_name != NULL || platform || label[0] != '\0') {
            return cli_usage_error(usage);
        }
    } else if (strcmp(sub, "revoke") == 0) {
        if (optind != argc - 2 || tenant != NULL || role_name != NULL || platform ||
            label[0] != '\0') {
            return cli_usage_error(usage);
        }
    } else {
        return cli_usage_error(usage);
    }
    status = cli_open(&conf, &st);
    if (status != CLI_OK) {
        return status;
    }
    if (strcmp(sub, "add") == 0) {
        rc = add(st, tenant, role, label);
    } else if (strcmp(sub, "list") == 0) {
        rc = list(st, tenant);
    } else {
        rc = revoke(st, argv[argc - 1]);
    }
    return cli_finish(&conf, st, rc);
}
