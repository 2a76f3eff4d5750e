/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_text.c - writing the Prometheus text exposition format (0.0.4)
 * into a growing buffer: formatted lines, escaped label values and
 * sample values. The buffer stops growing at METRICS_PAGE_MAX; past that
 * (or out of memory) it is marked and the caller answers 500.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"

#include "api/metrics_int.h"

/* Makes room for 'more' bytes plus the NUL; 0 on success. */
static int reserve(struct metrics_buf *b, size_t more)
{
    if (b->oom) {
        return -1;
    }
    if (b->len + more + 1 <= b->cap) {
        return 0;
    }
    if (b->len + more + 1 > METRICS_PAGE_MAX) {
        b->oom = 1;
        return -1;
    }
    size_t cap = b->cap == 0 ? 16384 : b->cap;
    while (cap < b->len + more + 1) {
        cap *= 2;
    }
    if (cap > METRICS_PAGE_MAX) {
        cap = METRICS_PAGE_MAX;
    }
    char *p = mdx_realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void metrics_buf_append(struct metrics_buf *b, const char *s, size_t len)
{
    if (reserve(b, len) != 0) {
        return;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void metrics_buf_printf(struct metrics_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        metrics_buf_append(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) != 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void metrics_buf_label(struct metrics_buf *b, const char *s)
{
    const char *run = s;

    for (; *s != '\0'; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (esc != NULL) {
            metrics_buf_append(b, run, (size_t)(s - run));
            metrics_buf_append(b, esc, 2);
            run = s + 1;
        }
    }
    metrics_buf_append(b, run, (size_t)(s - run));
}

void metrics_buf_value(struct metrics_buf *b, double v)
{
    char txt[40];

    if (isnan(v)) {
        metrics_buf_append(b, "NaN", 3);
        return;
    }
    if (isinf(v)) {
        metrics_buf_append(b, v > 0 ? "+Inf" : "-Inf", 4);
        return;
    }
    /* The shortest of 15 or 17 significant digits that reads back as the same double. */
    snprintf(txt, sizeof(txt), "%.15g", v);
    if (strtod(txt, NULL) != v) {
        snprintf(txt, sizeof(txt), "%.17g", v);
    }
    metrics_buf_append(b, txt, strlen(txt));
}

void metrics_buf_free(struct metrics_buf *b)
{
    MDX_FREE(b->p);
    b->len = b->cap = 0;
}
