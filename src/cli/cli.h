/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - what the `modax` subcommands share: configuration, store, exit codes.
 */
#ifndef MODAX_CLI_H
#define MODAX_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "modax/alert.h"
#include "modax/alerting.h"
#include "modax/api.h"
#include "modax/archive.h"
#include "modax/auth.h"
#include "modax/command_path.h"
#include "modax/engine.h"
#include "modax/rul_live.h"
#include "modax/source.h"
#include "modax/store.h"

/* Exit codes of every command. */
enum cli_exit {
    CLI_OK = 0,
    CLI_FAIL = 1,      /* runtime failure: store, broker, I/O */
    CLI_USAGE = 2,     /* bad command line or configuration */
    CLI_NOTFOUND = 3,  /* the named tenant/device does not exist */
    CLI_EXISTS = 4     /* it exists already */
};

struct cli_log_conf {
    char *level;
    char *format;
    int64_t suppress_ms;
};

/* Every module's configuration, loaded once per command. */
struct cli_conf {
    struct cli_log_conf log;
    struct mdx_store_conf store;
    struct mdx_engine_conf ingest;
    struct mdx_mqtt_conf mqtt;
    struct mdx_kafka_conf kafka;
    struct mdx_pubsub_conf pubsub;
    struct mdx_archive_conf archive;
    struct mdx_objstore_conf objstore;
    struct mdx_alerting_conf alerting;
    struct mdx_sink_conf sinks;
    struct mdx_api_conf api;
    struct mdx_auth_conf auth;
    struct mdx_rul_live_conf rul;
    struct mdx_command_conf command;
};

/* Config file named by --config, else $MODAX_CONFIG, else none (NULL). */
extern const char *cli_config_path;

/* Loads the configuration and sets up logging; prints the error and returns CLI_USAGE on failure. */
int cli_conf_load(struct cli_conf *c);
void cli_conf_fini(struct cli_conf *c);
/* Writes the configuration reference (markdown when md) to 'out'. */
void cli_conf_describe(FILE *out, int md);
/* Opens the configured store; prints what to do and returns NULL on failure. */
struct mdx_store *cli_store_open(struct cli_conf *c);
/*
 * Loads the configuration into 'c' and opens the configured store into '*st', printing
 * what went wrong. Returns CLI_OK, after which the caller calls cli_close(), or the exit
 * code to return (CLI_USAGE: bad configuration, CLI_FAIL: no store) with nothing to close.
 */
int cli_open(struct cli_conf *c, struct mdx_store **st);
/* Closes the store and frees the configuration from a successful cli_open(). */
void cli_close(struct cli_conf *c, struct mdx_store *st);
/* cli_close(), then the exit code for the command's status 'rc' (cli_exit_for). */
int cli_finish(struct cli_conf *c, struct mdx_store *st, int rc);
/* 's' as a whole number > 0 (all of it, e.g. an id); -1 if it is not one. */
int64_t cli_parse_positive(const char *s);
/* Nonzero if 's' may name a tenant, device or identity: one topic segment. */
int cli_valid_name(const char *s);
/*
 * --severity 's' into '*out' (enum mdx_severity). Returns CLI_OK, or CLI_USAGE after printing
 * what is wrong, prefixed with 'cmd' ("modax rule add").
 */
int cli_parse_severity(const char *cmd, const char *s, int *out);
/* A listed record's times: 'created' as ISO time, 'revoked' too or "-" while it is not. */
struct cli_times {
    char created[40], revoked[40];
};
void cli_times_format(struct cli_times *t, int64_t created_ms, int64_t revoked_ms);
/* Prints usage() to stderr and returns CLI_USAGE: the answer to a bad command line. */
int cli_usage_error(void (*usage)(FILE *out));
/* Maps a status to an exit code. */
int cli_exit_for(int status);
/*
 * Says how `modax CMD revoke ID` went for store status 'rc': "CMD ID revoked<after>"
 * on stdout, or on stderr "<missing> 'ID'" (MDX_ENOTFOUND), "revoked already"
 * (MDX_EEXIST) or the error. Returns 'rc'.
 */
int cli_revoke_report(const char *cmd, const char *missing, const char *id, const char *after,
                      int rc);
/*
 * Takes the subcommand of `modax CMD SUB [options]` (argv[1]) into *sub and readies
 * getopt_long() for the options after it (on argc - 1, argv + 1). Returns 1 if there is one
 * to run; else 0 with the exit code in *status: CLI_OK after -h/--help printed usage() to
 * stdout, CLI_USAGE after none given printed it to stderr.
 */
int cli_subcommand(int argc, char **argv, void (*usage)(FILE *out), const char **sub,
                   int *status);

/* Subcommands: argv[0] is the subcommand's name. */
int cmd_serve(int argc, char **argv);
int cmd_tenant(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_deadletters(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_rule(int argc, char **argv);
int cmd_alert(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_ca(int argc, char **argv);
/* Whether `modax device` argv is about broker credentials (cmd_device_cred.c), which then runs it. */
int cli_device_cred_handles(int argc, char **argv);
int cmd_device_cred(int argc, char **argv);
int cmd_identity(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_rul(int argc, char **argv);

#endif
