/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore_rest.h - what the REST object stores (objstore_s3.c,
 * objstore_azure.c) share above their signing: the description of one
 * request, GET/HEAD/DELETE of an object around a store's own request
 * function, the endpoint's parts, sending a signed request, reading the
 * entries of one list page, and the part size of a chunked upload.
 * Internal to src/archive.
 */
#ifndef MODAX_ARCHIVE_OBJSTORE_REST_H
#define MODAX_ARCHIVE_OBJSTORE_REST_H

#include <stddef.h>

#include "base/buf.h"
#include "modax/objstore.h"
#include "net/http_client.h"

/* One request of a REST object store. Borrowed strings. */
struct mdx_rest_call {
    const char *method;
    const char *key;            /* NULL: the bucket or container */
    const struct mdx_kv *query; /* unencoded values */
    size_t nquery;
    const struct mdx_kv *hdrs;  /* extra headers the store signs, lower-case names */
    size_t nhdrs;
    const char *content_type;   /* NULL: none */
    const void *body;
    size_t len;
    size_t max_resp;            /* the most answer bytes kept */
};

/*
 * A store's request: signs and performs 'c'. MDX_OK on a 2xx answer, with
 * 'rs' filled; otherwise the store's error text says why. The caller
 * finishes 'rs' (mdx_http_resp_fini) in either case.
 */
typedef int (*mdx_rest_do_fn)(void *store, const struct mdx_rest_call *c,
                              struct mdx_http_resp *rs);

/*
 * A store as the helpers below see it: the first member of struct s3 and
 * struct az, so that the helpers serve as their get, head, del and
 * last_error ops. Set up by the store's create; err points into the store.
 */
struct mdx_rest {
    const char *name;  /* "S3", "Azure": how error texts start */
    void *store;       /* the store itself, handed to call */
    mdx_rest_do_fn call;
    char *err;         /* the store's last-failure text */
    size_t err_len;
    size_t small_resp; /* the most answer bytes of HEAD and DELETE */
};

/*
 * A store's reading of a failed answer (an HTTP status outside 2xx): sets
 * the store's error text from what the body says and returns the status
 * to report (MDX_ENOTFOUND, MDX_EDENIED, MDX_EAGAIN, ...).
 */
typedef int (*mdx_rest_fail_fn)(void *store, const char *method, const struct mdx_http_resp *rs);

/*
 * Sends the signed request 'c' to 'url' with 'headers' over 'http' into
 * 'rs' (which the caller finishes). MDX_OK on a 2xx answer. Otherwise the
 * store's error text says why: an answer over c->max_resp (MDX_ERANGE), no
 * answer at all (refused, timed out, cut: the transport's status), or
 * what fail() makes of a non-2xx answer.
 */
int mdx_rest_send(const struct mdx_rest *r, struct mdx_http *http, const struct mdx_rest_call *c,
                  const char *url, struct curl_slist *headers, mdx_rest_fail_fn fail,
                  struct mdx_http_resp *rs);

/* The ops below take 'os', a store that starts with its struct mdx_rest. */
/* GET 'key' (at most 'max' bytes): *data (the caller frees it) and *len. */
int mdx_rest_get(void *os, const char *key, void **data, size_t *len, size_t max);
/* HEAD 'key': size and modification time; MDX_EIO without a Content-Length. */
int mdx_rest_head(void *os, const char *key, struct mdx_obj_info *info);
/* DELETE 'key'; one that is not there is deleted already (MDX_OK). */
int mdx_rest_del(void *os, const char *key);
/* The store's last failure, or "no error". Borrowed from the store. */
const char *mdx_rest_last_error(void *os);

/*
 * The store's curl handle with conf's time limit and CA file. MDX_OK or an
 * error; the caller fini()s 'http' in either case.
 */
int mdx_rest_http_init(struct mdx_http *http, const struct mdx_objstore_conf *conf);

/*
 * Splits the endpoint "http[s]://authority[/path]" and appends its scheme
 * ("https://"), authority and path (without trailing '/') to the three
 * buffers. MDX_OK; MDX_ECONF for another scheme or no authority; MDX_ENOMEM.
 */
int mdx_rest_split_endpoint(const char *ep, struct mdx_buf *scheme, struct mdx_buf *auth,
                            struct mdx_buf *path);

/* The element names of a list page: each entry, and its key, size and time inside it. */
struct mdx_rest_list_names {
    const char *entry; /* "Contents", "Blob" */
    const char *key;
    const char *size;
    const char *mtime; /* ISO 8601 or an HTTP date */
};

/*
 * Calls fn(arg, key, info) for each entry of the list page 'xml'. A
 * non-zero return of fn stops and is returned; an entry without key or
 * size is MDX_EIO.
 */
int mdx_rest_list_page(const struct mdx_rest *r, const struct mdx_rest_list_names *names,
                       const char *xml, size_t len,
                       int (*fn)(void *arg, const char *key, const struct mdx_obj_info *info),
                       void *arg);

/*
 * The number of parts of a 'len'-byte upload in parts of *part bytes, at
 * most 'max_parts': *part grows when they would be more.
 */
size_t mdx_rest_parts(size_t len, size_t *part, size_t max_parts);

#endif
