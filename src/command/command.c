/* SPDX-License-Identifier: Apache-2.0 */
/*
 * command.c - operators' commands to devices: the safety-limit document's
 * check, the check of one command against a device's limits and safety
 * state, and the payload and topic it is published with (see command.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "modax/command.h"
#include "modax/status.h"

#define PARAM_NAME_MAX 64

/* [A-Za-z0-9_-]{1,64} */
static int param_name_ok(const char *s)
{
    size_t n = 0;

    if (s == NULL) {
        return 0;
    }
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-')) {
            return 0;
        }
    }
    return n >= 1 && n <= PARAM_NAME_MAX;
}

/* The reason for people into 'why' (may be NULL). */
static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whylen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* The finite number member 'key' of 'obj' into *out: 1, else 0. */
static int finite_member(const cJSON *obj, const char *key, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
        return 0;
    }
    *out = it->valuedouble;
    return 1;
}

/* Checks one {"min":n,"max":n} entry (only those two members). */
static int limit_entry_ok(const cJSON *entry, double *min, double *max)
{
    const cJSON *m;

    if (!cJSON_IsObject(entry)) {
        return 0;
    }
    cJSON_ArrayForEach(m, entry) {
        if (m->string == NULL || (strcmp(m->string, "min") != 0 && strcmp(m->string, "max") != 0)) {
            return 0;
        }
    }
    return finite_member(entry, "min", min) && finite_member(entry, "max", max);
}

/* Non-zero if a member of 'obj' before 'entry' has the same name. */
static int named_before(const cJSON *obj, const cJSON *entry)
{
    for (const cJSON *m = obj->child; m != entry; m = m->next) {
        if (strcmp(m->string, entry->string) == 0) {
            return 1;
        }
    }
    return 0;
}

int mdx_limits_check(const char *limits_json, char *why, size_t whylen)
{
    cJSON *root, *entry;
    double min, max;
    int rc = MDX_OK;

    if (limits_json == NULL) {
        say(why, whylen, "limits missing");
        return MDX_EINVAL;
    }
    root = cJSON_Parse(limits_json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        say(why, whylen, "limits must be a JSON object");
        return MDX_EINVAL;
    }
    cJSON_ArrayForEach(entry, root) {
        if (!param_name_ok(entry->string)) {
            say(why, whylen, "limits: parameter names are 1 to 64 of A-Z a-z 0-9 _ -");
            rc = MDX_EINVAL;
            break;
        }
        if (named_before(root, entry)) {
            /* The check reads the first one: a second would show a range never applied. */
            say(why, whylen, "limits.%s is given twice", entry->string);
            rc = MDX_EINVAL;
            break;
        }
        if (!limit_entry_ok(entry, &min, &max)) {
            say(why, whylen, "limits.%s must be {\"min\":number,\"max\":number}", entry->string);
            rc = MDX_EINVAL;
            break;
        }
        if (min > max) {
            say(why, whylen, "limits.%s: min is above max", entry->string);
            rc = MDX_EINVAL;
            break;
        }
    }
    cJSON_Delete(root);
    return rc;
}

int mdx_command_check(const struct mdx_device_config *cfg, const struct mdx_device_info *dev,
                      const char *name, double value, char *why, size_t whylen)
{
    cJSON *root;
    const cJSON *entry;
    double min, max;
    int rc = MDX_OK;

    if (!param_name_ok(name)) {
        say(why, whylen, "invalid parameter name");
        return MDX_EINVAL;
    }
    if (!isfinite(value)) {
        say(why, whylen, "value of %s is not a finite number", name);
        return MDX_EINVAL;
    }
    /* Any interlock refuses every command, whatever its limits (as the MODAX control layer). */
    if (dev != NULL && (dev->emergency_stop || dev->interlocks != 0)) {
        unsigned held = dev->interlocks | (dev->emergency_stop ? MDX_INTERLOCK_EMERGENCY_STOP : 0);
        char names[96] = "";
        for (unsigned bit = 1; bit <= MDX_INTERLOCK_TEMPERATURE; bit <<= 1) {
            if (held & bit) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof(names) - used, "%s%s", used > 0 ? ", " : "",
                         mdx_interlock_name(bit));
            }
        }
        if (held == MDX_INTERLOCK_EMERGENCY_STOP) {
            say(why, whylen, "device reports an emergency stop; %s not sent", name);
        } else {
            say(why, whylen, "device interlocks hold (%s); %s not sent", names, name);
        }
        return MDX_EDENIED;
    }
    root = cfg != NULL ? cJSON_Parse(cfg->limits) : NULL;
    entry = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, name) : NULL;
    if (entry == NULL) {
        say(why, whylen, "parameter %s has no limits on this device; not accepted", name);
        rc = MDX_EINVAL;
    } else if (!limit_entry_ok(entry, &min, &max)) {
        say(why, whylen, "limits of %s are invalid; not accepted", name);
        rc = MDX_EINVAL;
    } else if (value < min || value > max) {
        say(why, whylen, "value %g of %s is outside its limits [%g, %g]", value, name,
            min, max);
        rc = MDX_EINVAL;
    }
    cJSON_Delete(root);
    return rc;
}

/* Whole numbers as digits; others in the shortest %g form that reads back as the same double. */
static void format_number(double v, char *buf, size_t len)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, len, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
}

int mdx_command_payload(const struct mdx_command *cmd, char *buf, size_t len)
{
    char num[32];
    int n;

    if (cmd == NULL || buf == NULL || !param_name_ok(cmd->name) || !isfinite(cmd->value)) {
        return -1;
    }
    format_number(cmd->value, num, sizeof(num));
    n = snprintf(buf, len, "{\"command_id\":%lld,\"name\":\"%s\",\"value\":%s,\"ts\":%lld}",
                 (long long)cmd->id, cmd->name, num, (long long)cmd->created_ms);
    if (n < 0 || (size_t)n >= len) {
        return -1;
    }
    return n;
}

void mdx_command_topic(const char *tenant, const char *device, char *buf, size_t len)
{
    snprintf(buf, len, "modax/%s/%s/commands", tenant, device);
}

const char *mdx_command_state_name(int state)
{
    static const char *const names[] = {
        [MDX_COMMAND_SENT] = "sent",
        [MDX_COMMAND_ACKED] = "acked",
        [MDX_COMMAND_REJECTED] = "rejected",
        [MDX_COMMAND_FAILED] = "failed",
    };

    if (state < 0 || (size_t)state >= sizeof(names) / sizeof(names[0])) {
        return "unknown";
    }
    return names[state];
}
