/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_buf.c - the one growable buffer (base/buf.h): appends, formatted
 * lines longer than its stack scratch, the hard cap and the sticky error.
 */
#include <string.h>

#include "base/buf.h"
#include "check.h"
#include "modax/alloc.h"
#include "modax/status.h"

static void appends_grow_and_stay_terminated(void)
{
    struct mdx_buf b;

    mdx_buf_init(&b, 1 << 20);
    CHECK_STR(mdx_buf_str(&b), "");
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ_INT(mdx_buf_adds(&b, "ab"), MDX_OK);
    }
    CHECK_EQ_INT(b.len, 2000);
    CHECK_EQ_INT(strlen(mdx_buf_str(&b)), 2000);
    mdx_buf_fini(&b);
}

/* A line past the 512-byte scratch of mdx_buf_addf is formatted in place, whole. */
static void long_formatted_line_is_written_whole(void)
{
    char word[2001];
    struct mdx_buf b;

    memset(word, 'x', sizeof(word) - 1);
    word[sizeof(word) - 1] = '\0';
    mdx_buf_init(&b, 1 << 20);
    CHECK_EQ_INT(mdx_buf_adds(&b, "<"), MDX_OK);
    CHECK_EQ_INT(mdx_buf_addf(&b, "%s|%d", word, 42), MDX_OK);
    CHECK_EQ_INT(b.len, 1 + 2000 + 3);
    CHECK(mdx_buf_str(&b)[0] == '<');
    CHECK(strspn(mdx_buf_str(&b) + 1, "x") == 2000);
    CHECK_STR(mdx_buf_str(&b) + 2001, "|42");
    mdx_buf_fini(&b);
}

static void cap_is_hard_and_the_error_sticks(void)
{
    char word[700];
    struct mdx_buf b;
    char *p;

    memset(word, 'y', sizeof(word) - 1);
    word[sizeof(word) - 1] = '\0';
    mdx_buf_init(&b, 1000);
    CHECK_EQ_INT(mdx_buf_addf(&b, "%s", word), MDX_OK);
    CHECK_EQ_INT(mdx_buf_addf(&b, "%s", word), MDX_EFULL); /* long path, past the cap */
    CHECK_EQ_INT(b.len, 699);
    CHECK_EQ_INT(mdx_buf_adds(&b, "z"), MDX_EFULL);       /* sticky */
    CHECK(mdx_buf_take(&b) == NULL);
    CHECK_EQ_INT(b.len, 0);
    mdx_buf_init(&b, 1000);
    CHECK_EQ_INT(mdx_buf_adds(&b, "ok"), MDX_OK);
    p = mdx_buf_take(&b);
    CHECK(p != NULL && strcmp(p, "ok") == 0);
    mdx_free(p);
}

static const struct mdx_test tests[] = {
    {"appends grow and stay terminated", appends_grow_and_stay_terminated},
    {"a formatted line longer than the scratch is written whole",
     long_formatted_line_is_written_whole},
    {"the cap is hard and the error sticks", cap_is_hard_and_the_error_sticks},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
