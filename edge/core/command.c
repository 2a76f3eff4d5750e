/* SPDX-License-Identifier: Apache-2.0 */
/*
 * command.c - the bounded parser of command payloads; see command.h.
 *
 * Syntax errors stop the pass; a member that is well-formed JSON but not
 * what a command allows (unknown name, wrong type, out of range) is
 * remembered and the pass goes on, so command_id is found wherever it
 * stands and the device can still answer with a rejection.
 */
#include "command.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "modax/status.h"

struct cursor {
    const char *p;
    const char *end;
};

/* A token's bytes inside the payload (not NUL-terminated). */
struct span {
    const char *s;
    size_t n;
    int escaped;    /* string: held a backslash escape */
    int integer;    /* number: no fraction, no exponent */
    int negative;   /* number: leading '-' */
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

static int at(const struct cursor *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_hex(char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* A JSON string at the cursor; 'sp' gets its raw content. 0, or -1 on bad syntax. */
static int scan_string(struct cursor *c, struct span *sp)
{
    if (!at(c, '"')) {
        return -1;
    }
    c->p++;
    sp->s = c->p;
    sp->escaped = 0;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;

        if (ch == '"') {
            sp->n = (size_t)(c->p - sp->s);
            c->p++;
            return 0;
        }
        if (ch < 0x20) {
            return -1;
        }
        if (ch == '\\') {
            sp->escaped = 1;
            if (c->end - c->p < 2) {
                return -1;
            }
            c->p++;
            if (*c->p == 'u') {
                int k;

                if (c->end - c->p < 5) {
                    return -1;
                }
                for (k = 1; k <= 4; k++) {
                    if (!is_hex(c->p[k])) {
                        return -1;
                    }
                }
                c->p += 4;
            } else if (strchr("\"\\/bfnrt", *c->p) == NULL || *c->p == '\0') {
                return -1;
            }
        }
        c->p++;
    }
    return -1; /* unterminated */
}

/* A JSON number at the cursor, by the grammar of RFC 8259. 0, or -1 on bad syntax. */
static int scan_number(struct cursor *c, struct span *sp)
{
    sp->s = c->p;
    sp->integer = 1;
    sp->negative = 0;
    if (at(c, '-')) {
        sp->negative = 1;
        c->p++;
    }
    if (at(c, '0')) {
        c->p++;
    } else if (c->p < c->end && is_digit(*c->p)) {
        while (c->p < c->end && is_digit(*c->p)) {
            c->p++;
        }
    } else {
        return -1;
    }
    if (at(c, '.')) {
        sp->integer = 0;
        c->p++;
        if (!(c->p < c->end && is_digit(*c->p))) {
            return -1;
        }
        while (c->p < c->end && is_digit(*c->p)) {
            c->p++;
        }
    }
    if (at(c, 'e') || at(c, 'E')) {
        sp->integer = 0;
        c->p++;
        if (at(c, '+') || at(c, '-')) {
            c->p++;
        }
        if (!(c->p < c->end && is_digit(*c->p))) {
            return -1;
        }
        while (c->p < c->end && is_digit(*c->p)) {
            c->p++;
        }
    }
    sp->n = (size_t)(c->p - sp->s);
    return 0;
}

static int scan_literal(struct cursor *c)
{
    static const char *const words[] = {"true", "false", "null"};
    size_t i;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);

        if ((size_t)(c->end - c->p) >= n && memcmp(c->p, words[i], n) == 0) {
            c->p += n;
            return 0;
        }
    }
    return -1;
}

/* One scalar (string, number, literal) at the cursor. 0, or -1. */
static int skip_scalar(struct cursor *c)
{
    struct span sp;

    if (at(c, '"')) {
        return scan_string(c, &sp);
    }
    if (at(c, '-') || (c->p < c->end && is_digit(*c->p))) {
        return scan_number(c, &sp);
    }
    return scan_literal(c);
}

