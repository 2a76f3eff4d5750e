/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_clock.c - clocks, and the UTC timestamp format printed and parsed.
 */
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/status.h"

static int64_t parsed(const char *s)
{
    int64_t v = -1;

    CHECK_EQ_INT(mdx_parse_time_ms(s, &v), MDX_OK);
    return v;
}

static void format_prints_utc_with_milliseconds(void)
{
    char buf[32];

    mdx_format_iso_ms(0, buf, sizeof(buf));
    CHECK_STR(buf, "1970-01-01T00:00:00.000Z");
    mdx_format_iso_ms(1764230400123LL, buf, sizeof(buf));
    CHECK_STR(buf, "2025-11-27T08:00:00.123Z");
    mdx_format_iso_ms(951782400000LL, buf, sizeof(buf)); /* leap day of a century leap year */
    CHECK_STR(buf, "2000-02-29T00:00:00.000Z");
}

static void format_handles_times_before_1970(void)
{
    char buf[32];

    mdx_format_iso_ms(-1, buf, sizeof(buf));
    CHECK_STR(buf, "1969-12-31T23:59:59.999Z");
    mdx_format_iso_ms(-86400000LL, buf, sizeof(buf));
    CHECK_STR(buf, "1969-12-31T00:00:00.000Z");
}

static void format_truncates_to_small_buffer(void)
{
    char buf[11];

    mdx_format_iso_ms(0, buf, sizeof(buf));
    CHECK_STR(buf, "1970-01-01");
}

static void parse_accepts_space_and_t_forms(void)
{
    CHECK_EQ_INT(parsed("2025-11-27 08:00:00"), 1764230400000LL);
    CHECK_EQ_INT(parsed("2025-11-27T08:00:00"), 1764230400000LL);
    CHECK_EQ_INT(parsed("2025-11-27T08:00:00.123Z"), 1764230400123LL);
    CHECK_EQ_INT(parsed("2025-11-27 08:00:00.007"), 1764230400007LL);
    CHECK_EQ_INT(parsed("2025-11-27T08:00:00Z"), 1764230400000LL);
    CHECK_EQ_INT(parsed("1969-12-31T23:59:59.999Z"), -1);
}

static void parse_agrees_with_timegm(void)
{
    struct tm tm = {0};

    tm.tm_year = 2024 - 1900;
    tm.tm_mon = 1;
    tm.tm_mday = 29;
    tm.tm_hour = 13;
    tm.tm_min = 45;
    tm.tm_sec = 59;
    CHECK_EQ_INT(parsed("2024-02-29 13:45:59"), (int64_t)timegm(&tm) * 1000);
}

static void parse_accepts_epoch_ms_digits(void)
{
    CHECK_EQ_INT(parsed("0"), 0);
    CHECK_EQ_INT(parsed("1764230400123"), 1764230400123LL);
    CHECK_EQ_INT(parsed("9223372036854775807"), INT64_MAX);
}

static void parse_and_format_round_trip(void)
{
    static const int64_t samples[] = {
        0, 1, 999, 1764230400123LL, 4102444799999LL, -2208988800000LL, 253402300799999LL};
    char buf[32];

    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        mdx_format_iso_ms(samples[i], buf, sizeof(buf));
        CHECK_EQ_INT(parsed(buf), samples[i]);
    }
}

static void parse_rejects_malformed_strings(void)
{
    static const char *const bad[] = {
        "",
        "abc",
        "-5", /* epoch digits carry no sign */
        "12 34",
        "9223372036854775808", /* overflows int64 */
        "2025-11-27",          /* no time */
        "2025-11-27 08:00",    /* no seconds */
        "2025-11-27X08:00:00",
        "2025-11-27 08:00:00.",
        "2025-11-27 08:00:00.12", /* milliseconds are three digits */
        "2025-11-27 08:00:00.1234",
        "2025-11-27 08:00:00ZZ",
        "2025-11-27 08:00:00 ",
        " 2025-11-27 08:00:00",
        "2025-11-27 08:00:00+01:00",
        "2025-13-01 00:00:00",
        "2025-00-01 00:00:00",
        "2025-02-29 00:00:00", /* not a leap year */
        "2100-02-29 00:00:00", /* century, not a leap year */
        "2025-04-31 00:00:00",
        "2025-11-27 24:00:00",
        "2025-11-27 08:60:00",
        "2025-11-27 08:00:60", /* leap second */
        "25-11-27 08:00:00",
        "2025-1-27 08:00:00",
    };
    int64_t v = 42;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (mdx_parse_time_ms(bad[i], &v) != MDX_EINVAL) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
            CHECK(0);
        }
    }
    CHECK_EQ_INT(v, 42); /* a refused string leaves the output alone */
    CHECK_EQ_INT(mdx_parse_time_ms(NULL, &v), MDX_EINVAL);
}

static void parse_accepts_leap_day_of_leap_years(void)
{
    CHECK_EQ_INT(parsed("2000-02-29 00:00:00"), 951782400000LL);
    CHECK_EQ_INT(parsed("2024-02-29T00:00:00Z"), 1709164800000LL);
}

static void wall_clock_is_near_time(void)
{
    int64_t now = mdx_now_ms();
    int64_t sys = (int64_t)time(NULL) * 1000;

    CHECK(now >= sys - 2000 && now <= sys + 2000);
}

static void sleep_waits_at_least_the_interval_on_the_monotonic_clock(void)
{
    int64_t t0 = mdx_mono_us(), t1;

    mdx_sleep_ms(20);
    t1 = mdx_mono_us();
    CHECK(t1 - t0 >= 20000);
    CHECK(t1 - t0 < 2000000);
    mdx_sleep_ms(0);
    mdx_sleep_ms(-5);
    CHECK(mdx_mono_us() >= t1);
}

static const struct mdx_test tests[] = {
    {"format prints UTC with milliseconds", format_prints_utc_with_milliseconds},
    {"format handles times before 1970", format_handles_times_before_1970},
    {"format truncates to a small buffer", format_truncates_to_small_buffer},
    {"parse accepts space and T forms, .mmm and Z", parse_accepts_space_and_t_forms},
    {"parse agrees with timegm", parse_agrees_with_timegm},
    {"parse accepts epoch ms digits", parse_accepts_epoch_ms_digits},
    {"parse and format round trip", parse_and_format_round_trip},
    {"parse rejects malformed strings and impossible dates", parse_rejects_malformed_strings},
    {"parse accepts the leap day of leap years", parse_accepts_leap_day_of_leap_years},
    {"wall clock is near time()", wall_clock_is_near_time},
    {"sleep waits at least the interval", sleep_waits_at_least_the_interval_on_the_monotonic_clock},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
