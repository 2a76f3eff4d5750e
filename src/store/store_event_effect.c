/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_event_effect.c - what a stored event changes on its device or
 * command (see store_event_int.h), read from the event's compact JSON body.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "modax/status.h"
#include "store/store_event_int.h"

/* The safety keys and the value at which each one's interlock holds. */
static const struct {
    const char *key;
    unsigned bit;
    int holds_when;
} interlock_keys[] = {
    {"emergency_stop", MDX_INTERLOCK_EMERGENCY_STOP, 1},
    {"door_closed", MDX_INTERLOCK_DOOR_OPEN, 0},
    {"overload_detected", MDX_INTERLOCK_OVERLOAD, 1},
    {"temperature_ok", MDX_INTERLOCK_TEMPERATURE, 0},
};

const char *mdx_interlock_name(unsigned bit)
{
    switch (bit) {
    case MDX_INTERLOCK_EMERGENCY_STOP:
        return "emergency_stop";
    case MDX_INTERLOCK_DOOR_OPEN:
        return "door_open";
    case MDX_INTERLOCK_OVERLOAD:
        return "overload";
    case MDX_INTERLOCK_TEMPERATURE:
        return "temperature";
    default:
        return "unknown";
    }
}

/* Copies a JSON string into buf, truncating at a UTF-8 character boundary. */
static void copy_truncated(char *buf, size_t len, const char *s)
{
    size_t n = strlen(s);

    if (n >= len) {
        n = len - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--; /* s[n] continues a character: cut before that character */
        }
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
}

int mdx_store_event_effect(const struct mdx_event *ev, struct mdx_event_effect *out)
{
    cJSON *root;
    const cJSON *item;

    memset(out, 0, sizeof(*out));
    out->ts_ms = ev->ts_ms;
    if (ev->kind != MDX_MSG_STATUS && ev->kind != MDX_MSG_SAFETY &&
        ev->kind != MDX_MSG_COMMAND_ACK) {
        return MDX_OK;
    }
    root = cJSON_ParseWithLength(ev->body, strnlen(ev->body, MDX_EVENT_BODY_MAX));
    if (root == NULL) {
        /* Bodies were produced by the decoder; only memory can fail here. */
        return ev->body[0] == '\0' ? MDX_OK : MDX_ENOMEM;
    }
    switch (ev->kind) {
    case MDX_MSG_STATUS:
        item = cJSON_GetObjectItemCaseSensitive(root, "state");
        if (cJSON_IsString(item) && item->valuestring[0] != '\0' &&
            strlen(item->valuestring) < sizeof(out->status)) {
            out->kind = MDX_EFFECT_STATUS;
            snprintf(out->status, sizeof(out->status), "%s", item->valuestring);
        }
        break;
    case MDX_MSG_SAFETY:
        for (size_t i = 0; i < sizeof(interlock_keys) / sizeof(interlock_keys[0]); i++) {
            item = cJSON_GetObjectItemCaseSensitive(root, interlock_keys[i].key);
            if (cJSON_IsBool(item)) {
                out->kind = MDX_EFFECT_SAFETY;
                out->interlock_mask |= interlock_keys[i].bit;
                if (cJSON_IsTrue(item) == interlock_keys[i].holds_when) {
                    out->interlock_bits |= interlock_keys[i].bit;
                }
            }
        }
        out->emergency_stop = (out->interlock_bits & MDX_INTERLOCK_EMERGENCY_STOP) != 0;
        break;
    default:
        if (ev->command_id > 0) {
            out->kind = MDX_EFFECT_ACK;
            out->command_id = ev->command_id;
            out->command_state = ev->command_ok ? MDX_COMMAND_ACKED : MDX_COMMAND_REJECTED;
            item = cJSON_GetObjectItemCaseSensitive(root, "detail");
            if (cJSON_IsString(item)) {
                copy_truncated(out->detail, sizeof(out->detail), item->valuestring);
            }
        }
        break;
    }
    cJSON_Delete(root);
    return MDX_OK;
}

void mdx_store_event_topic(const char *tenant, const char *device, int kind, char *buf,
                           size_t len)
{
    snprintf(buf, len, "modax/%s/%s/%s", tenant, device,
             mdx_msg_kind_name((enum mdx_msg_kind)kind));
}
