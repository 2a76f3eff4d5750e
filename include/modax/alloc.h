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
/*
 * The growable array of the tree: returns an array with room for at least
 * 'want' elements of 'size' bytes, '*cap' being what 'v' has now. The room
 * doubles, starting at 'first' elements. 'v' itself is returned when it is
 * large enough; on failure (no memory, or a size that would overflow) NULL is
 * returned and 'v' and '*cap' are untouched. On success '*cap' is updated and
 * the old pointer must no longer be used.
 */
void *mdx_grow(void *v, size_t *cap, size_t want, size_t size, size_t first);
/* Overwrites 'n' bytes at 'p' with zeros in a way the compiler keeps. */
void mdx_memzero(void *p, size_t n);
/* Overwrites the secret string 's' with zeros, then frees it; NULL is allowed. */
void mdx_free_secret(char *s);

/* Test hook: after 'n' more successful allocations every one fails; -1 turns it off. */
void mdx_alloc_fail_after(long n);

#define MDX_FREE(p)                                                                                \
    do {                                                                                           \
        mdx_free(p);                                                                               \
        (p) = NULL;                                                                                \
    } while (0)

#endif
