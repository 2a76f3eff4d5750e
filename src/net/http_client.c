/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_client.c - the libcurl request wrapper of the object stores and the
 * alert sinks. See http_client.h.
 *
 * curl_global_init() runs once (pthread_once) before the first handle,
 * and curl_global_cleanup() at exit, so LeakSanitizer sees nothing of
 * libcurl or OpenSSL left behind.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/encode.h"
#include "modax/alloc.h"
#include "modax/status.h"
#include "net/http_client.h"

/* ---- libcurl ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_global_atexit(void)
{
    curl_global_cleanup();
}

static void curl_global(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (curl_ok) {
        atexit(curl_global_atexit);
    }
}

int mdx_http_init(struct mdx_http *h, int64_t timeout_ms)
{
    memset(h, 0, sizeof(*h));
    pthread_once(&curl_once, curl_global);
    if (!curl_ok) {
        return MDX_ENOMEM;
    }
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        return MDX_ENOMEM;
    }
    h->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    return MDX_OK;
}

void mdx_http_fini(struct mdx_http *h)
{
    if (h->curl != NULL) {
        curl_easy_cleanup(h->curl);
        h->curl = NULL;
    }
    MDX_FREE(h->ca_file);
}

int mdx_http_set_ca(struct mdx_http *h, const char *ca_file)
{
    MDX_FREE(h->ca_file);
    if (ca_file == NULL || ca_file[0] == '\0') {
        return MDX_OK;
    }
    h->ca_file = mdx_strdup(ca_file);
    return h->ca_file != NULL ? MDX_OK : MDX_ENOMEM;
}

void mdx_http_resp_fini(struct mdx_http_resp *r)
{
    mdx_buf_fini(&r->body);
}

struct upload {
    const char *p;
    size_t left;
};

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nmemb < u->left ? size * nmemb : u->left;

    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

#define ERROR_BODY_MAX (64 * 1024) /* enough of a failed answer for its error code */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct mdx_http_resp *r = arg;
    size_t n = size * nmemb;

    if (r->status < 200 || r->status > 299) {
        /* An error answer: keep its start, whatever max_resp the caller expected. */
        size_t room = r->body.len < ERROR_BODY_MAX ? ERROR_BODY_MAX - r->body.len : 0;
        r->body.max = ERROR_BODY_MAX;
        mdx_buf_add(&r->body, data, n < room ? n : room);
        return n;
    }
    if (mdx_buf_add(&r->body, data, n) != MDX_OK) {
        r->too_big = r->body.err == MDX_EFULL;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return size * nmemb;
}

/* The value of header line 'line' if it is 'name' (case-insensitive), trimmed, into out. */
static int header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name), vl;

    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
        return 0;
    }
    line += nl + 1;
    n -= nl + 1;
    while (n > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' ')) {
        n--;
    }
    vl = n < outlen - 1 ? n : outlen - 1;
    memcpy(out, line, vl);
    out[vl] = '\0';
    return 1;
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *arg)
{
    struct mdx_http_resp *r = arg;
    size_t n = size * nmemb;
    char v[160];

    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) { /* a new response (after 100 Continue) */
        const char *sp = memchr(line, ' ', n);
        r->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
        r->content_length = -1;
        r->mtime_ms = 0;
        r->etag[0] = '\0';
        r->ms_error[0] = '\0';
        r->modax_sha256[0] = '\0';
    } else if (header_value(line, n, "x-amz-meta-modax-sha256", v, sizeof(v)) ||
               header_value(line, n, "x-goog-meta-modax-sha256", v, sizeof(v)) ||
               header_value(line, n, "x-ms-meta-modaxsha256", v, sizeof(v))) {
        if (strlen(v) == sizeof(r->modax_sha256) - 1) {
            memcpy(r->modax_sha256, v, sizeof(r->modax_sha256)); /* 64 hex digits and the NUL */
        }
    } else if (header_value(line, n, "x-ms-error-code", v, sizeof(v))) {
        size_t vl = strnlen(v, sizeof(r->ms_error) - 1);
        memcpy(r->ms_error, v, vl);
        r->ms_error[vl] = '\0';
    } else if (header_value(line, n, "content-length", v, sizeof(v))) {
        char *end;
        long long cl = strtoll(v, &end, 10);
        r->content_length = (end != v && *end == '\0' && cl >= 0) ? cl : -1;
    } else if (header_value(line, n, "last-modified", v, sizeof(v))) {
        time_t t = curl_getdate(v, NULL);
        r->mtime_ms = t > 0 ? (int64_t)t * 1000 : 0;
    } else if (header_value(line, n, "etag", v, sizeof(v))) {
        snprintf(r->etag, sizeof(r->etag), "%s", v);
    }
    return n;
}

