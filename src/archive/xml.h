/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xml.h - a minimal XML reader for the answers of S3 and Azure Blob (list
 * results, errors). Those answers come from the network, so everything
 * here treats its input as untrusted: bounded by the given length, never
 * NUL-terminated by assumption (tests/fuzz/fuzz_xml.c).
 */
#ifndef MODAX_ARCHIVE_XML_H
#define MODAX_ARCHIVE_XML_H

#include <stddef.h>

#include "base/buf.h"

/*
 * Finds the next element <tag>...</tag> (or <tag attr=..>) in xml[0..len)
 * from *pos. On success sets the text span and moves *pos past the end
 * tag, returning 1; returns 0 when there is none. No nesting of the same
 * tag name is expected (S3 and Azure answers have none).
 */
int mdx_xml_next(const char *xml, size_t len, size_t *pos, const char *tag, const char **text,
                 size_t *tlen);
/* The text of the first <tag> in xml[0..len), XML-unescaped, new string; NULL if none. */
char *mdx_xml_get(const char *xml, size_t len, const char *tag);
/* 's' (n bytes) with &lt; &gt; &amp; &quot; &apos; &#N; &#xN; replaced; new string or NULL. */
char *mdx_xml_unescape(const char *s, size_t n);
/* Appends 's' with & < > " ' escaped. */
int mdx_xml_escape(struct mdx_buf *b, const char *s);

#endif
