/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_text.c - the parts of the Prometheus text exposition format
 * (0.0.4) that need more than a formatted line: escaped label values and
 * sample values. They append to the page's buffer (struct mdx_buf, whose
 * cap and sticky error mark a page that could not be completed).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics_int.h"

void metrics_text_label(struct mdx_buf *b, const char *s)
{
    const char *run = s;

    for (; *s != '\0'; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (esc != NULL) {
            mdx_buf_add(b, run, (size_t)(s - run));
            mdx_buf_add(b, esc, 2);
            run = s + 1;
        }
    }
    mdx_buf_add(b, run, (size_t)(s - run));
}

void metrics_text_value(struct mdx_buf *b, double v)
{
    char txt[40];

    if (isnan(v)) {
        mdx_buf_adds(b, "NaN");
        return;
    }
    if (isinf(v)) {
        mdx_buf_adds(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* The shortest of 15 or 17 significant digits that reads back as the same double. */
    snprintf(txt, sizeof(txt), "%.15g", v);
    if (strtod(txt, NULL) != v) {
        snprintf(txt, sizeof(txt), "%.17g", v);
    }
    mdx_buf_adds(b, txt);
}
