/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serve_stages.h - the stages of the ingest of `modax serve`: which ones
 * this configuration wants, made from what the command has built, added
 * to the engine in their order (serve_stages.c holds the table).
 */
#ifndef MODAX_CLI_SERVE_STAGES_H
#define MODAX_CLI_SERVE_STAGES_H

#include "cli/cli.h"

/*
 * What `modax serve` has built before its stages, for their create
 * functions; all borrowed, and alive until the stages are destroyed. A
 * stage whose context another role owns (alerting, which the api reads;
 * a live stream fed to the api's hub) takes it from here.
 */
struct serve_parts {
    const struct cli_conf *conf;
    struct mdx_store *store;          /* the engine's (writer thread's) store handle */
    mdx_publish_fn publish;           /* the MQTT source's publish, with its argument */
    void *publish_arg;
    struct mdx_dispatch *dispatch;    /* alert sinks; NULL when alerting is off */
    struct mdx_alerting *alerting;    /* NULL when alert.detect and alert.rules are off */
    struct mdx_api *api;              /* NULL unless the api role runs in this process */
};

/* The stages made for one engine: one context per line of the table (NULL: not wanted). */
struct serve_stages {
    void *ctx[MDX_ENGINE_STAGES_MAX];
    size_t n;                         /* lines of the table made (or tried) so far */
};

/*
 * Makes the stages this configuration wants from 'parts' and adds them to
 * 'e' (before mdx_engine_start), in the table's order. On failure logs
 * which stage and what to check, and returns its error; what was made is
 * still freed by serve_stages_destroy(). 's' starts zeroed.
 */
int serve_stages_add(struct serve_stages *s, const struct serve_parts *parts,
                     struct mdx_engine *e);
/* Frees the stages' contexts (those this table owns); call once the engine has stopped. */
void serve_stages_destroy(struct serve_stages *s);

#endif
