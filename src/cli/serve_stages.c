/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serve_stages.c - the table of the ingest's stages for `modax serve`.
 *
 * A new stage is one file implementing struct mdx_stage_ops (stage.h) and
 * one line in stages[] below: its operations, whether this configuration
 * wants it, how to make its context from what `modax serve` has built
 * (struct serve_parts) and how to free it. The engine runs the stages in
 * the table's order.
 */
#include <stddef.h>

#include "cli/serve_stages.h"
#include "modax/detect_device_stage.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "serve"

struct serve_stage {
    const struct mdx_stage_ops *ops;
    int (*wanted)(const struct serve_parts *p);
    /* The stage's context, or NULL (*err set). */
    void *(*create)(const struct serve_parts *p, int *err);
    void (*destroy)(void *ctx);       /* NULL: another role owns the context */
    const char *check;                /* what to check when create fails */
};

/* ---- live RUL (rul_live.h) ---- */

static int rul_wanted(const struct serve_parts *p)
{
    return p->conf->rul.enabled;
}

static void *rul_create(const struct serve_parts *p, int *err)
{
    /* Its alerts go through the alerting stage; without alerting it raises none. */
    return mdx_rul_live_create(&p->conf->rul, p->store, p->alerting, err);
}

static void rul_destroy(void *ctx)
{
    mdx_rul_live_destroy(ctx);
}

/* ---- device-level detection (detect_device_stage.h): alerts through alerting ---- */

static int device_wanted(const struct serve_parts *p)
{
    return p->alerting != NULL && p->conf->alerting.detect;
}

static void *device_create(const struct serve_parts *p, int *err)
{
    return mdx_device_stage_create(&p->conf->alerting, p->alerting, err);
}

static void device_destroy(void *ctx)
{
    mdx_device_stage_destroy(ctx);
}

/* ---- alerting (alerting.h): built by `modax serve`, which the api shares it with ---- */

static int alerting_wanted(const struct serve_parts *p)
{
    return p->alerting != NULL;
}

static void *alerting_context(const struct serve_parts *p, int *err)
{
    *err = MDX_OK;
    return p->alerting;
}

/* ---- the live stream of the api in this process (api.h): the api owns it ---- */

static int live_wanted(const struct serve_parts *p)
{
    return p->api != NULL;
}

static void *live_context(const struct serve_parts *p, int *err)
{
    *err = MDX_OK;
    return mdx_api_live_stage(p->api);
}

/*
 * In the order the engine runs them. RUL and device detection come before
 * alerting: the alerts they raise go with the same batch as the alerting's own.
 */
static const struct serve_stage stages[] = {
    {&mdx_rul_live_stage, rul_wanted, rul_create, rul_destroy, "rul.*"},
    {&mdx_device_stage_ops, device_wanted, device_create, device_destroy, "alert.*"},
    {&mdx_alerting_stage, alerting_wanted, alerting_context, NULL, "alert.*"},
    {&mdx_api_live_stage_ops, live_wanted, live_context, NULL, "api.*"},
};

_Static_assert(sizeof(stages) / sizeof(stages[0]) <= MDX_ENGINE_STAGES_MAX,
               "more stages than the engine runs");

int serve_stages_add(struct serve_stages *s, const struct serve_parts *parts,
                     struct mdx_engine *e)
{
    int rc = MDX_OK;

    for (s->n = 0; s->n < sizeof(stages) / sizeof(stages[0]); s->n++) {
        const struct serve_stage *st = &stages[s->n];

        s->ctx[s->n] = NULL;
        if (!st->wanted(parts)) {
            continue;
        }
        s->ctx[s->n] = st->create(parts, &rc);
        if (s->ctx[s->n] == NULL) {
            mdx_log_error(MOD, "cannot start a stage of the ingest",
                          MDX_F_STR("stage", st->ops->name), MDX_F_STR("check", st->check),
                          MDX_F_ERR(rc));
            s->n++;
            return rc != MDX_OK ? rc : MDX_ENOMEM;
        }
        rc = mdx_engine_add_stage(e, st->ops, s->ctx[s->n]);
        if (rc != MDX_OK) {
            mdx_log_error(MOD, "cannot add a stage to the ingest",
                          MDX_F_STR("stage", st->ops->name), MDX_F_ERR(rc));
            s->n++;
            return rc;
        }
    }
    return MDX_OK;
}

void serve_stages_destroy(struct serve_stages *s)
{
    /* Each borrows only what `modax serve` built, which outlives them: any order does. */
    for (size_t i = 0; i < s->n; i++) {
        if (s->ctx[i] != NULL && stages[i].destroy != NULL) {
            stages[i].destroy(s->ctx[i]);
        }
        s->ctx[i] = NULL;
    }
    s->n = 0;
}
