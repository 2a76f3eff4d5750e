/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore_rest.c - what the S3 and Azure Blob object stores share:
 * GET/HEAD/DELETE, the endpoint's parts, sending a signed request, list
 * pages and part sizes. See objstore_rest.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/objstore_rest.h"
#include "archive/xml.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"

int mdx_rest_get(void *os, const char *key, void **data, size_t *len, size_t max)
{
    const struct mdx_rest *r = os;
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

int mdx_rest_head(void *os, const char *key, struct mdx_obj_info *info)
{
    const struct mdx_rest *r = os;
    struct mdx_rest_call c = {"HEAD", key, NULL, 0, NULL, 0, NULL, NULL, 0, r->small_resp};
    struct mdx_http_resp rs;
    int rc;

    rc = r->call(r->store, &c, &rs);
    if (rc == MDX_OK) {
        info->size = rs.content_length;
        info->mtime_ms = rs.mtime_ms;
        memcpy(info->sha256, rs.modax_sha256, sizeof(info->sha256));
        if (rs.content_length < 0) {
            snprintf(r->err, r->err_len, "%s HEAD: no Content-Length in the answer", r->name);
            rc = MDX_EIO;
        }
    }
    mdx_http_resp_fini(&rs);
    return rc;
}

int mdx_rest_del(void *os, const char *key)
{
    const struct mdx_rest *r = os;
    struct mdx_rest_call c = {"DELETE", key, NULL, 0, NULL, 0, NULL, NULL, 0, r->small_resp};
    struct mdx_http_resp rs;
    int rc;

    rc = r->call(r->store, &c, &rs);
    mdx_http_resp_fini(&rs);
    return rc == MDX_ENOTFOUND ? MDX_OK : rc;
}

int mdx_rest_send(const struct mdx_rest *r, struct mdx_http *http, const struct mdx_rest_call *c,
                  const char *url, struct curl_slist *headers, mdx_rest_fail_fn fail,
                  struct mdx_http_resp *rs)
{
    struct mdx_http_req rq = {
        .method = c->method,
        .url = url,
        .headers = headers,
        .body = c->body,
        .body_len = c->len,
        .max_resp = c->max_resp,
    };
    int rc;

    mdx_http_resp_fini(rs);
    rc = mdx_http_do(http, &rq, rs);
    if (rc == MDX_ERANGE) {
        snprintf(r->err, r->err_len, "%s %s: answer larger than %zu bytes", r->name, c->method,
                 c->max_resp);
    } else if (rc != MDX_OK || rs->status == 0) { /* no answer: refused, timed out, cut */
        snprintf(r->err, r->err_len, "%s %s: %s (%s)", r->name, c->method, mdx_strerror(rc),
                 rs->curl_err);
    } else if (rs->status < 200 || rs->status > 299) {
        rc = fail(r->store, c->method, rs);
    }
    return rc;
}

const char *mdx_rest_last_error(void *os)
{
    const struct mdx_rest *r = os;

    return r->err[0] != '\0' ? r->err : "no error";
}

int mdx_rest_http_init(struct mdx_http *http, const struct mdx_objstore_conf *conf)
{
    int rc = mdx_http_init(http, conf->timeout_ms);

    return rc == MDX_OK ? mdx_http_set_ca(http, conf->ca_file) : rc;
}

int mdx_rest_split_endpoint(const char *ep, struct mdx_buf *scheme, struct mdx_buf *auth,
                            struct mdx_buf *path)
{
    const char *a, *p;
    size_t plen;

    if (strncmp(ep, "http://", 7) == 0) {
        a = ep + 7;
    } else if (strncmp(ep, "https://", 8) == 0) {
        a = ep + 8;
    } else {
        return MDX_ECONF;
    }
    p = strchr(a, '/');
    if (p == NULL) {
        p = a + strlen(a);
    }
    if (p == a) {
        return MDX_ECONF;
    }
    mdx_buf_add(scheme, ep, (size_t)(a - ep));
    mdx_buf_add(auth, a, (size_t)(p - a));
    plen = strlen(p);
    while (plen > 0 && p[plen - 1] == '/') {
        plen--;
    }
    mdx_buf_add(path, p, plen);
    return scheme->err != MDX_OK || auth->err != MDX_OK || path->err != MDX_OK ? MDX_ENOMEM
                                                                              : MDX_OK;
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
        struct mdx_obj_info info = {-1, 0, ""};
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
