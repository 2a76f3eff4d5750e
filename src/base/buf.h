/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.h - the one growable byte buffer: NUL-terminated, with a hard cap
 * and a sticky error (like curl's dynbuf). Every module that builds text
 * of unknown length (JSON replies, metrics, signed requests) uses it.
 */
#ifndef MODAX_BASE_BUF_H
#define MODAX_BASE_BUF_H

#include <stddef.h>

/*
 * A growable, NUL-terminated byte buffer with a maximum size. Errors are
 * sticky: after a failed append 'err' holds MDX_ENOMEM or MDX_EFULL and
 * further appends do nothing, so a caller may check once at the end.
 */
struct mdx_buf {
    char *p;    /* NUL-terminated; NULL until the first append */
    size_t len; /* bytes, without the NUL */
    size_t cap;
    size_t max; /* most bytes it may hold */
    int err;
};

void mdx_buf_init(struct mdx_buf *b, size_t max);
void mdx_buf_fini(struct mdx_buf *b); /* frees the bytes; the struct may be reused after init */
int mdx_buf_add(struct mdx_buf *b, const void *d, size_t n);
int mdx_buf_adds(struct mdx_buf *b, const char *s);
int mdx_buf_addf(struct mdx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string ("" when empty; never NULL). Borrowed. */
const char *mdx_buf_str(const struct mdx_buf *b);
/* Hands the bytes to the caller (mdx_free), or NULL on a sticky error; 'b' is empty after. */
char *mdx_buf_take(struct mdx_buf *b);

#endif
