/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpdate.c - HTTP and AWS date formats; see httpdate.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/httpdate.h"

static void utc_tm(int64_t ms, struct tm *tm)
{
    time_t t = (time_t)(ms / 1000);

    if (gmtime_r(&t, tm) == NULL) {
        memset(tm, 0, sizeof(*tm));
    }
}

void mdx_fmt_amz_date(int64_t ms, char out[17])
{
    struct tm tm;

    char tmp[64];

    utc_tm(ms, &tm);
    snprintf(tmp, sizeof(tmp), "%04d%02d%02dT%02d%02d%02dZ", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, tmp, 16);
    out[16] = '\0';
}

void mdx_fmt_http_date(int64_t ms, char out[30])
{
    /* Not strftime: %a and %b follow the locale, HTTP wants English. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    char tmp[128];

    utc_tm(ms, &tm);
    snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    memcpy(out, tmp, 29);
    out[29] = '\0';
}

