/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_client.h - the HTTP client side shared by the cloud object stores
 * (src/archive/objstore_s3.c, objstore_azure.c) and the alert sinks
 * (src/alert/sink_*.c): a bounded string buffer, URI encoding,
 * SHA-256/HMAC/hex/base64 through OpenSSL, HTTP dates, a minimal XML
 * reader for S3 and Azure answers, and a libcurl request wrapper that
 * maps transport failures and HTTP statuses to MDX_E* codes.
 *
 * Internal to src; not part of the public interface.
 */
#ifndef MODAX_NET_HTTP_CLIENT_H
#define MODAX_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

/* A name/value pair: a header or a query parameter. Borrowed strings. */
struct mdx_kv {
    const char *k;
    const char *v;
};

/*
 * A growable, NUL-terminated byte buffer with a maximum size. Errors are
 * sticky: after a failed append 'err' holds MDX_ENOMEM or MDX_EFULL and
 * further appends do nothing, so a caller may check once at the end.
 */
struct mdx_sbuf {
    char *p;    /* NUL-terminated; NULL until the first append */
    size_t len; /* bytes, without the NUL */
    size_t cap;
    size_t max; /* most bytes it may hold */
    int err;
};

void mdx_sbuf_init(struct mdx_sbuf *b, size_t max);
void mdx_sbuf_fini(struct mdx_sbuf *b); /* frees the bytes; the struct may be reused after init */
int mdx_sbuf_add(struct mdx_sbuf *b, const void *d, size_t n);
int mdx_sbuf_adds(struct mdx_sbuf *b, const char *s);
int mdx_sbuf_addf(struct mdx_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string ("" when empty; never NULL). Borrowed. */
const char *mdx_sbuf_str(const struct mdx_sbuf *b);
/* Hands the bytes to the caller (mdx_free), or NULL on a sticky error; 'b' is empty after. */
char *mdx_sbuf_take(struct mdx_sbuf *b);

/*
 * Appends 's' percent-encoded as RFC 3986 and SigV4 want: A-Z a-z 0-9 - . _ ~
 * stay, every other byte becomes %XX (upper-case hex); '/' stays when
 * keep_slash (object key paths), else it is %2F (query values).
 */
int mdx_uri_encode(struct mdx_sbuf *b, const char *s, int keep_slash);

/* Lower-case hex of 'n' bytes into 'out' (2n+1 bytes). */
void mdx_hex(const unsigned char *d, size_t n, char *out);
/* Hex SHA-256 of 'n' bytes into 'out' (65 bytes). */
void mdx_sha256_hex(const void *d, size_t n, char out[65]);
/* HMAC-SHA256 of 'd' with 'key' into 'out' (32 bytes). MDX_OK or MDX_EINVAL. */
int mdx_hmac_sha256(const void *key, size_t klen, const void *d, size_t n, unsigned char out[32]);
/* Base64 of 'n' bytes; a new string the caller frees, or NULL. */
char *mdx_base64_encode(const void *d, size_t n);
/* Decodes base64 'b64' into a new buffer (*out, caller frees; wipe when secret). */
int mdx_base64_decode(const char *b64, unsigned char **out, size_t *outlen);

/* "20130524T000000Z" (17 bytes with the NUL) for epoch ms. */
void mdx_fmt_amz_date(int64_t ms, char out[17]);
/* "Fri, 24 May 2013 00:00:00 GMT" (30 bytes with the NUL) for epoch ms. */
void mdx_fmt_http_date(int64_t ms, char out[30]);

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
int mdx_xml_escape(struct mdx_sbuf *b, const char *s);

/*
 * One libcurl easy handle, reused for every request so connections stay
 * open. Not thread-safe: one per store object, one store object per thread.
 */
struct mdx_http {
    CURL *curl;
    int64_t timeout_ms; /* whole request, connect included */
};

/* Sets up 'h'. MDX_OK, or MDX_ENOMEM when curl can't make a handle. */
int mdx_http_init(struct mdx_http *h, int64_t timeout_ms);
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
    struct mdx_sbuf body;    /* response body, owned; mdx_http_resp_fini frees it. Capped at
                                max_resp for 2xx; only the first 64 KiB of an error answer */
    int64_t content_length;  /* Content-Length header; -1 if none */
    int64_t mtime_ms;        /* Last-Modified header; 0 if none */
    char etag[160];          /* ETag header as sent (quotes kept); "" if none */
    char ms_error[64];       /* x-ms-error-code header (Azure; also on HEAD); "" if none */
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

/* 2xx -> MDX_OK, 404 -> MDX_ENOTFOUND, 401/403 -> MDX_EDENIED,
 * 408/429/5xx -> MDX_EAGAIN, other -> MDX_EINVAL. */
int mdx_http_status_err(long status);

/* Appends "name: value" to *list. MDX_OK or MDX_ENOMEM (the list is kept). */
int mdx_http_header(struct curl_slist **list, const char *name, const char *value);
/* Wipes every line of 'list' (tokens, signatures) and frees it. NULL is fine. */
void mdx_http_headers_free(struct curl_slist *list);

#endif
