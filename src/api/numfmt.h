/* SPDX-License-Identifier: Apache-2.0 */
/*
 * numfmt.h - fast JSON/CSV text of numbers for large responses (range
 * queries, exports), where snprintf("%.17g") would dominate the cost.
 */
#ifndef MODAX_API_NUMFMT_H
#define MODAX_API_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

#define NUMFMT_MAX 32   /* bytes a formatted number needs, with the NUL */

/* Decimal digits of 'v' into buf (NUMFMT_MAX bytes); the length. */
size_t numfmt_i64(char *buf, int64_t v);

/*
 * 'v' as JSON number text into buf (NUMFMT_MAX bytes); the length.
 * exact != 0: the text reads back as the same double (up to 17 digits).
 * exact == 0: at most 15 significant digits (for computed aggregates,
 * whose further digits are rounding noise). Non-finite: "null".
 */
size_t numfmt_double(char *buf, double v, int exact);

#endif
