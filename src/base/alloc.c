/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc.c - allocation wrappers with a failure hook for tests.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"

static atomic_long fail_after = -1; /* allocations left before failing; -1 = never fail */

static int should_fail(void)
{
    long left = atomic_load(&fail_after);

    while (left >= 0) {
        if (left == 0) {
            return 1;
        }
        if (atomic_compare_exchange_weak(&fail_after, &left, left - 1)) {
            return 0;
        }
    }
    return 0;
}

void mdx_alloc_fail_after(long n)
{
    atomic_store(&fail_after, n);
}

void *mdx_malloc(size_t size)
{
    return should_fail() ? NULL : malloc(size == 0 ? 1 : size);
}

void *mdx_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
}

void *mdx_realloc(void *p, size_t size)
{
    return should_fail() ? NULL : realloc(p, size == 0 ? 1 : size);
}

void mdx_free(void *p)
{
    free(p);
}

void *mdx_grow(void *v, size_t *cap, size_t want, size_t size, size_t first)
{
    size_t n = *cap != 0 ? *cap : (first != 0 ? first : 1);
    void *grown;

    if (want <= *cap) {
        return v;
    }
    while (n < want) {
        if (n > SIZE_MAX / 2) {
            return NULL;
        }
        n *= 2;
    }
    if (size != 0 && n > SIZE_MAX / size) {
        return NULL;
    }
    grown = mdx_realloc(v, n * size);
    if (grown != NULL) {
        *cap = n;
    }
    return grown;
}

char *mdx_strndup(const char *s, size_t n)
{
    char *copy;

    if (s == NULL) {
        return NULL;
    }
    copy = mdx_malloc(n + 1);
    if (copy != NULL) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

char *mdx_strdup(const char *s)
{
    return s == NULL ? NULL : mdx_strndup(s, strlen(s));
}

void mdx_memzero(void *p, size_t n)
{
    volatile unsigned char *v = p;

    while (n-- > 0) {
        *v++ = 0;
    }
}

void mdx_free_secret(char *s)
{
    if (s != NULL) {
        mdx_memzero(s, strlen(s));
        mdx_free(s);
    }
}