int mdx_http_do(struct mdx_http *h, const struct mdx_http_req *rq, struct mdx_http_resp *rs)
{
    struct upload up = {rq->body != NULL ? rq->body : "", rq->body_len};
    CURL *c = h->curl;
    CURLcode cc;
    char errbuf[CURL_ERROR_SIZE];

    memset(rs, 0, sizeof(*rs));
    mdx_buf_init(&rs->body, rq->max_resp);
    rs->content_length = -1;
    errbuf[0] = '\0';

    curl_easy_reset(c); /* keeps the connection cache */
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, rq->headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (h->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    }
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        /* A read callback with a known size: Content-Length, not chunked (S3 answers 411). */
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, up.p);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    }

    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL); /* errbuf goes out of scope */
    if (cc == CURLE_OK) {
        return MDX_OK;
    }
    {
        const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
        size_t n = strnlen(why, sizeof(rs->curl_err) - 1);
        memcpy(rs->curl_err, why, n);
        rs->curl_err[n] = '\0';
    }
    if (rs->too_big) {
        return MDX_ERANGE;
    }
    switch (cc) {
    case CURLE_OUT_OF_MEMORY:
        return MDX_ENOMEM;
    case CURLE_WRITE_ERROR:
        return rs->body.err == MDX_ENOMEM ? MDX_ENOMEM : MDX_EIO;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        rs->status = 0;
        return MDX_EAGAIN;
    default:
        rs->status = 0;
        return MDX_EIO;
    }
}

int mdx_http_post_form(struct mdx_http *h, const char *url, const char *const *fields,
                       size_t max_resp, struct mdx_http_resp *rs)
{
    struct curl_slist *hs = NULL;
    struct mdx_buf body;
    int rc;

    mdx_buf_init(&body, 1 << 20);
    for (size_t i = 0; fields[i] != NULL && fields[i + 1] != NULL; i += 2) {
        mdx_buf_addf(&body, "%s%s=", i > 0 ? "&" : "", fields[i]);
        mdx_uri_encode(&body, fields[i + 1], 0);
    }
    rc = body.err;
    if (rc == MDX_OK) {
        rc = mdx_http_header(&hs, "Content-Type", "application/x-www-form-urlencoded");
    }
    if (rc == MDX_OK) {
        struct mdx_http_req rq = {"POST", url, hs, body.p, body.len, max_resp};
        rc = mdx_http_do(h, &rq, rs);
    } else {
        memset(rs, 0, sizeof(*rs));
        mdx_buf_init(&rs->body, max_resp);
    }
    if (body.p != NULL) {
        mdx_memzero(body.p, body.len);
    }
    mdx_buf_fini(&body);
    mdx_http_headers_free(hs);
    return rc;
}

int mdx_http_status_err(long status)
{
    if (status >= 200 && status < 300) {
        return MDX_OK;
    }
    if (status == 404) {
        return MDX_ENOTFOUND;
    }
    if (status == 401 || status == 403) {
        return MDX_EDENIED;
    }
    if (status == 408 || status == 429 || status >= 500) {
        return MDX_EAGAIN;
    }
    return MDX_EINVAL;
}

int mdx_http_header(struct curl_slist **list, const char *name, const char *value)
{
    struct mdx_buf b;
    struct curl_slist *l;

    mdx_buf_init(&b, 64 * 1024);
    mdx_buf_addf(&b, "%s: %s", name, value);
    if (b.err != MDX_OK) {
        mdx_buf_fini(&b);
        return MDX_ENOMEM;
    }
    l = curl_slist_append(*list, b.p);
    mdx_memzero(b.p, b.len); /* may be Authorization or a token */
    mdx_buf_fini(&b);
    if (l == NULL) {
        return MDX_ENOMEM;
    }
    *list = l;
    return MDX_OK;
}

void mdx_http_headers_free(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l != NULL; l = l->next) {
        mdx_memzero(l->data, strlen(l->data));
    }
    curl_slist_free_all(list);
}
