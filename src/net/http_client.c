/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_client.c - the HTTP client helpers of the object stores and the
 * alert sinks: bounded strings, URI encoding, OpenSSL digests, HTTP dates,
 * a minimal XML reader and the libcurl request wrapper. See
 * http_client.h.
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

#include "modax/alloc.h"
#include "modax/status.h"
#include "net/http_client.h"

/* ---- bounded string buffer ---- */

void mdx_sbuf_init(struct mdx_sbuf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void mdx_sbuf_fini(struct mdx_sbuf *b)
{
    MDX_FREE(b->p);
    b->len = 0;
    b->cap = 0;
    b->err = MDX_OK;
}

int mdx_sbuf_add(struct mdx_sbuf *b, const void *d, size_t n)
{
    if (b->err != MDX_OK) {
        return b->err;
    }
    if (n > b->max || b->len > b->max - n) {
        b->err = MDX_EFULL;
        return b->err;
    }
    if (b->p == NULL || b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        char *p;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = mdx_realloc(b->p, cap);
        if (p == NULL) {
            b->err = MDX_ENOMEM;
            return b->err;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->p + b->len, d, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    return MDX_OK;
}

int mdx_sbuf_adds(struct mdx_sbuf *b, const char *s)
{
    return mdx_sbuf_add(b, s, strlen(s));
}

int mdx_sbuf_addf(struct mdx_sbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = b->err != MDX_OK ? b->err : MDX_EINVAL;
        return b->err;
    }
    if ((size_t)n < sizeof(small)) {
        return mdx_sbuf_add(b, small, (size_t)n);
    }
    /* Rare long line: format straight into the buffer. */
    if (mdx_sbuf_add(b, small, 0) != MDX_OK || mdx_sbuf_add(b, small, (size_t)n) != MDX_OK) {
        return b->err;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len - (size_t)n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return MDX_OK;
}

const char *mdx_sbuf_str(const struct mdx_sbuf *b)
{
    return b->p != NULL ? b->p : "";
}

char *mdx_sbuf_take(struct mdx_sbuf *b)
{
    char *p;

    if (b->err != MDX_OK) {
        mdx_sbuf_fini(b);
        return NULL;
    }
    if (b->p == NULL && mdx_sbuf_add(b, "", 0) != MDX_OK) {
        return NULL;
    }
    p = b->p;
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

/* ---- encoding and digests ---- */

int mdx_uri_encode(struct mdx_sbuf *b, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (isalnum(*p) != 0 && *p < 0x80) {
            mdx_sbuf_add(b, p, 1);
        } else if (*p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
            mdx_sbuf_add(b, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mdx_sbuf_add(b, e, 3);
        }
    }
    return b->err;
}

void mdx_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void mdx_sha256_hex(const void *d, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(d, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        memset(md, 0, sizeof(md)); /* cannot happen with a working OpenSSL */
    }
    mdx_hex(md, 32, out);
}

int mdx_hmac_sha256(const void *key, size_t klen, const void *d, size_t n, unsigned char out[32])
{
    unsigned int outlen = 0;

    if (klen > 0x7fffffff ||
        HMAC(EVP_sha256(), key, (int)klen, d, n, out, &outlen) == NULL || outlen != 32) {
        return MDX_EINVAL;
    }
    return MDX_OK;
}

char *mdx_base64_encode(const void *d, size_t n)
{
    char *out;

    if (n > (size_t)0x7fffffff / 4 * 3 - 3) {
        return NULL;
    }
    out = mdx_malloc(4 * ((n + 2) / 3) + 1);
    if (out == NULL) {
        return NULL;
    }
    EVP_EncodeBlock((unsigned char *)out, d, (int)n);
    return out;
}

int mdx_base64_decode(const char *b64, unsigned char **out, size_t *outlen)
{
    size_t n = strlen(b64), pad = 0;
    unsigned char *buf;
    int got;

    *out = NULL;
    *outlen = 0;
    if (n == 0 || n % 4 != 0 || n > 0x7ffffff0) {
        return MDX_EINVAL;
    }
    while (pad < 2 && b64[n - 1 - pad] == '=') {
        pad++;
    }
    buf = mdx_malloc(n / 4 * 3 + 1);
    if (buf == NULL) {
        return MDX_ENOMEM;
    }
    got = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
    if (got < 0 || (size_t)got < pad) {
        mdx_memzero(buf, n / 4 * 3 + 1);
        mdx_free(buf);
        return MDX_EINVAL;
    }
    *out = buf;
    *outlen = (size_t)got - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
    return MDX_OK;
}

/* ---- dates ---- */

static void utc_tm(int64_t ms, struct tm *tm)
{
    time_t t = (time_t)(ms / 1000);

    if (gmtime_r(&t, tm) == NULL) {
        memset(tm, 0, sizeof(*tm));
    }
}

void mdx_fmt_amz_date(int64_t ms, char out[17])
{
    struct tm tm;

    char tmp[64];

    utc_tm(ms, &tm);
    snprintf(tmp, sizeof(tmp), "%04d%02d%02dT%02d%02d%02dZ", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, tmp, 16);
    out[16] = '\0';
}

void mdx_fmt_http_date(int64_t ms, char out[30])
{
    /* Not strftime: %a and %b follow the locale, HTTP wants English. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    char tmp[128];

    utc_tm(ms, &tm);
    snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    memcpy(out, tmp, 29);
    out[29] = '\0';
}

/* ---- minimal XML ---- */

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

/* Appends code point 'c' as UTF-8. */
static void add_utf8(struct mdx_sbuf *b, unsigned long c)
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
    mdx_sbuf_add(b, u, n);
}

char *mdx_xml_unescape(const char *s, size_t n)
{
    static const struct {
        const char *ent;
        char c;
    } named[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}};
    struct mdx_sbuf b;

    mdx_sbuf_init(&b, n + 1);
    mdx_sbuf_add(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        size_t rest = n - i - 1, k;

        if (s[i] != '&') {
            mdx_sbuf_add(&b, s + i, 1);
            continue;
        }
        for (k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
            size_t el = strlen(named[k].ent);
            if (rest >= el && memcmp(s + i + 1, named[k].ent, el) == 0) {
                mdx_sbuf_add(&b, &named[k].c, 1);
                i += el;
                break;
            }
        }
        if (k < sizeof(named) / sizeof(named[0])) {
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
        mdx_sbuf_add(&b, "&", 1); /* not an entity we know: keep it */
    }
    return mdx_sbuf_take(&b);
}

int mdx_xml_escape(struct mdx_sbuf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            mdx_sbuf_adds(b, "&amp;");
            break;
        case '<':
            mdx_sbuf_adds(b, "&lt;");
            break;
        case '>':
            mdx_sbuf_adds(b, "&gt;");
            break;
        case '"':
            mdx_sbuf_adds(b, "&quot;");
            break;
        case '\'':
            mdx_sbuf_adds(b, "&apos;");
            break;
        default:
            mdx_sbuf_add(b, s, 1);
        }
    }
    return b->err;
}

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
}

void mdx_http_resp_fini(struct mdx_http_resp *r)
{
    mdx_sbuf_fini(&r->body);
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
        mdx_sbuf_add(&r->body, data, n < room ? n : room);
        return n;
    }
    if (mdx_sbuf_add(&r->body, data, n) != MDX_OK) {
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
    mdx_sbuf_init(&rs->body, rq->max_resp);
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
    struct mdx_sbuf b;
    struct curl_slist *l;

    mdx_sbuf_init(&b, 64 * 1024);
    mdx_sbuf_addf(&b, "%s: %s", name, value);
    if (b.err != MDX_OK) {
        mdx_sbuf_fini(&b);
        return MDX_ENOMEM;
    }
    l = curl_slist_append(*list, b.p);
    mdx_memzero(b.p, b.len); /* may be Authorization or a token */
    mdx_sbuf_fini(&b);
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
