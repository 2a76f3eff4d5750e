/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_alloc.c - the growable array of the tree (mdx_grow): doubling from a
 * first size, keeping the array when it is large enough, refusing sizes that
 * would overflow, and leaving the array whole when memory runs out.
 */
#include <stdint.h>

#include "check.h"
#include "modax/alloc.h"

static void grows_by_doubling_and_keeps_the_contents(void)
{
    int *v = NULL, *g;
    size_t cap = 0;

    for (int i = 0; i < 1000; i++) {
        g = mdx_grow(v, &cap, (size_t)i + 1, sizeof(*v), 16);
        CHECK(g != NULL);
        v = g;
        v[i] = i;
    }
    CHECK_EQ_INT(cap, 1024); /* 16 doubled six times */
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ_INT(v[i], i);
    }
    CHECK(mdx_grow(v, &cap, 10, sizeof(*v), 16) == v); /* large enough: the same array */
    CHECK_EQ_INT(cap, 1024);
    mdx_free(v);
}

static void overflow_and_no_memory_leave_the_array_whole(void)
{
    size_t cap = 0;
    char *v = mdx_grow(NULL, &cap, 8, 1, 8), *g;

    CHECK(v != NULL && cap == 8);
    v[7] = 'x';
    CHECK(mdx_grow(v, &cap, SIZE_MAX, 1, 8) == NULL); /* no power of two reaches it */
    CHECK(mdx_grow(v, &cap, SIZE_MAX / 4, 16, 8) == NULL); /* count * size overflows */
    CHECK_EQ_INT(cap, 8);
    mdx_alloc_fail_after(0);
    g = mdx_grow(v, &cap, 9, 1, 8);
    mdx_alloc_fail_after(-1);
    CHECK(g == NULL);
    CHECK_EQ_INT(cap, 8);
    CHECK(v[7] == 'x');
    mdx_free(v);
}

static const struct mdx_test tests[] = {
    {"grows by doubling and keeps the contents", grows_by_doubling_and_keeps_the_contents},
    {"overflow and no memory leave the array whole", overflow_and_no_memory_leave_the_array_whole},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
