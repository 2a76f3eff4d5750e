/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_command_limits.c - fuzz target for a device's safety limits
 * document and the check of an operator's command against it
 * (mdx_limits_check, mdx_command_check in src/command/command.c).
 *
 * Input: a first line "name value" (the command), then the limits JSON.
 * Limits that pass mdx_limits_check must hold: each parameter accepts its
 * min, its max and their midpoint, refuses a value just outside, and
 * refuses everything during an emergency stop. A command that passes the
 * check must name a parameter of the limits and lie within its range (read
 * here with cJSON); a refusal must say why.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "modax/command.h"
#include "modax/status.h"
#include "modax/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const struct mdx_device_config *cfg, const struct mdx_device_info *dev,
                 const char *name, double value)
{
    char why[256] = "";
    int rc = mdx_command_check(cfg, dev, name, value, why, sizeof(why));

    if (rc != MDX_OK && why[0] == '\0') {
        abort();
    }
    return rc;
}

/* Every parameter of limits that passed mdx_limits_check behaves as its range says. */
static void holds(const struct mdx_device_config *cfg, const cJSON *root)
{
    struct mdx_device_info stop;
    const cJSON *e;

    memset(&stop, 0, sizeof(stop));
    stop.emergency_stop = 1;
    cJSON_ArrayForEach(e, root) {
        double min = cJSON_GetObjectItemCaseSensitive(e, "min")->valuedouble;
        double max = cJSON_GetObjectItemCaseSensitive(e, "max")->valuedouble;
        double below = nextafter(min, -INFINITY), above = nextafter(max, INFINITY);

        if (check(cfg, NULL, e->string, min) != MDX_OK ||
            check(cfg, NULL, e->string, max) != MDX_OK ||
            check(cfg, NULL, e->string, min / 2 + max / 2) != MDX_OK ||
            check(cfg, &stop, e->string, min) != MDX_EDENIED) {
            abort();
        }
        if ((isfinite(below) && check(cfg, NULL, e->string, below) == MDX_OK) ||
            (isfinite(above) && check(cfg, NULL, e->string, above) == MDX_OK)) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mdx_device_config cfg;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t cl = nl != NULL ? (size_t)(nl - data) : size, jl;
    char cmd[128], *sp, why[256] = "";
    const cJSON *entry;
    cJSON *root;
    double value;
    int lim;

    if (cl >= sizeof(cmd)) {
        cl = sizeof(cmd) - 1;
    }
    memcpy(cmd, data, cl);
    cmd[cl] = '\0';
    sp = strchr(cmd, ' ');
    value = sp != NULL ? strtod(sp + 1, NULL) : 0;
    if (sp != NULL) {
        *sp = '\0';
    }
    jl = nl != NULL ? size - (size_t)(nl + 1 - data) : 0;
    if (jl >= sizeof(cfg.limits)) {
        jl = sizeof(cfg.limits) - 1;
    }
    memcpy(cfg.limits, nl != NULL ? nl + 1 : data, jl);
    cfg.limits[jl] = '\0';

    lim = mdx_limits_check(cfg.limits, why, sizeof(why));
    if (lim != MDX_OK && why[0] == '\0') {
        abort();
    }
    root = cJSON_Parse(cfg.limits);
    if (lim == MDX_OK) {
        holds(&cfg, root);
    }
    if (check(&cfg, NULL, cmd, value) == MDX_OK) {
        entry = cJSON_GetObjectItemCaseSensitive(root, cmd);
        if (!isfinite(value) || entry == NULL ||
            !(value >= cJSON_GetObjectItemCaseSensitive(entry, "min")->valuedouble) ||
            !(value <= cJSON_GetObjectItemCaseSensitive(entry, "max")->valuedouble)) {
            abort();
        }
    }
    cJSON_Delete(root);
    return 0;
}
