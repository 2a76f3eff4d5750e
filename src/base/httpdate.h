/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpdate.h - the date forms of HTTP headers and AWS signatures, in UTC
 * and English whatever the locale.
 */
#ifndef MODAX_BASE_HTTPDATE_H
#define MODAX_BASE_HTTPDATE_H

#include <stdint.h>

/* "20130524T000000Z" (17 bytes with the NUL) for epoch ms. */
void mdx_fmt_amz_date(int64_t ms, char out[17]);
/* "Fri, 24 May 2013 00:00:00 GMT" (30 bytes with the NUL) for epoch ms. */
void mdx_fmt_http_date(int64_t ms, char out[30]);

#endif