/* `"key" :` inside an object being skipped. 0, or -1. */
static int skip_key(struct cursor *c)
{
    struct span sp;

    skip_ws(c);
    if (scan_string(c, &sp) != 0) {
        return -1;
    }
    skip_ws(c);
    if (!at(c, ':')) {
        return -1;
    }
    c->p++;
    return 0;
}

/*
 * Skips any JSON value, nested at most MDX_EDGE_CMD_DEPTH deep, with a
 * fixed stack of the closing brackets awaited. 0, or -1 on bad syntax or
 * deeper nesting.
 */
static int skip_value(struct cursor *c)
{
    char closers[MDX_EDGE_CMD_DEPTH];
    int depth = 0;

    for (;;) {
        /* A value is expected here. */
        skip_ws(c);
        if (at(c, '{') || at(c, '[')) {
            char close = *c->p == '{' ? '}' : ']';

            if (depth == MDX_EDGE_CMD_DEPTH) {
                return -1;
            }
            closers[depth++] = close;
            c->p++;
            skip_ws(c);
            if (at(c, close)) {
                c->p++;
                depth--;
            } else {
                if (close == '}' && skip_key(c) != 0) {
                    return -1;
                }
                continue;
            }
        } else if (skip_scalar(c) != 0) {
            return -1;
        }
        /* After a complete value: close containers or go on with the next element. */
        for (;;) {
            if (depth == 0) {
                return 0;
            }
            skip_ws(c);
            if (at(c, closers[depth - 1])) {
                c->p++;
                depth--;
                continue;
            }
            if (!at(c, ',')) {
                return -1;
            }
            c->p++;
            if (closers[depth - 1] == '}' && skip_key(c) != 0) {
                return -1;
            }
            break;
        }
    }
}

static int span_is(const struct span *sp, const char *word)
{
    return !sp->escaped && sp->n == strlen(word) && memcmp(sp->s, word, sp->n) == 0;
}

/* A non-negative integer literal of at most 18 digits (fits int64) into *out. */
static int span_int(const struct span *sp, int allow_negative, int64_t *out)
{
    size_t i = sp->negative ? 1 : 0;
    int64_t v = 0;

    if (!sp->integer || (sp->negative && !allow_negative) || sp->n - i > 18) {
        return -1;
    }
    for (; i < sp->n; i++) {
        v = v * 10 + (sp->s[i] - '0');
    }
    *out = sp->negative ? -v : v;
    return 0;
}

static int name_ok(const struct span *sp)
{
    size_t i;

    if (sp->escaped || sp->n < 1 || sp->n > MDX_EDGE_CMD_NAME_MAX) {
        return 0;
    }
    for (i = 0; i < sp->n; i++) {
        char ch = sp->s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '_' ||
              ch == '-')) {
            return 0;
        }
    }
    return 1;
}

enum { SEEN_ID = 1, SEEN_NAME = 2, SEEN_VALUE = 4, SEEN_TS = 8 };

