/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_xml.c - fuzz target for the XML reader of object-store answers
 * (src/archive/xml.c) and the list-page walk built on it
 * (mdx_rest_list_page in objstore_rest.c).
 *
 * The input is an answer body as S3 or Azure Blob would send it. It is
 * walked for the elements the stores read (list entries, error codes,
 * continuation markers, upload ids), checking that every span found lies
 * inside the input and that the walk moves forward; it is unescaped whole;
 * its first line is escaped and unescaped again, which must give it back;
 * and it is read as an S3 and as an Azure list page. The input is copied
 * into a block of its exact size (not NUL-terminated) so that ASan sees
 * any read past the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive/objstore_rest.h"
#include "archive/xml.h"
#include "base/buf.h"
#include "modax/alloc.h"
#include "modax/status.h"

/* A line of the input escaped can grow six-fold; keep it short. */
#define ROUND_TRIP_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every <tag> of xml[0..len): spans inside the input, the position only moving on. */
static void walk(const char *xml, size_t len, const char *tag)
{
    size_t pos = 0, before, tlen;
    const char *text;

    for (;;) {
        before = pos;
        if (!mdx_xml_next(xml, len, &pos, tag, &text, &tlen)) {
            break;
        }
        if (pos <= before || pos > len || text < xml + before || tlen > len ||
            (size_t)(text - xml) + tlen > pos) {
            abort();
        }
    }
}

/* The unescaped text of the first <tag> is never longer than the input. */
static void get(const char *xml, size_t len, const char *tag)
{
    char *s = mdx_xml_get(xml, len, tag);

    if (s != NULL && strlen(s) > len) {
        abort();
    }
    mdx_free(s);
}

/* escape then unescape gives back the first line (up to a NUL) of the input. */
static void round_trip(const char *xml, size_t len)
{
    char line[ROUND_TRIP_MAX + 1];
    struct mdx_buf b;
    size_t n = 0;
    char *back;

    while (n < len && n < ROUND_TRIP_MAX && xml[n] != '\0' && xml[n] != '\n') {
        n++;
    }
    memcpy(line, xml, n);
    line[n] = '\0';
    mdx_buf_init(&b, 6 * ROUND_TRIP_MAX + 1);
    if (mdx_xml_escape(&b, line) != MDX_OK) {
        abort();
    }
    back = mdx_xml_unescape(mdx_buf_str(&b), b.len);
    if (back == NULL || strcmp(back, line) != 0) {
        abort();
    }
    mdx_free(back);
    mdx_buf_fini(&b);
}

static int count_entry(void *arg, const char *key, const struct mdx_obj_info *info)
{
    size_t *n = arg;

    if (key == NULL || info == NULL) {
        abort();
    }
    (*n)++;
    return *n < 1000 ? MDX_OK : MDX_EFULL; /* a stop from the callback is returned as is */
}

static void list_page(const char *xml, size_t len, const struct mdx_rest_list_names *names)
{
    char err[256] = "";
    struct mdx_rest r = {"fuzz", NULL, NULL, err, sizeof(err), 0};
    size_t n = 0;
    int rc = mdx_rest_list_page(&r, names, xml, len, count_entry, &n);

    if (rc != MDX_OK && rc != MDX_EIO && rc != MDX_EFULL) {
        abort();
    }
    if (rc == MDX_EIO && err[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tags[] = {"Contents", "Blob", "Key", "Name", "Code", "Message",
                                       "IsTruncated", "NextContinuationToken", "NextMarker",
                                       "UploadId", "AuthenticationErrorDetail", "ETag"};
    static const struct mdx_rest_list_names s3 = {"Contents", "Key", "Size", "LastModified"};
    static const struct mdx_rest_list_names azure = {"Blob", "Name", "Content-Length",
                                                     "Last-Modified"};
    char *xml = malloc(size > 0 ? size : 1);
    char *all;

    if (xml == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(xml, data, size);
    }
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        walk(xml, size, tags[i]);
        get(xml, size, tags[i]);
    }
    all = mdx_xml_unescape(xml, size);
    if (all == NULL) {
        abort();
    }
    mdx_free(all);
    round_trip(xml, size);
    list_page(xml, size, &s3);
    list_page(xml, size, &azure);
    free(xml);
    return 0;
}
