/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c - structured log records to stderr, as text or one JSON object per
 * line, with repeat suppression.
 *
 * A record is formatted into a fixed stack buffer and written with one
 * write(2), so lines from different threads never interleave and logging
 * allocates nothing. A string value is cut at MAX_VALUE bytes and fields
 * that no longer fit are dropped (the record then says truncated=true);
 * the line itself is always complete, valid JSON.
 *
 * Suppression: a small table remembers when each (module, message) pair
 * was last printed. A repeat within the interval is only counted; the next
 * record printed for that pair carries suppressed=N. The table is fixed
 * (SLOTS entries), so a flood of distinct messages can evict a pair and
 * lose its pending count, but memory never grows.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "modax/clock.h"
#include "modax/log.h"

#define LINE_MAX_BYTES 4096 /* one record, newline included */
#define TAIL_RESERVE 64     /* kept free for suppressed=, truncated= and the line end */
#define MAX_VALUE 1024      /* bytes of one escaped string value before it is cut */
#define SLOTS 64            /* suppression table entries */
#define PROBE 4             /* slots searched per (module, message) pair */

struct repeat {
    uint64_t hash;      /* of module and message text; 0 = empty slot */
    int64_t last_ms;    /* monotonic time the pair was last printed */
    int64_t suppressed; /* repeats counted since then */
};

struct out {
    char *buf;
    size_t len;
    size_t cap; /* bytes usable before TAIL_RESERVE */
    int full;   /* a field did not fit; later fields are dropped */
};

_Atomic int mdx_log_threshold = MDX_LOG_INFO;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum mdx_log_format out_format = MDX_LOG_AUTO; /* AUTO until the first record */
static int suppress_ms = 10000;
static struct repeat repeats[SLOTS];

static const struct {
    const char *name;  /* as parsed and in JSON */
    const char *label; /* in text, padded to one width */
} levels[] = {
    [MDX_LOG_TRACE] = {"trace", "TRACE"}, [MDX_LOG_DEBUG] = {"debug", "DEBUG"},
    [MDX_LOG_INFO] = {"info", "INFO "},   [MDX_LOG_WARN] = {"warn", "WARN "},
    [MDX_LOG_ERROR] = {"error", "ERROR"}, [MDX_LOG_OFF] = {"off", "OFF  "},
};

void mdx_log_setup(enum mdx_log_level level, enum mdx_log_format format, int suppress)
{
    pthread_mutex_lock(&lock);
    mdx_log_threshold = (int)level;
    out_format = format;
    suppress_ms = suppress < 0 ? 0 : suppress;
    memset(repeats, 0, sizeof(repeats));
    pthread_mutex_unlock(&lock);
}

int mdx_log_level_parse(const char *name)
{
    if (name == NULL) {
        return -1;
    }
    for (int i = MDX_LOG_TRACE; i <= MDX_LOG_OFF; i++) {
        if (strcasecmp(name, levels[i].name) == 0) {
            return i;
        }
    }
    return -1;
}