/* Reads the value of member 'key'; a semantic problem goes to *problem (first one wins). */
static int member(struct cursor *c, const struct span *key, struct mdx_edge_command *out,
                  unsigned *seen, const char **problem)
{
    const char *bad = NULL;
    struct span v;
    unsigned bit = span_is(key, "command_id") ? SEEN_ID
                   : span_is(key, "name")     ? SEEN_NAME
                   : span_is(key, "value")    ? SEEN_VALUE
                   : span_is(key, "ts")       ? SEEN_TS
                                              : 0;

    if (bit == 0) {
        if (*problem == NULL) {
            *problem = "unknown member (a command has command_id, name, value, ts)";
        }
        return skip_value(c);
    }
    if (*seen & bit) {
        bad = "a member appears twice";
        if (bit == SEEN_ID) {
            out->has_id = 0; /* which one is meant? */
        }
    }
    *seen |= bit;
    if (bit == SEEN_NAME) {
        if (!at(c, '"')) {
            if (*problem == NULL) {
                *problem = bad ? bad : "name must be a string";
            }
            return skip_value(c);
        }
        if (scan_string(c, &v) != 0) {
            return -1;
        }
        if (!name_ok(&v)) {
            bad = bad ? bad : "name must be 1-64 characters of [A-Za-z0-9_-]";
        } else if (bad == NULL) {
            memcpy(out->name, v.s, v.n);
            out->name[v.n] = '\0';
        }
    } else {
        if (!(at(c, '-') || (c->p < c->end && is_digit(*c->p)))) {
            bad = bad ? bad
                  : bit == SEEN_ID    ? "command_id must be a non-negative integer"
                  : bit == SEEN_VALUE ? "value must be a number"
                                      : "ts must be an integer (epoch milliseconds)";
            if (*problem == NULL) {
                *problem = bad;
            }
            return skip_value(c);
        }
        if (scan_number(c, &v) != 0) {
            return -1;
        }
        if (bit == SEEN_ID) {
            if (span_int(&v, 0, &out->id) != 0) {
                bad = bad ? bad : "command_id must be a non-negative integer";
            } else if (bad == NULL) {
                out->has_id = 1;
            }
        } else if (bit == SEEN_TS) {
            if (span_int(&v, 1, &out->ts_ms) != 0) {
                bad = bad ? bad : "ts must be an integer (epoch milliseconds)";
            }
        } else {
            char num[MDX_EDGE_CMD_NUMBER_MAX + 1];
            double d;

            if (v.n > MDX_EDGE_CMD_NUMBER_MAX) {
                bad = bad ? bad : "value has too many digits";
            } else {
                memcpy(num, v.s, v.n);
                num[v.n] = '\0';
                d = strtod(num, NULL);
                if (!isfinite(d)) {
                    bad = bad ? bad : "value must be a finite number";
                } else {
                    out->value = d;
                }
            }
        }
    }
    if (bad != NULL && *problem == NULL) {
        *problem = bad;
    }
    return 0;
}

int mdx_edge_command_parse(const char *payload, size_t len, struct mdx_edge_command *out,
                           const char **why)
{
    struct cursor c = {payload, payload + len};
    const char *problem = NULL;
    unsigned seen = 0;
    int had_id;

    memset(out, 0, sizeof(*out));
    *why = "not a JSON object";
    if (payload == NULL) {
        return MDX_EINVAL;
    }
    skip_ws(&c);
    if (!at(&c, '{')) {
        return MDX_EINVAL;
    }
    c.p++;
    skip_ws(&c);
    if (at(&c, '}')) {
        c.p++;
    } else {
        for (;;) {
            struct span key;

            *why = "malformed JSON";
            skip_ws(&c);
            if (scan_string(&c, &key) != 0) {
                return MDX_EINVAL;
            }
            skip_ws(&c);
            if (!at(&c, ':')) {
                return MDX_EINVAL;
            }
            c.p++;
            skip_ws(&c);
            had_id = out->has_id;
            if (member(&c, &key, out, &seen, &problem) != 0) {
                return MDX_EINVAL;
            }
            skip_ws(&c);
            if (!at(&c, ',') && !at(&c, '}')) {
                out->has_id = had_id; /* "command_id":05 is not id 0 */
                return MDX_EINVAL;
            }
            if (at(&c, ',')) {
                c.p++;
                continue;
            }
            c.p++;
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) {
        *why = "data after the JSON object";
        return MDX_EINVAL;
    }
    if (problem == NULL && (seen & (SEEN_ID | SEEN_NAME | SEEN_VALUE)) !=
                               (SEEN_ID | SEEN_NAME | SEEN_VALUE)) {
        problem = !(seen & SEEN_ID)     ? "command_id is missing"
                  : !(seen & SEEN_NAME) ? "name is missing"
                                        : "value is missing";
    }
    if (problem != NULL) {
        *why = problem;
        return MDX_EINVAL;
    }
    *why = NULL;
    return MDX_OK;
}
