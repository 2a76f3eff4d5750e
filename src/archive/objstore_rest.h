/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore_rest.h - what the REST object stores (objstore_s3.c,
 * objstore_azure.c) share above their signing: the description of one
 * request, GET/HEAD/DELETE of an object around a store's own request
 * function, reading the entries of one list page, and the part size of a
 * chunked upload. Internal to src/archive.
 */
#ifndef MODAX_ARCHIVE_OBJSTORE_REST_H
#define MODAX_ARCHIVE_OBJSTORE_REST_H

#include <stddef.h>

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

/* A store as the helpers below see it. Borrowed. */
struct mdx_rest {
    const char *name;  /* "S3", "Azure": how error texts start */
    void *store;
    mdx_rest_do_fn call;
    char *err;         /* the store's last-failure text */
    size_t err_len;
    size_t small_resp; /* the most answer bytes of HEAD and DELETE */
};

/* GET 'key' (at most 'max' bytes): *data (the caller frees it) and *len. */
int mdx_rest_get(const struct mdx_rest *r, const char *key, void **data, size_t *len,
                 size_t max);
/* HEAD 'key': size and modification time; MDX_EIO without a Content-Length. */
int mdx_rest_head(const struct mdx_rest *r, const char *key, struct mdx_obj_info *info);
/* DELETE 'key'; one that is not there is deleted already (MDX_OK). */
int mdx_rest_del(const struct mdx_rest *r, const char *key);

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
