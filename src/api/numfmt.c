/* SPDX-License-Identifier: Apache-2.0 */
/*
 * numfmt.c - fast number text for large API responses.
 *
 * A double is tried first with 15 significant digits computed in integer
 * arithmetic: m = round(|v| * 10^k) with 10^k exact (k <= 22), and the
 * text is kept when m / 10^k (both exact, so correctly rounded by IEEE
 * 754) gives back v, i.e. when strtod() of the text would. Values that
 * came from readings such as 45.31 all pass. Others need 16 or 17 digits:
 * exact mode then asks snprintf; non-exact mode keeps the 15 digits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numfmt.h"

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Digits of u into the end of tmp; the first digit's position. */
static char *u64_digits(char *end, uint64_t u)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    return end;
}

size_t numfmt_i64(char *buf, int64_t v)
{
    char tmp[24], *p;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;

    p = u64_digits(tmp + sizeof(tmp), u);
    if (v < 0) {
        buf[n++] = '-';
    }
    memcpy(buf + n, p, (size_t)(tmp + sizeof(tmp) - p));
    n += (size_t)(tmp + sizeof(tmp) - p);
    buf[n] = '\0';
    return n;
}

/*
 * |v| = m * 10^-k written as a plain decimal (k >= 0 fractional digits of
 * m, trailing zeros dropped), with the sign.
 */
static size_t write_fixed(char *buf, int neg, uint64_t m, int k)
{
    char tmp[48], *p;
    size_t n = 0, nd;

    while (k > 0 && m % 10 == 0) {
        m /= 10;
        k--;
    }
    p = u64_digits(tmp + sizeof(tmp), m);
    nd = (size_t)(tmp + sizeof(tmp) - p);
    if (neg) {
        buf[n++] = '-';
    }
    if (k == 0) {
        memcpy(buf + n, p, nd);
        n += nd;
    } else if ((size_t)k >= nd) {
        buf[n++] = '0';
        buf[n++] = '.';
        for (size_t z = 0; z < (size_t)k - nd; z++) {
            buf[n++] = '0';
        }
        memcpy(buf + n, p, nd);
        n += nd;
    } else {
        memcpy(buf + n, p, nd - (size_t)k);
        n += nd - (size_t)k;
        buf[n++] = '.';
        memcpy(buf + n, p + nd - (size_t)k, (size_t)k);
        n += (size_t)k;
    }
    buf[n] = '\0';
    return n;
}

size_t numfmt_double(char *buf, double v, int exact)
{
    double a = fabs(v);
    int n;

    if (!isfinite(v)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    if (a == 0) {
        memcpy(buf, "0", 2);
        return 1;
    }
    if (a < 1e15 && a == floor(a)) {
        return numfmt_i64(buf, (int64_t)v);
    }
    /* Plain decimals for magnitudes 1e-7 .. 1e15: k = 14 - floor(log10(a)) fraction digits. */
    if (a >= 1e-7 && a < 1e15) {
        int e = 14; /* floor(log10(a)) */
        while (e > 0 && a < pow10_tab[e]) {
            e--;
        }
        if (e == 0) {
            while (e > -7 && a < 1.0 / pow10_tab[-e]) {
                e--;
            }
            if (a < 1.0 / pow10_tab[-e]) {
                e--;
            }
        }
        int k = 14 - e;
        if (k >= 0 && k <= 22) {
            uint64_t m = (uint64_t)(a * pow10_tab[k] + 0.5);
            /* m below 2^53 is exact as a double, so the check below is what strtod() gives. */
            if (m < (UINT64_C(1) << 53) && (exact == 0 || (double)m / pow10_tab[k] == a)) {
                return write_fixed(buf, v < 0, m, k);
            }
        }
    }
    /* The shortest of 15, 16, 17 digits that reads back the same (15 when not exact). */
    for (int prec = 15;; prec++) {
        n = snprintf(buf, NUMFMT_MAX, "%.*g", prec, v);
        if (!exact || prec == 17 || (n > 0 && strtod(buf, NULL) == v)) {
            break;
        }
    }
    return n > 0 ? (size_t)n : 0;
}
