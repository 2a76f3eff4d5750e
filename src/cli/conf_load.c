/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf_load.c - the configuration sections every command loads, the store opener and
 * the subcommand entry every command with subcommands starts with.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/validate.h"

static const struct mdx_conf_key log_keys[] = {
    MDX_CONF_STR("log.level", "info", struct cli_log_conf, level,
                 "trace, debug, info, warn, error or off"),
    MDX_CONF_STR("log.format", "auto", struct cli_log_conf, format,
                 "auto (text on a terminal, else JSON lines), text or json"),
    MDX_CONF_INT("log.suppress_ms", "10000", 0, 3600000, struct cli_log_conf, suppress_ms,
                 "Repeats of one message within this time are counted, not printed"),
    MDX_CONF_END,
};

#define N_SECTIONS 14

static void sections(struct cli_conf *c, struct mdx_conf_section out[N_SECTIONS])
{
    out[0] = (struct mdx_conf_section){"log", log_keys, c ? &c->log : NULL};
    out[1] = (struct mdx_conf_section){"store", mdx_store_conf_keys, c ? &c->store : NULL};
    out[2] = (struct mdx_conf_section){"ingest", mdx_engine_conf_keys, c ? &c->ingest : NULL};
    out[3] = (struct mdx_conf_section){"mqtt", mdx_mqtt_conf_keys, c ? &c->mqtt : NULL};
    out[11] = (struct mdx_conf_section){"kafka", mdx_kafka_conf_keys, c ? &c->kafka : NULL};
    out[12] = (struct mdx_conf_section){"pubsub", mdx_pubsub_conf_keys, c ? &c->pubsub : NULL};
    out[4] = (struct mdx_conf_section){"archive", mdx_archive_conf_keys, c ? &c->archive : NULL};
    out[5] = (struct mdx_conf_section){"archive.store", mdx_objstore_conf_keys,
                                       c ? &c->objstore : NULL};
    out[6] = (struct mdx_conf_section){"alert", mdx_alerting_conf_keys, c ? &c->alerting : NULL};
    out[7] = (struct mdx_conf_section){"alert sinks", mdx_sink_conf_keys, c ? &c->sinks : NULL};
    out[8] = (struct mdx_conf_section){"api", mdx_api_conf_keys, c ? &c->api : NULL};
    out[9] = (struct mdx_conf_section){"auth", mdx_auth_conf_keys, c ? &c->auth : NULL};
    out[10] = (struct mdx_conf_section){"rul", mdx_rul_live_conf_keys, c ? &c->rul : NULL};
    out[13] = (struct mdx_conf_section){"command", mdx_command_conf_keys,
                                        c ? &c->command : NULL};
}

int cli_conf_load(struct cli_conf *c)
{
    struct mdx_conf_section s[N_SECTIONS];
    char err[512];
    int level;
    enum mdx_log_format format = MDX_LOG_AUTO;

    memset(c, 0, sizeof(*c));
    sections(c, s);
    if (mdx_conf_load(s, N_SECTIONS, cli_config_path, err, sizeof(err)) != MDX_OK) {
        fprintf(stderr, "modax: %s\n", err);
        cli_conf_fini(c);
        return CLI_USAGE;
    }
    level = mdx_log_level_parse(c->log.level);
    if (level < 0) {
        fprintf(stderr, "modax: log.level '%s' is not one of trace, debug, info, warn, error, off\n",
                c->log.level);
        cli_conf_fini(c);
        return CLI_USAGE;
    }
    if (strcmp(c->log.format, "text") == 0) {
        format = MDX_LOG_TEXT;
    } else if (strcmp(c->log.format, "json") == 0) {
        format = MDX_LOG_JSON;
    } else if (strcmp(c->log.format, "auto") != 0) {
        fprintf(stderr, "modax: log.format '%s' is not one of auto, text, json\n", c->log.format);
        cli_conf_fini(c);
        return CLI_USAGE;
    }
    mdx_log_setup((enum mdx_log_level)level, format, (int)c->log.suppress_ms);
    return CLI_OK;
}

void cli_conf_fini(struct cli_conf *c)
{
    struct mdx_conf_section s[N_SECTIONS];

    sections(c, s);
    for (int i = 0; i < N_SECTIONS; i++) {
        mdx_conf_fini(&s[i]);
    }
}

