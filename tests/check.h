/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check.h - the project's minimal test harness.
 *
 * A test file defines `static const struct mdx_test tests[]` ending with
 * {NULL, NULL} and uses MDX_TEST_MAIN(tests). CHECK() records a failure
 * with file and line and goes on; a test passes when no CHECK failed.
 * The program prints one line per test and a closing
 * "N passed, N failed" line, and exits non-zero on any failure.
 *
 * Conditions that become true asynchronously (another thread, process or
 * service) are waited for with a deadline, never a fixed sleep:
 * WAIT_UNTIL(cond, timeout_ms) polls, CHECK_WAIT(cond, timeout_ms) polls and
 * then checks.
 */
#ifndef MODAX_TEST_CHECK_H
#define MODAX_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "modax/clock.h"

struct mdx_test {
    const char *name;
    void (*fn)(void);
};

static int mdx_test_failures_;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
            mdx_test_failures_++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "  %s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__,          \
                    __LINE__, #a, #b, a_, b_);                                                     \
            mdx_test_failures_++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                                     \
            fprintf(stderr, "  %s:%d: CHECK failed: %s == \"%s\" (got \"%s\")\n", __FILE__,      \
                    __LINE__, #a, b_ ? b_ : "(null)", a_ ? a_ : "(null)");                         \
            mdx_test_failures_++;                                                                  \
        }                                                                                          \
    } while (0)

/*
 * Evaluates 'cond' every 10 ms until it holds or 'timeout_ms' have passed. A
 * statement: test 'cond' again afterwards (or use CHECK_WAIT) to know which.
 */
#define WAIT_UNTIL(cond, timeout_ms)                                                               \
    for (int64_t wait_end_us_ = mdx_mono_us() + (int64_t)(timeout_ms) * 1000;                     \
         !(cond) && mdx_mono_us() < wait_end_us_;)                                                 \
    mdx_sleep_ms(10)

/* Waits as WAIT_UNTIL, then records a failure if 'cond' still does not hold. */
#define CHECK_WAIT(cond, timeout_ms)                                                               \
    do {                                                                                           \
        WAIT_UNTIL(cond, timeout_ms);                                                              \
        CHECK(cond);                                                                               \
    } while (0)

static inline int mdx_test_run(const struct mdx_test *tests, int argc, char **argv)
{
    int passed = 0, failed = 0;

    for (const struct mdx_test *t = tests; t->name != NULL; t++) {
        if (argc > 1 && strstr(t->name, argv[1]) == NULL) {
            continue;
        }
        int before = mdx_test_failures_;
        t->fn();
        if (mdx_test_failures_ == before) {
            printf("ok   %s\n", t->name);
            passed++;
        } else {
            printf("FAIL %s\n", t->name);
            failed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

#define MDX_TEST_MAIN(tests)                                                                       \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return mdx_test_run((tests), argc, argv);                                                  \
    }

#endif
