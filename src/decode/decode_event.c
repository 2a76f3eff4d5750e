/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decode_event.c - safety, status and command_ack payloads to events.
 *
 * Safety: a JSON object with the booleans emergency_stop, door_closed,
 * overload_detected, temperature_ok (at least one of them), and an
 * optional "timestamp". Status: a JSON object such as {"state":"online"},
 * or the bare words online/offline that a Last Will carries. Command_ack
 * (issue 5, see command.h): {"command_id":42,"status":"ok"|"rejected"}
 * with an optional string "detail", optional "device_id" and "timestamp";
 * the command id and outcome also go into the event's fields. The event
 * body is the payload as compact JSON, bounded by MDX_EVENT_BODY_MAX.
 * Events are stored, never acted on here.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"

#include "decode_internal.h"

static const char *const safety_keys[] = {
    "emergency_stop",
    "door_closed",
    "overload_detected",
    "temperature_ok",
};

static const char *const status_words[] = {"online", "offline"};

/* The bare status word that 'p' (length n) is exactly, or NULL. */
static const char *bare_status_word(const uint8_t *p, size_t n)
{
    size_t k;

    for (k = 0; k < sizeof(status_words) / sizeof(status_words[0]); k++) {
        if (strlen(status_words[k]) == n && memcmp(status_words[k], p, n) == 0) {
            return status_words[k];
        }
    }
    return NULL;
}

static int check_safety(const cJSON *root, const char **why)
{
    const cJSON *item;
    size_t k, known = 0;

    for (k = 0; k < sizeof(safety_keys) / sizeof(safety_keys[0]); k++) {
        item = cJSON_GetObjectItemCaseSensitive(root, safety_keys[k]);
        if (item == NULL) {
            continue;
        }
        if (!cJSON_IsBool(item)) {
            *why = "wrong type";
            return MDX_EINVAL;
        }
        known++;
    }
    if (known == 0) {
        *why = "unknown form";
        return MDX_EINVAL;
    }
    return MDX_OK;
}

/* The largest command id taken: integers up to 2^53 are exact in a JSON number. */
#define COMMAND_ID_MAX 9007199254740992.0

/* Checks a command_ack object and fills the event's command fields. */
static int check_ack(const cJSON *root, struct mdx_event *ev, const char **why)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "command_id");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
    double v;

    if (!cJSON_IsNumber(id)) {
        *why = "bad command_id";
        return MDX_EINVAL;
    }
    v = id->valuedouble;
    if (!isfinite(v) || v < 1.0 || v > COMMAND_ID_MAX || floor(v) != v) {
        *why = "bad command_id";
        return MDX_EINVAL;
    }
    if (!cJSON_IsString(st) ||
        (strcmp(st->valuestring, "ok") != 0 && strcmp(st->valuestring, "rejected") != 0)) {
        *why = "bad ack status";
        return MDX_EINVAL;
    }
    if (detail != NULL && !cJSON_IsString(detail)) {
        *why = "wrong type";
        return MDX_EINVAL;
    }
    ev->command_id = (int64_t)v;
    ev->command_ok = strcmp(st->valuestring, "ok") == 0;
    return MDX_OK;
}

int mdx_decode_event(const struct mdx_msg *msg, struct mdx_event *ev, const char **why)
{
    const char *word;
    cJSON *root = NULL;
    int64_t ts;
    int present, rc;

    ev->kind = msg->kind;
    ev->ts_ms = msg->recv_ms;
    ev->flags = 0;
    ev->body[0] = '\0';
    ev->command_id = 0;
    ev->command_ok = 0;
    if (msg->kind != MDX_MSG_SAFETY && msg->kind != MDX_MSG_STATUS &&
        msg->kind != MDX_MSG_COMMAND_ACK) {
        *why = "unknown form";
        return MDX_EINVAL;
    }
    if (msg->kind == MDX_MSG_STATUS && msg->payload != NULL &&
        (word = bare_status_word(msg->payload, msg->len)) != NULL) {
        snprintf(ev->body, sizeof(ev->body), "{\"state\":\"%s\"}", word);
        ev->flags = MDX_POINT_TS_SUBSTITUTED;
        return MDX_OK;
    }
    rc = mdx_decode_parse(msg->payload, msg->len, &root, why);
    if (rc != MDX_OK) {
        return rc;
    }
    if (!cJSON_IsObject(root)) {
        *why = "unknown form";
        rc = MDX_EINVAL;
        goto cleanup;
    }
    /* The topic is the authority on the device here too. */
    rc = mdx_decode_device(root, msg, why);
    if (rc != MDX_OK) {
        goto cleanup;
    }
    if (msg->kind == MDX_MSG_SAFETY) {
        rc = check_safety(root, why);
        if (rc != MDX_OK) {
            goto cleanup;
        }
    }
    if (msg->kind == MDX_MSG_COMMAND_ACK) {
        rc = check_ack(root, ev, why);
        if (rc != MDX_OK) {
            goto cleanup;
        }
    }
    rc = mdx_decode_timestamp(root, &ts, &present, why);
    if (rc != MDX_OK) {
        goto cleanup;
    }
    if (!present) {
        ev->flags = MDX_POINT_TS_SUBSTITUTED; /* ts_ms is recv_ms already */
    } else {
        if (mdx_validate_clock(&ts, msg->recv_ms)) {
            ev->flags = MDX_POINT_TS_SUBSTITUTED;
        }
        ev->ts_ms = ts;
    }
    /* Fails when the compact JSON does not fit (cJSON keeps a few bytes of slack). */
    if (!cJSON_PrintPreallocated(root, ev->body, (int)sizeof(ev->body), 0)) {
        ev->body[0] = '\0';
        *why = "payload too large";
        rc = MDX_EINVAL;
        goto cleanup;
    }
    rc = MDX_OK;

cleanup:
    cJSON_Delete(root);
    return rc;
}