void cli_conf_describe(FILE *out, int md)
{
    struct mdx_conf_section s[N_SECTIONS];

    sections(NULL, s);
    mdx_conf_describe(s, N_SECTIONS, md, out);
}

struct mdx_store *cli_store_open(struct cli_conf *c)
{
    int err = MDX_OK;
    struct mdx_store *st = mdx_store_open(&c->store, &err);

    if (st == NULL && c->store.backend != NULL && strcmp(c->store.backend, "postgresql") == 0) {
        fprintf(stderr,
                "modax: cannot open the postgresql store: %s; see the store's message above "
                "and check store.pgsql.url, MODAX_STORE_PGSQL_PASSWORD(_FILE) and "
                "store.pgsql.sslmode\n",
                mdx_strerror(err));
    } else if (st == NULL) {
        fprintf(stderr,
                "modax: cannot open the %s store at '%s': %s; check store.sqlite.path "
                "(MODAX_STORE_SQLITE_PATH) and that its directory exists and is writable\n",
                c->store.backend, c->store.sqlite_path, mdx_strerror(err));
    }
    return st;
}

int cli_open(struct cli_conf *c, struct mdx_store **st)
{
    *st = NULL;
    if (cli_conf_load(c) != CLI_OK) {
        return CLI_USAGE;
    }
    *st = cli_store_open(c);
    if (*st == NULL) {
        cli_conf_fini(c);
        return CLI_FAIL;
    }
    return CLI_OK;
}

void cli_close(struct cli_conf *c, struct mdx_store *st)
{
    mdx_store_close(st);
    cli_conf_fini(c);
}

int cli_finish(struct cli_conf *c, struct mdx_store *st, int rc)
{
    cli_close(c, st);
    return cli_exit_for(rc);
}

void cli_times_format(struct cli_times *t, int64_t created_ms, int64_t revoked_ms)
{
    mdx_format_iso_ms(created_ms, t->created, sizeof(t->created));
    if (revoked_ms > 0) {
        mdx_format_iso_ms(revoked_ms, t->revoked, sizeof(t->revoked));
    } else {
        snprintf(t->revoked, sizeof(t->revoked), "-");
    }
}

int cli_usage_error(void (*usage)(FILE *out))
{
    usage(stderr);
    return CLI_USAGE;
}

int cli_exit_for(int status)
{
    switch (status) {
    case MDX_OK: return CLI_OK;
    case MDX_ENOTFOUND: return CLI_NOTFOUND;
    case MDX_EEXIST: return CLI_EXISTS;
    case MDX_EINVAL: return CLI_USAGE;
    default: return CLI_FAIL;
    }
}

/* A whole number > 0, the whole string; -1 if it is not one. */
int64_t cli_parse_positive(const char *s)
{
    char *end = NULL;
    long long v;

    if (s[0] < '0' || s[0] > '9') {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1) {
        return -1;
    }
    return v;
}

int cli_valid_name(const char *s)
{
    return mdx_valid_segment(s, strnlen(s, MDX_NAME_MAX + 1));
}

int cli_parse_severity(const char *cmd, const char *s, int *out)
{
    if (mdx_severity_parse(s, out) != MDX_OK) {
        fprintf(stderr, "%s: --severity '%s' is unknown; use info, warning or critical\n",
                cmd, s);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_revoke_report(const char *cmd, const char *missing, const char *id, const char *after,
                      int rc)
{
    if (rc == MDX_OK) {
        printf("%s %s revoked%s\n", cmd, id, after);
    } else if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax %s revoke: %s '%s' (see 'modax %s list')\n", cmd, missing, id, cmd);
    } else if (rc == MDX_EEXIST) {
        fprintf(stderr, "modax %s revoke: %s '%s' is revoked already\n", cmd, cmd, id);
    } else {
        fprintf(stderr, "modax %s revoke: %s\n", cmd, mdx_strerror(rc));
    }
    return rc;
}

int cli_subcommand(int argc, char **argv, void (*usage)(FILE *out), const char **sub,
                   int *status)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        *status = CLI_OK;
        return 0;
    }
    if (argc < 2) {
        *status = cli_usage_error(usage);
        return 0;
    }
    *sub = argv[1];
    optind = 1;
    return 1;
}
