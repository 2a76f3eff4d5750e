/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_client.h - the HTTP client shared by the cloud object stores
 * (src/archive/objstore_s3.c, objstore_azure.c) and the alert sinks
 * (src/alert/sink_*.c): a libcurl request wrapper that maps transport
 * failures and HTTP statuses to MDX_E* codes.
 *
 * Internal to src; not part of the public interface.
 */
#ifndef MODAX_NET_HTTP_CLIENT_H
#define MODAX_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "base/buf.h"

/* A name/value pair: a header or a query parameter. Borrowed strings. */
struct mdx_kv {
    const char *k;
    const char *v;
};

/*
 * One libcurl easy handle, reused for every request so connections stay
 * open. Not thread-safe: one per store object, one store object per thread.
 */
struct mdx_http {
    CURL *curl;
    int64_t timeout_ms; /* whole request, connect included */
    char *ca_file;      /* owned; CA bundle for https, NULL: the system's */
};

/* Sets up 'h'. MDX_OK, or MDX_ENOMEM when curl can't make a handle. */
int mdx_http_init(struct mdx_http *h, int64_t timeout_ms);
/* Trusts the CA certificates (PEM) of 'ca_file' instead of the system's; NULL or "" keeps
 * the system's. MDX_OK or MDX_ENOMEM. */
int mdx_http_set_ca(struct mdx_http *h, const char *ca_file);
void mdx_http_fini(struct mdx_http *h);

struct mdx_http_req {
    const char *method;              /* GET, HEAD, PUT, POST, DELETE */
    const char *url;                 /* fully encoded */
    const struct curl_slist *headers; /* borrowed; "Name: value" lines */
    const void *body;                /* PUT/POST body; NULL for none */
    size_t body_len;
    size_t max_resp;                 /* response body cap in bytes */
};

struct mdx_http_resp {
    long status;             /* HTTP status; 0 when none came back */
    struct mdx_buf body;    /* response body, owned; mdx_http_resp_fini frees it. Capped at
                                max_resp for 2xx; only the first 64 KiB of an error answer */
    int64_t content_length;  /* Content-Length header; -1 if none */
    int64_t mtime_ms;        /* Last-Modified header; 0 if none */
    char etag[160];          /* ETag header as sent (quotes kept); "" if none */
    char ms_error[64];       /* x-ms-error-code header (Azure; also on HEAD); "" if none */
    char modax_sha256[65];   /* the SHA-256 the archiver stored as the object's metadata
                                (x-amz-meta-, x-goog-meta-modax-sha256 or x-ms-meta-modaxsha256); "" if none */
    int too_big;             /* the body passed max_resp; the transfer was cut */
    char curl_err[128];      /* transport failure text; "" when a response came */
};

void mdx_http_resp_fini(struct mdx_http_resp *r);

/*
 * Performs 'rq' and fills 'rs' (the caller fini()s it in every case).
 * Returns MDX_OK when an HTTP response came back, whatever its status;
 * MDX_EAGAIN for connect failures and timeouts; MDX_ERANGE when the body
 * passed max_resp; MDX_ENOMEM; MDX_EIO for other transport failures.
 */
int mdx_http_do(struct mdx_http *h, const struct mdx_http_req *rq, struct mdx_http_resp *rs);

/*
 * POSTs a form (application/x-www-form-urlencoded) to 'url': 'fields' is
 * name, value, name, value, ..., NULL; names are sent as they are, values
 * percent-encoded. The body is wiped once sent, since token exchanges carry
 * secrets. Answer and return value as mdx_http_do (the caller fini()s 'rs').
 */
int mdx_http_post_form(struct mdx_http *h, const char *url, const char *const *fields,
                       size_t max_resp, struct mdx_http_resp *rs);

/* 2xx -> MDX_OK, 404 -> MDX_ENOTFOUND, 401/403 -> MDX_EDENIED,
 * 408/429/5xx -> MDX_EAGAIN, other -> MDX_EINVAL. */
int mdx_http_status_err(long status);

/* Appends "name: value" to *list. MDX_OK or MDX_ENOMEM (the list is kept). */
int mdx_http_header(struct curl_slist **list, const char *name, const char *value);
/* Wipes every line of 'list' (tokens, signatures) and frees it. NULL is fine. */
void mdx_http_headers_free(struct curl_slist *list);

#endif
