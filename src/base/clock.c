/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.c - wall and monotonic clocks, and the one UTC timestamp format we
 * print and parse.
 *
 * Conversions between epoch milliseconds and calendar dates are done here
 * with integer arithmetic on the proleptic Gregorian calendar, so they
 * need no time zone, no locale and no lock, and behave the same for times
 * before 1970.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "modax/clock.h"
#include "modax/status.h"

#define MS_PER_DAY 86400000LL

int64_t mdx_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mdx_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void mdx_sleep_ms(int64_t ms)
{
    struct timespec req, rem;

    if (ms <= 0) {
        return;
    }
    req.tv_sec = (time_t)(ms / 1000);
    req.tv_nsec = (long)(ms % 1000) * 1000000L;
    /* nanosleep leaves the time still to sleep in 'rem' when a signal cuts it short. */
    while (nanosleep(&req, &rem) != 0 && errno == EINTR) {
        req = rem;
    }
}

int mdx_due(int64_t now_us, int64_t *next_us, int64_t period_us)
{
    if (now_us < *next_us) {
        return 0;
    }
    *next_us = now_us + period_us;
    return 1;
}

int64_t mdx_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }
    return q;
}

/* Days since 1970-01-01 of a date (after Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = mdx_floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date of 'days' since 1970-01-01 (Hinnant's civil_from_days). */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = mdx_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

void mdx_format_iso_ms(int64_t ms, char *buf, unsigned len)
{
    int64_t days, rest, y;
    int mo, d;

    if (buf == NULL || len == 0) {
        return;
    }
    days = mdx_floor_div(ms, MS_PER_DAY);
    rest = ms - days * MS_PER_DAY; /* 0 .. MS_PER_DAY-1 */
    civil_from_days(days, &y, &mo, &d);
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, mo, d,
             (int)(rest / 3600000), (int)(rest / 60000 % 60), (int)(rest / 1000 % 60),
             (int)(rest % 1000));
}

/* Reads exactly 'n' decimal digits at *p into *out and advances *p. */
static int take_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return MDX_EINVAL;
        }
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return MDX_OK;
}

static int take_char(const char **p, char c)
{
    if (**p != c) {
        return MDX_EINVAL;
    }
    (*p)++;
    return MDX_OK;
}

/* A non-empty string of digits only: epoch milliseconds. */
static int parse_epoch_digits(const char *s, int64_t *out)
{
    int64_t v = 0;

    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return MDX_EINVAL;
        }
        if (v > (INT64_MAX - (*p - '0')) / 10) {
            return MDX_EINVAL;
        }
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return MDX_OK;
}

int mdx_parse_time_ms(const char *s, int64_t *out)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, frac = 0;

    if (s == NULL || out == NULL || *s == '\0') {
        return MDX_EINVAL;
    }
    if (parse_epoch_digits(s, out) == MDX_OK) {
        return MDX_OK;
    }
    if (take_digits(&p, 4, &y) != MDX_OK || take_char(&p, '-') != MDX_OK ||
        take_digits(&p, 2, &mo) != MDX_OK || take_char(&p, '-') != MDX_OK ||
        take_digits(&p, 2, &d) != MDX_OK) {
        return MDX_EINVAL;
    }
    if (*p != ' ' && *p != 'T') {
        return MDX_EINVAL;
    }
    p++;
    if (take_digits(&p, 2, &h) != MDX_OK || take_char(&p, ':') != MDX_OK ||
        take_digits(&p, 2, &mi) != MDX_OK || take_char(&p, ':') != MDX_OK ||
        take_digits(&p, 2, &sec) != MDX_OK) {
        return MDX_EINVAL;
    }
    if (*p == '.') {
        p++;
        if (take_digits(&p, 3, &frac) != MDX_OK) {
            return MDX_EINVAL;
        }
    }
    if (*p == 'Z') {
        p++;
    }
    if (*p != '\0') {
        return MDX_EINVAL;
    }
    /* Leap seconds (:60) are refused: epoch time has no room for them. */
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59) {
        return MDX_EINVAL;
    }
    *out = days_from_civil(y, mo, d) * MS_PER_DAY + (int64_t)h * 3600000 + (int64_t)mi * 60000 +
           (int64_t)sec * 1000 + frac;
    return MDX_OK;
}
