/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate.c - the validate stage: topics, names, UTF-8, numbers, clocks.
 *
 * Pure functions without I/O or allocation; they run for every message.
 * Refusals set *why to a static string, which the engine counts and
 * stores with the dead letter. Registration of tenant and device is the
 * engine's business (registry.h), not checked here.
 */
#include <math.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"

#define TOPIC_ROOT "modax"
#define TOPIC_LEVELS 4 /* modax/{tenant}/{device}/{kind} */

/* Indexed by enum mdx_msg_kind; also the last level of the topic. */
static const char *const kind_names[] = {
    [MDX_MSG_SENSOR_DATA] = "sensor_data",
    [MDX_MSG_SAFETY] = "safety",
    [MDX_MSG_STATUS] = "status",
    [MDX_MSG_COMMAND_ACK] = "command_ack",
};

#define KIND_COUNT (sizeof(kind_names) / sizeof(kind_names[0]))

const char *mdx_msg_kind_name(enum mdx_msg_kind kind)
{
    if ((unsigned)kind >= KIND_COUNT) {
        return "unknown";
    }
    return kind_names[kind];
}

/* Kind whose name is 's' (length n), or -1. */
static int kind_from_name(const char *s, size_t n)
{
    size_t k;

    for (k = 0; k < KIND_COUNT; k++) {
        if (strlen(kind_names[k]) == n && memcmp(kind_names[k], s, n) == 0) {
            return (int)k;
        }
    }
    return -1;
}

static int is_segment_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static int is_sensor_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * 1 if 's' is 1..MDX_NAME_MAX characters of a sensor name ('sensor') or a
 * topic segment. Static with a constant 'sensor' at each call: the compiler
 * makes one loop of each, as it was written before.
 */
static inline int valid_name(const char *s, size_t n, int sensor)
{
    if (s == NULL || n == 0 || n > MDX_NAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(sensor ? is_sensor_char(c) : is_segment_char(c))) {
            return 0;
        }
    }
    return 1;
}

int mdx_valid_segment(const char *s, size_t n)
{
    return valid_name(s, n, 0);
}

int mdx_valid_sensor(const char *s, size_t n)
{
    return valid_name(s, n, 1);
}

int mdx_validate_topic(const char *topic, struct mdx_msg *msg, const char **why)
{
    const char *seg[TOPIC_LEVELS];
    size_t len[TOPIC_LEVELS];
    size_t nseg = 0;
    const char *start, *p;
    int kind;

    if (topic == NULL) {
        *why = "bad topic";
        return MDX_EINVAL;
    }
    /* Split on '/'; one pass, stopping as soon as there are too many levels. */
    start = topic;
    for (p = topic;; p++) {
        if (*p != '/' && *p != '\0') {
            continue;
        }
        if (nseg == TOPIC_LEVELS) {
            *why = "bad topic";
            return MDX_EINVAL;
        }
        seg[nseg] = start;
        len[nseg] = (size_t)(p - start);
        nseg++;
        if (*p == '\0') {
            break;
        }
        start = p + 1;
    }
    if (nseg != TOPIC_LEVELS || len[0] != strlen(TOPIC_ROOT) ||
        memcmp(seg[0], TOPIC_ROOT, len[0]) != 0) {
        *why = "bad topic";
        return MDX_EINVAL;
    }
    kind = kind_from_name(seg[3], len[3]);
    if (kind < 0) {
        *why = "bad topic";
        return MDX_EINVAL;
    }
    if (!mdx_valid_segment(seg[1], len[1]) || !mdx_valid_segment(seg[2], len[2])) {
        *why = "bad topic segment";
        return MDX_EINVAL;
    }
    /* Lengths are at most MDX_NAME_MAX here, so both copies fit. */
    memcpy(msg->tenant, seg[1], len[1]);
    msg->tenant[len[1]] = '\0';
    memcpy(msg->device, seg[2], len[2]);
    msg->device[len[2]] = '\0';
    msg->kind = (enum mdx_msg_kind)kind;
    return MDX_OK;
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates (U+D800 to
 * U+DFFF), nothing above U+10FFFF, no truncated sequences. Runs over
 * every payload, so ASCII is skipped eight bytes at a time.
 */
int mdx_valid_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0, k, need;
    uint64_t word;
    uint32_t cp, min;

    while (i < n) {
        if (n - i >= sizeof(word)) {
            memcpy(&word, p + i, sizeof(word));
            if ((word & 0x8080808080808080ULL) == 0) {
                i += sizeof(word);
                continue;
            }
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if (p[i] >= 0xC2 && p[i] <= 0xDF) { /* C0 and C1 could only start overlongs */
            need = 1;
            cp = p[i] & 0x1Fu;
            min = 0x80;
        } else if ((p[i] & 0xF0) == 0xE0) {
            need = 2;
            cp = p[i] & 0x0Fu;
            min = 0x800;
        } else if (p[i] >= 0xF0 && p[i] <= 0xF4) {
            need = 3;
            cp = p[i] & 0x07u;
            min = 0x10000;
        } else { /* a stray continuation byte, or F5..FF */
            return 0;
        }
        if (n - i - 1 < need) {
            return 0;
        }
        for (k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}

int mdx_validate_clock(int64_t *ts_ms, int64_t recv_ms)
{
    int64_t ts = *ts_ms;

    /* ts - recv_ms is computed unsigned: it cannot overflow, and ts > recv_ms there. */
    if (ts >= MDX_TS_MIN_MS &&
        (ts <= recv_ms || (uint64_t)ts - (uint64_t)recv_ms <= (uint64_t)MDX_TS_MAX_AHEAD_MS)) {
        return 0;
    }
    *ts_ms = recv_ms;
    return 1;
}

int mdx_validate_points(struct mdx_points *pts, int64_t recv_ms, const char **why)
{
    struct mdx_point *p;
    size_t i;

    /* Check everything before changing anything: a refused message is left as decoded. */
    for (i = 0; i < pts->n; i++) {
        p = &pts->v[i];
        if (!isfinite(p->value)) {
            *why = "non-finite number";
            return MDX_EINVAL;
        }
        if (fabs(p->value) > MDX_VALUE_ABS_MAX) {
            *why = "value out of range";
            return MDX_EINVAL;
        }
        if (!mdx_valid_sensor(p->sensor, p->sensor_len)) {
            *why = "bad sensor name";
            return MDX_EINVAL;
        }
    }
    /* Out-of-order timestamps are fine; only implausible ones are replaced. */
    for (i = 0; i < pts->n; i++) {
        p = &pts->v[i];
        if (mdx_validate_clock(&p->ts_ms, recv_ms)) {
            p->flags |= MDX_POINT_TS_SUBSTITUTED;
        }
    }
    return MDX_OK;
}
