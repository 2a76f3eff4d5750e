/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore_rest.c - GET/HEAD/DELETE, list pages and part sizes shared by
 * the S3 and Azure Blob object stores. See objstore_rest.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "archive/objstore_rest.h"
#include "archive/xml.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"

int mdx_rest_get(const struct mdx_rest *r, const char *key, void **data, size_t *len,
                 size_t max)
{
    struct mdx_rest_call c = {"GET", key, NULL, 0, NULL, 0, NULL, NULL, 0, max};
    struct mdx_http_resp rs;
    int rc;

    *data = NULL;
    *len = 0;
    rc = r->call(r->store, &c, &rs);
    if (rc == MDX_OK) {
        *len = rs.body.len;
        *data = mdx_buf_take(&rs.body);
        if (*data == NULL) {
            snprintf(r->err, r->err_len, "%s GET: out of memory", r->name);
            rc = MDX_ENOMEM;
        }
    }
    mdx_http_resp_fini(&rs);
    return rc;
}

int mdx_rest_head(const struct mdx_rest *r, const char *key, struct mdx_obj_info *info)
{
    struct mdx_rest_call c = {"HEAD", key, NULL, 0, NULL, 0, NULL, NULL, 0, r->small_resp};
    struct mdx_http_resp rs;
    int rc;

    rc = r->call(r->store, &c, &rs);
    if (rc == MDX_OK) {
        info->size = rs.content_length;
        info->mtime_ms = rs.mtime_ms;
        if (rs.content_length < 0) {
            snprintf(r->err, r->err_len, "%s HEAD: no Content-Length in the answer", r->name);
            rc = MDX_EIO;
        }
    }
    mdx_http_resp_fini(&rs);
    return rc;
}

int mdx_rest_del(const struct mdx_rest *r, const char *key)
{
    struct mdx_rest_call c = {"DELETE", key, NULL, 0, NULL, 0, NULL, NULL, 0, r->small_resp};
    struct mdx_http_resp rs;
    int rc;

    rc = r->call(r->store, &c, &rs);
    mdx_http_resp_fini(&rs);
    return rc == MDX_ENOTFOUND ? MDX_OK : rc;
}

/* Milliseconds of an ISO 8601 time (S3) or an HTTP date (Azure); 0 if neither. */
static int64_t list_time_ms(const char *s)
{
    int64_t ms;
    time_t t;

    if (s == NULL) {
        return 0;
    }
    if (mdx_parse_time_ms(s, &ms) == MDX_OK) {
        return ms;
    }
    t = curl_getdate(s, NULL);
    return t > 0 ? (int64_t)t * 1000 : 0;
}

int mdx_rest_list_page(const struct mdx_rest *r, const struct mdx_rest_list_names *names,
                       const char *xml, size_t len,
                       int (*fn)(void *arg, const char *key, const struct mdx_obj_info *info),
                       void *arg)
{
    const char *item;
    size_t pos = 0, ilen;

    while (mdx_xml_next(xml, len, &pos, names->entry, &item, &ilen)) {
        struct mdx_obj_info info = {-1, 0};
        char *key = mdx_xml_get(item, ilen, names->key);
        char *size = mdx_xml_get(item, ilen, names->size);
        char *mtime = mdx_xml_get(item, ilen, names->mtime);
        int rc = MDX_OK;

        if (key == NULL || size == NULL) {
            snprintf(r->err, r->err_len, "%s list: an entry without %s or %s", r->name,
                     names->key, names->size);
            rc = MDX_EIO;
        } else {
            char *end;
            long long v = strtoll(size, &end, 10);
            info.size = (end != size && *end == '\0') ? v : -1;
            info.mtime_ms = list_time_ms(mtime);
            rc = fn(arg, key, &info);
        }
        mdx_free(key);
        mdx_free(size);
        mdx_free(mtime);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return MDX_OK;
}

size_t mdx_rest_parts(size_t len, size_t *part, size_t max_parts)
{
    if ((len + *part - 1) / *part > max_parts) {
        *part = (len + max_parts - 1) / max_parts;
    }
    return (len + *part - 1) / *part;
}
