/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xml.c - the minimal XML reader of object-store answers; see xml.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/xml.h"
#include "modax/alloc.h"
#include "modax/status.h"

int mdx_xml_next(const char *xml, size_t len, size_t *pos, const char *tag, const char **text,
                 size_t *tlen)
{
    size_t tl = strlen(tag);

    for (size_t i = *pos; i + tl + 2 <= len; i++) {
        size_t start, j;

        if (xml[i] != '<' || memcmp(xml + i + 1, tag, tl) != 0 ||
            (xml[i + 1 + tl] != '>' && xml[i + 1 + tl] != ' ' && xml[i + 1 + tl] != '/')) {
            continue;
        }
        j = i + 1 + tl;
        while (j < len && xml[j] != '>') {
            j++;
        }
        if (j >= len) {
            return 0;
        }
        if (xml[j - 1] == '/') { /* <tag/>: empty */
            *text = xml + j + 1;
            *tlen = 0;
            *pos = j + 1;
            return 1;
        }
        start = j + 1;
        for (j = start; j + tl + 3 <= len; j++) {
            if (xml[j] == '<' && xml[j + 1] == '/' && memcmp(xml + j + 2, tag, tl) == 0 &&
                xml[j + 2 + tl] == '>') {
                *text = xml + start;
                *tlen = j - start;
                *pos = j + tl + 3;
                return 1;
            }
        }
        return 0;
    }
    return 0;
}

char *mdx_xml_get(const char *xml, size_t len, const char *tag)
{
    size_t pos = 0, tlen;
    const char *text;

    if (xml == NULL || !mdx_xml_next(xml, len, &pos, tag, &text, &tlen)) {
        return NULL;
    }
    return mdx_xml_unescape(text, tlen);
}

/* The five named entities of XML (without their '&'), read by unescape and written by escape. */
static const struct {
    const char *ent;
    char c;
} named[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}};

#define N_NAMED (sizeof(named) / sizeof(named[0]))

/* Appends code point 'c' as UTF-8. */
static void add_utf8(struct mdx_buf *b, unsigned long c)
{
    unsigned char u[4];
    size_t n;

    if (c < 0x80) {
        u[0] = (unsigned char)c;
        n = 1;
    } else if (c < 0x800) {
        u[0] = (unsigned char)(0xc0 | (c >> 6));
        u[1] = (unsigned char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        u[0] = (unsigned char)(0xe0 | (c >> 12));
        u[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | ((c >> 18) & 0x07));
        u[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (c & 0x3f));
        n = 4;
    }
    mdx_buf_add(b, u, n);
}

char *mdx_xml_unescape(const char *s, size_t n)
{
    struct mdx_buf b;

    mdx_buf_init(&b, n + 1);
    mdx_buf_add(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        size_t rest = n - i - 1, k;

        if (s[i] != '&') {
            mdx_buf_add(&b, s + i, 1);
            continue;
        }
        for (k = 0; k < N_NAMED; k++) {
            size_t el = strlen(named[k].ent);
            if (rest >= el && memcmp(s + i + 1, named[k].ent, el) == 0) {
                mdx_buf_add(&b, &named[k].c, 1);
                i += el;
                break;
            }
        }
        if (k < N_NAMED) {
            continue;
        }
        if (rest >= 3 && s[i + 1] == '#') {
            int hexa = s[i + 2] == 'x' || s[i + 2] == 'X';
            size_t j = i + 2 + (size_t)hexa;
            unsigned long c = 0;
            size_t digits = 0;

            while (j < n && digits < 8 && isxdigit((unsigned char)s[j]) != 0 &&
                   (hexa || isdigit((unsigned char)s[j]) != 0)) {
                int d = isdigit((unsigned char)s[j]) ? s[j] - '0' : (tolower(s[j]) - 'a' + 10);
                c = c * (hexa ? 16u : 10u) + (unsigned long)d;
                j++;
                digits++;
            }
            if (digits > 0 && j < n && s[j] == ';' && c > 0 && c <= 0x10ffff) {
                add_utf8(&b, c);
                i = j;
                continue;
            }
        }
        mdx_buf_add(&b, "&", 1); /* not an entity we know: keep it */
    }
    return mdx_buf_take(&b);
}

int mdx_xml_escape(struct mdx_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        size_t k = 0;

        while (k < N_NAMED && named[k].c != *s) {
            k++;
        }
        if (k < N_NAMED) {
            char ent[8]; /* "&quot;" at the longest */

            snprintf(ent, sizeof(ent), "&%s", named[k].ent);
            mdx_buf_adds(b, ent);
        } else {
            mdx_buf_add(b, s, 1);
        }
    }
    return b->err;
}

