/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc.h - allocation wrappers.
 *
 * All project allocations go through these so that tests can make the
 * n-th allocation fail (mdx_alloc_fail_after) and check the error paths.
 */
#ifndef MODAX_ALLOC_H
#define MODAX_ALLOC_H

#include <stddef.h>

void *mdx_malloc(size_t size);
void *mdx_calloc(size_t n, size_t size);
/* Like realloc(); on failure the old block is untouched and NULL returned. */
void *mdx_realloc(void *p, size_t size);
void mdx_free(void *p);
/* Copy of 's' (NULL gives NULL); the caller frees it with mdx_free(). */
char *mdx_strdup(const char *s);
/* Copy of the first 'n' bytes of 's', NUL-terminated; caller frees it. */
char *mdx_strndup(const char *s, size_t n);
/* Overwrites 'n' bytes at 'p' with zeros in a way the compiler keeps. */
void mdx_memzero(void *p, size_t n);

/* Test hook: after 'n' more successful allocations every one fails; -1 turns it off. */
void mdx_alloc_fail_after(long n);

#define MDX_FREE(p)                                                                                \
    do {                                                                                           \
        mdx_free(p);                                                                               \
        (p) = NULL;                                                                                \
    } while (0)

#endif