/* FNV-1a over "module\0msg"; never 0, which marks an empty slot. */
static uint64_t pair_hash(const char *module, const char *msg)
{
    uint64_t h = 14695981039346656037ULL;

    for (const unsigned char *p = (const unsigned char *)module; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (const unsigned char *p = (const unsigned char *)msg; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return h == 0 ? 1 : h;
}

/*
 * Decides under the lock whether the record is printed. Returns 0 when it
 * is suppressed, else 1 with *count set to the repeats it summarises.
 * With 'always' the record is printed even within the interval (it still
 * carries and resets the pair's count).
 */
static int repeat_check(const char *module, const char *msg, int always, int64_t *count)
{
    uint64_t h;
    int64_t now;
    struct repeat *victim = NULL;

    *count = 0;
    if (suppress_ms == 0) {
        return 1;
    }
    h = pair_hash(module, msg);
    now = mdx_mono_us() / 1000;
    for (int i = 0; i < PROBE; i++) {
        struct repeat *r = &repeats[(h + (uint64_t)i) % SLOTS];
        if (r->hash == h) {
            if (!always && now - r->last_ms < suppress_ms) {
                r->suppressed++;
                return 0;
            }
            *count = r->suppressed;
            r->suppressed = 0;
            r->last_ms = now;
            return 1;
        }
        /* Else take the first empty slot, or the one printed longest ago. */
        if (victim == NULL ||
            (victim->hash != 0 && (r->hash == 0 || r->last_ms < victim->last_ms))) {
            victim = r;
        }
    }
    victim->hash = h;
    victim->last_ms = now;
    victim->suppressed = 0;
    return 1;
}

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || o->len + n > o->cap) {
        o->full = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Writes past 'cap' into the reserved tail; only for the fixed closing parts. */
static void put_tail(struct out *o, const char *s)
{
    size_t n = strlen(s);

    if (o->len + n <= LINE_MAX_BYTES) {
        memcpy(o->buf + o->len, s, n);
        o->len += n;
    }
}

/*
 * Length of the well-formed UTF-8 sequence at 'p' ('n' bytes available),
 * or 0 if it is malformed, overlong, a surrogate or above U+10FFFF.
 */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;

    if (p[0] < 0x80) {
        return 1;
    } else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    return len;
}

enum esc_mode {
    ESC_JSON,   /* inside a JSON string */
    ESC_QUOTED, /* inside a quoted text value: same escapes, raw UTF-8 */
    ESC_BARE    /* text outside quotes: quotes and backslashes stay as they are */
};

/*
 * Appends 's' escaped: JSON escapes for quotes, backslashes and control
 * characters, and U+FFFD for bytes that are not valid UTF-8 ("\ufffd" in
 * JSON, the character itself in text). Control characters are escaped in
 * text too, so a value cannot move the cursor of an operator's terminal.
 * At most MAX_VALUE bytes are written; a longer value is cut at a
 * character boundary and ends "...".
 */
static void put_escaped(struct out *o, const char *s, enum esc_mode mode)
{
    const unsigned char *p = (const unsigned char *)s;
    int json = mode == ESC_JSON;
    size_t left = strlen(s);
    size_t used = 0;
    char tmp[8];

    while (left > 0 && !o->full) {
        size_t step = 1, n;
        const char *piece = tmp;

        switch (*p) {
        case '"':
            piece = mode == ESC_BARE ? "\"" : "\\\"";
            break;
        case '\\':
            piece = mode == ESC_BARE ? "\\" : "\\\\";
            break;
        case '\n':
            piece = "\\n";
            break;
        case '\r':
            piece = "\\r";
            break;
        case '\t':
            piece = "\\t";
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
            } else if ((step = utf8_len(p, left)) == 0) {
                step = 1;
                piece = json ? "\\ufffd" : "\xef\xbf\xbd";
            } else {
                memcpy(tmp, p, step);
                tmp[step] = '\0';
            }
        }
        n = strlen(piece);
        if (used + n > MAX_VALUE) {
            puts_(o, "...");
            return;
        }
        put(o, piece, n);
        used += n;
        p += step;
        left -= step;
    }
}

/* Text values are quoted when they would not read back as one word. */
static int needs_quotes(const char *s)
{
    if (*s == '\0') {
        return 1;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f) {
            return 1;
        }
    }
    return 0;
}

static void put_int(struct out *o, int64_t v)
{
    char tmp[32];

    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    puts_(o, tmp);
}

/* Shortest of %.15g and %.17g that reads back as the same double. */
static void format_double(double v, char *tmp, size_t len)
{
    snprintf(tmp, len, "%.15g", v);
    if (strtod(tmp, NULL) != v) {
        snprintf(tmp, len, "%.17g", v);
    }
}

static void put_field_json(struct out *o, const struct mdx_field *f)
{
    char tmp[40];

    puts_(o, ",\"");
    put_escaped(o, f->key != NULL ? f->key : "", ESC_JSON);
    puts_(o, "\":");
    switch (f->type) {
    case MDX_FIELD_STR:
        if (f->s == NULL) {
            puts_(o, "null");
            break;
        }
        puts_(o, "\"");
        put_escaped(o, f->s, ESC_JSON);
        puts_(o, "\"");
        break;
    case MDX_FIELD_INT:
        put_int(o, f->i);
        break;
    case MDX_FIELD_DBL:
        /* JSON has no NaN or infinity: they travel as strings. */
        if (isnan(f->d)) {
            puts_(o, "\"nan\"");
        } else if (isinf(f->d)) {
            puts_(o, f->d > 0 ? "\"inf\"" : "\"-inf\"");
        } else {
            format_double(f->d, tmp, sizeof(tmp));
            puts_(o, tmp);
        }
        break;
    default:
        puts_(o, "null");
        break;
    }
}

