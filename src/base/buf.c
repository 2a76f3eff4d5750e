/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.c - the growable byte buffer with a cap and a sticky error; see buf.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "modax/alloc.h"
#include "modax/status.h"

void mdx_buf_init(struct mdx_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void mdx_buf_fini(struct mdx_buf *b)
{
    MDX_FREE(b->p);
    b->len = 0;
    b->cap = 0;
    b->err = MDX_OK;
}

/* Room for 'n' more bytes and the NUL, within the cap. MDX_OK or the (sticky) error. */
static int reserve(struct mdx_buf *b, size_t n)
{
    if (b->err != MDX_OK) {
        return b->err;
    }
    if (n > b->max || b->len > b->max - n) {
        b->err = MDX_EFULL;
        return b->err;
    }
    if (b->p == NULL || b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        char *p;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = mdx_realloc(b->p, cap);
        if (p == NULL) {
            b->err = MDX_ENOMEM;
            return b->err;
        }
        b->p = p;
        b->cap = cap;
    }
    return MDX_OK;
}

int mdx_buf_add(struct mdx_buf *b, const void *d, size_t n)
{
    if (reserve(b, n) != MDX_OK) {
        return b->err;
    }
    if (n > 0) {
        memcpy(b->p + b->len, d, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    return MDX_OK;
}

int mdx_buf_adds(struct mdx_buf *b, const char *s)
{
    return mdx_buf_add(b, s, strlen(s));
}

int mdx_buf_addf(struct mdx_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = b->err != MDX_OK ? b->err : MDX_EINVAL;
        return b->err;
    }
    if ((size_t)n < sizeof(small)) {
        return mdx_buf_add(b, small, (size_t)n);
    }
    /* Rare long line: format straight into the buffer. */
    if (reserve(b, (size_t)n) != MDX_OK) {
        return b->err;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return MDX_OK;
}

const char *mdx_buf_str(const struct mdx_buf *b)
{
    return b->p != NULL ? b->p : "";
}

char *mdx_buf_take(struct mdx_buf *b)
{
    char *p;

    if (b->err != MDX_OK) {
        mdx_buf_fini(b);
        return NULL;
    }
    if (b->p == NULL && mdx_buf_add(b, "", 0) != MDX_OK) {
        return NULL;
    }
    p = b->p;
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