static void put_field_text(struct out *o, const struct mdx_field *f)
{
    char tmp[40];

    puts_(o, " ");
    put_escaped(o, f->key != NULL ? f->key : "", ESC_BARE);
    puts_(o, "=");
    switch (f->type) {
    case MDX_FIELD_STR:
        if (f->s == NULL) {
            puts_(o, "(null)");
        } else if (needs_quotes(f->s)) {
            puts_(o, "\"");
            put_escaped(o, f->s, ESC_QUOTED);
            puts_(o, "\"");
        } else {
            put_escaped(o, f->s, ESC_BARE);
        }
        break;
    case MDX_FIELD_INT:
        put_int(o, f->i);
        break;
    case MDX_FIELD_DBL:
        format_double(f->d, tmp, sizeof(tmp));
        puts_(o, tmp);
        break;
    default:
        break;
    }
}

/* Formats one record into 'buf' (LINE_MAX_BYTES) and returns its length. */
static size_t format_record(char *buf, int json, enum mdx_log_level level, const char *module,
                            const char *msg, const struct mdx_field *fields, int n,
                            int64_t suppressed)
{
    struct out o = {buf, 0, LINE_MAX_BYTES - TAIL_RESERVE, 0};
    char ts[32], tail[48];
    int dropped = 0;

    mdx_format_iso_ms(mdx_now_ms(), ts, sizeof(ts));
    if (json) {
        puts_(&o, "{\"ts\":\"");
        puts_(&o, ts);
        puts_(&o, "\",\"level\":\"");
        puts_(&o, levels[level].name);
        puts_(&o, "\",\"module\":\"");
        put_escaped(&o, module, ESC_JSON);
        puts_(&o, "\",\"msg\":\"");
        put_escaped(&o, msg, ESC_JSON);
        puts_(&o, "\"");
    } else {
        puts_(&o, ts);
        puts_(&o, " ");
        puts_(&o, levels[level].label);
        puts_(&o, " ");
        put_escaped(&o, module, ESC_BARE);
        puts_(&o, ": ");
        put_escaped(&o, msg, ESC_BARE);
    }
    /* Module and message are capped at MAX_VALUE each, so they always fit. */
    for (int i = 0; i < n && !o.full; i++) {
        size_t mark = o.len;
        if (fields[i].type == MDX_FIELD_NONE) {
            continue;
        }
        if (json) {
            put_field_json(&o, &fields[i]);
        } else {
            put_field_text(&o, &fields[i]);
        }
        if (o.full) {
            o.len = mark; /* drop the field that did not fit, whole */
            dropped = 1;
        }
    }
    if (suppressed > 0) {
        snprintf(tail, sizeof(tail), json ? ",\"suppressed\":%" PRId64 : " suppressed=%" PRId64,
                 suppressed);
        put_tail(&o, tail);
    }
    if (dropped) {
        put_tail(&o, json ? ",\"truncated\":true" : " truncated=true");
    }
    put_tail(&o, json ? "}\n" : "\n");
    return o.len;
}

static void write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, buf, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; /* nowhere left to report a failing stderr */
        }
        buf += w;
        len -= (size_t)w;
    }
}

static void log_write(enum mdx_log_level level, int always, const char *module, const char *msg,
                      const struct mdx_field *fields, int n)
{
    char buf[LINE_MAX_BYTES];
    int64_t suppressed;
    int print, json;
    size_t len;

    if ((int)level < mdx_log_threshold || (int)level < 0 || (int)level >= (int)MDX_LOG_OFF) {
        return;
    }
    module = module != NULL ? module : "";
    msg = msg != NULL ? msg : "";
    if (fields == NULL) {
        n = 0;
    }

    pthread_mutex_lock(&lock);
    if (out_format == MDX_LOG_AUTO) {
        out_format = isatty(STDERR_FILENO) ? MDX_LOG_TEXT : MDX_LOG_JSON;
    }
    json = out_format == MDX_LOG_JSON;
    print = repeat_check(module, msg, always, &suppressed);
    pthread_mutex_unlock(&lock);
    if (!print) {
        return;
    }

    len = format_record(buf, json, level, module, msg, fields, n, suppressed);

    pthread_mutex_lock(&lock);
    write_all(buf, len);
    pthread_mutex_unlock(&lock);
}

void mdx_log_write(enum mdx_log_level level, const char *module, const char *msg,
                   const struct mdx_field *fields, int n)
{
    log_write(level, 0, module, msg, fields, n);
}

void mdx_log_write_always(enum mdx_log_level level, const char *module, const char *msg,
                          const struct mdx_field *fields, int n)
{
    log_write(level, 1, module, msg, fields, n);
}
