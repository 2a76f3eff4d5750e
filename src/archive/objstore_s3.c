/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore_s3.c - the S3 object store: PUT/GET/HEAD/DELETE, ListObjectsV2
 * and multipart upload over libcurl, signed with SigV4 (cloud_sign.c;
 * why not libcurl's CURLOPT_AWS_SIGV4 is explained there).
 *
 * Addressing: path style (https://host/bucket/key; stand-ins and IP
 * endpoints need it) or virtual-host style (https://bucket.host/key).
 * Keys are percent-encoded per path segment, once, exactly as signed.
 * Every request carries x-amz-content-sha256 (the body's SHA-256) and
 * x-amz-date; a session token goes in x-amz-security-token; a tier becomes
 * x-amz-storage-class and conf->sse x-amz-server-side-encryption. Objects
 * larger than multipart_mb MiB go up in parts of that size (at least
 * 5 MiB, at most 10,000 parts); a failed multipart upload is aborted so no
 * orphaned parts accrue cost.
 *
 * GCS: the same code serves Google Cloud Storage through its S3
 * interoperability endpoint (endpoint https://storage.googleapis.com, HMAC
 * key id and secret as access and secret key). What differs there: region
 * "auto" (or the bucket location) in the credential scope; storage
 * classes take GCS names (NEARLINE, COLDLINE, ARCHIVE); only x-amz-*
 * headers with an x-goog-* equivalent are honoured (SSE-S3 "AES256" is
 * not one: leave sse empty, GCS encrypts at rest anyway); multi-object
 * delete is not implemented there, which is why del() deletes one by one.
 * Path style works with any bucket name and is the safer choice.
 * With archive.store.credentials = gcp the requests carry an OAuth access
 * token ("Authorization: Bearer", net/gcp_creds.h: GKE Workload Identity's
 * metadata server or a service-account key) instead of a SigV4 signature,
 * and the metadata and storage-class headers take their x-goog-* names,
 * which GCS honours with OAuth.
 *
 * Thread-safety: a store object holds one curl handle and must be used by
 * one thread at a time; make one store per thread.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net/aws_creds.h"
#include "net/cloud_sign.h"
#include "net/creds_util.h"
#include "archive/objstore_cloud.h"
#include "archive/objstore_rest.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/objstore.h"
#include "modax/status.h"
#include "archive/xml.h"
#include "base/encode.h"
#include "base/httpdate.h"
#include "net/gcp_creds.h"
#include "net/http_client.h"

#define MIB ((size_t)1024 * 1024)
#define S3_MIN_PART (5 * MIB)          /* S3's smallest part, except the last */
#define S3_MAX_PARTS 10000
#define S3_SMALL_RESP (1 * MIB)        /* error, initiate and complete answers */
#define S3_LIST_RESP (16 * MIB)        /* one ListObjectsV2 page of up to 1000 keys */
#define S3_URL_MAX (64 * 1024)
#define S3_DEFAULT_PAGE 1000
#define S3_MAX_HEADERS 8

struct s3 {
    struct mdx_rest rest;   /* first: the shared ops take a struct s3 as one */
    struct mdx_http http;
    char *origin;        /* "scheme://authority" the URLs start with */
    char *host;          /* Host header value (the authority) */
    char *prefix;        /* encoded path before "/key": "/bucket" (path style) or "" */
    char *region;
    struct mdx_aws_creds *creds; /* the keys, refreshed before they expire (aws_creds.h) */
    struct mdx_gcp_creds *gcp;   /* instead of creds: GCS with OAuth tokens (gcp_creds.h) */
    char *sse;           /* NULL when none */
    size_t part_size;    /* multipart part size */
    size_t multipart_above; /* objects larger than this go in parts */
    int64_t clock_offset_ms; /* test hook: signing time shift */
    int page_keys;
    char err[256];       /* last failure; never a secret */
};

/* A copy of 's', or NULL when 's' is NULL or empty. *fail is set when the copy failed. */
static char *dup_opt(const char *s, int *fail)
{
    char *c;

    if (s == NULL || s[0] == '\0') {
        return NULL;
    }
    c = mdx_strdup(s);
    if (c == NULL) {
        *fail = 1;
    }
    return c;
}

static void s3_destroy(void *os)
{
    struct s3 *s = os;

    if (s == NULL) {
        return;
    }
    mdx_http_fini(&s->http);
    mdx_free(s->origin);
    mdx_free(s->host);
    mdx_free(s->prefix);
    mdx_free(s->region);
    mdx_aws_creds_destroy(s->creds);
    mdx_gcp_creds_destroy(s->gcp);
    mdx_free(s->sse);
    mdx_free(s);
}

/* Performs one request of the store (defined below; the store's struct mdx_rest calls it). */
static int s3_do(void *os, const struct mdx_rest_call *c, struct mdx_http_resp *rs);

static void *s3_create(const struct mdx_objstore_conf *conf, int *err)
{
    struct mdx_buf scheme, auth, path, b;
    struct s3 *s;
    int fail = 0, rc;
    int64_t mb;

    *err = MDX_ECONF;
    if (conf->endpoint == NULL || conf->endpoint[0] == '\0' || conf->bucket == NULL ||
        conf->bucket[0] == '\0') {
        return NULL; /* endpoint and bucket are required */
    }
    s = mdx_calloc(1, sizeof(*s));
    if (s == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    mdx_buf_init(&scheme, S3_URL_MAX);
    mdx_buf_init(&auth, S3_URL_MAX);
    mdx_buf_init(&path, S3_URL_MAX);
    mdx_buf_init(&b, S3_URL_MAX);
    rc = mdx_rest_split_endpoint(conf->endpoint, &scheme, &auth, &path);
    if (rc != MDX_OK) {
        *err = rc;
        goto fail;
    }
    if (conf->path_style) {
        mdx_buf_addf(&b, "%s%s", mdx_buf_str(&scheme), mdx_buf_str(&auth));
        s->origin = mdx_buf_take(&b);
        s->host = mdx_strdup(mdx_buf_str(&auth));
        mdx_buf_init(&b, S3_URL_MAX);
        mdx_buf_addf(&b, "%s/", mdx_buf_str(&path));
        mdx_uri_encode(&b, conf->bucket, 0);
        s->prefix = mdx_buf_take(&b);
    } else {
        mdx_buf_addf(&b, "%s.%s", conf->bucket, mdx_buf_str(&auth));
        s->host = mdx_buf_take(&b);
        mdx_buf_init(&b, S3_URL_MAX);
        mdx_buf_addf(&b, "%s%s", mdx_buf_str(&scheme), s->host != NULL ? s->host : "");
        s->origin = mdx_buf_take(&b);
        s->prefix = mdx_strdup(mdx_buf_str(&path));
    }
    s->region = mdx_strdup(conf->region != NULL && conf->region[0] != '\0' ? conf->region
                                                                          : "us-east-1");
    if (conf->credentials != NULL && strcmp(conf->credentials, "gcp") == 0) {
        struct mdx_gcp_creds_conf gc = {"archive.store", "auto", conf->gcp_key_file, NULL,
                                        NULL, MDX_GCP_SCOPE_STORAGE, conf->ca_file,
                                        conf->timeout_ms};
        s->gcp = mdx_gcp_creds_create(&gc, &rc, s->err, sizeof(s->err));
    } else {
        struct mdx_aws_creds_conf ac = {"archive.store", conf->credentials, conf->access_key,
                                        conf->secret_key, conf->session_token, conf->region,
                                        "modax-archiver", conf->ca_file, conf->timeout_ms};
        s->creds = mdx_aws_creds_create(&ac, &rc, s->err, sizeof(s->err));
    }
    if (s->creds == NULL && s->gcp == NULL) {
        mdx_log_error("archive", "S3 object store not usable", MDX_F_STR("reason", s->err));
        *err = rc;
        goto fail;
    }
    s->sse = dup_opt(conf->sse, &fail);
    if (fail || s->origin == NULL || s->host == NULL || s->prefix == NULL || s->region == NULL) {
        *err = MDX_ENOMEM;
        goto fail;
    }
    mb = conf->multipart_mb > 0 ? conf->multipart_mb : 8;
    if (mb > 5 * 1024) {
        mb = 5 * 1024; /* S3's largest part */
    }
    s->multipart_above = (size_t)mb * MIB;
    s->part_size = s->multipart_above < S3_MIN_PART ? S3_MIN_PART : s->multipart_above;
    s->page_keys = S3_DEFAULT_PAGE;
    s->rest = (struct mdx_rest){"S3", s, s3_do, s->err, sizeof(s->err), S3_SMALL_RESP};
    rc = mdx_rest_http_init(&s->http, conf);
    if (rc != MDX_OK) {
        *err = rc;
        goto fail;
    }
    mdx_buf_fini(&scheme);
    mdx_buf_fini(&auth);
    mdx_buf_fini(&path);
    *err = MDX_OK;
    return s;

fail:
    mdx_buf_fini(&scheme);
    mdx_buf_fini(&auth);
    mdx_buf_fini(&path);
    mdx_buf_fini(&b);
    s3_destroy(s);
    return NULL;
}

/* Appends the encoded request path for 'key' (NULL: the bucket) to 'b'. */
static void build_path(const struct s3 *s, const char *key, struct mdx_buf *b)
{
    mdx_buf_adds(b, s->prefix);
    if (key != NULL) {
        mdx_buf_adds(b, "/");
        mdx_uri_encode(b, key, 1);
    } else if (s->prefix[0] == '\0') {
        mdx_buf_adds(b, "/");
    }
}

/*
 * Sets s->err from a non-2xx answer and returns the status to report (an
 * mdx_rest_fail_fn). S3 puts an XML <Error><Code> in every failed answer
 * that has a body.
 */
static int s3_fail(void *os, const char *method, const struct mdx_http_resp *rs)
{
    struct s3 *s = os;
    char *code;
    int rc;

    code = mdx_xml_get(rs->body.p, rs->body.len, "Code");
    rc = mdx_http_status_err(rs->status);
    if (code != NULL && strcmp(code, "InvalidObjectState") == 0) {
        snprintf(s->err, sizeof(s->err),
                 "S3 %s: HTTP %ld InvalidObjectState: the object is in an archive storage class "
                 "and must be restored before it can be read",
                 method, rs->status);
        rc = MDX_EBUSY;
    } else if (code != NULL && strcmp(code, "RequestTimeTooSkewed") == 0) {
        snprintf(s->err, sizeof(s->err),
                 "S3 %s: HTTP %ld RequestTimeTooSkewed: clock skew, the host clock differs from "
                 "the server's by more than 15 minutes",
                 method, rs->status);
        rc = MDX_EDENIED;
    } else {
        snprintf(s->err, sizeof(s->err), "S3 %s: HTTP %ld%s%s", method, rs->status,
                 code != NULL ? " " : "", code != NULL ? code : "");
    }
    mdx_free(code);
    return rc;
}

/*
 * The headers of a request to GCS with an OAuth token: Host and the call's
 * own, into hs[*nh]; *auth becomes "Bearer TOKEN" (a secret the caller
 * wipes and frees). MDX_OK or an error with s->err set.
 */
static int bearer(struct s3 *s, const struct mdx_rest_call *c, struct mdx_kv *hs, size_t *nh,
                  char **auth)
{
    const char *token;
    int rc = mdx_gcp_creds_get(s->gcp, mdx_now_ms(), &token, s->err, sizeof(s->err));

    if (rc != MDX_OK) {
        return rc;
    }
    hs[(*nh)++] = (struct mdx_kv){"host", s->host};
    for (size_t i = 0; i < c->nhdrs; i++) {
        hs[(*nh)++] = c->hdrs[i];
    }
    *auth = mdx_bearer(token);
    if (*auth == NULL) {
        snprintf(s->err, sizeof(s->err), "S3 %s: out of memory", c->method);
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

/*
 * Signs and performs one request of store 'os'. On MDX_OK (a 2xx answer)
 * 'rs' holds the answer; otherwise s->err says why. The caller fini()s
 * 'rs' in every case. An mdx_rest_do_fn.
 */
static int s3_send(struct s3 *s, const struct mdx_rest_call *c, struct mdx_http_resp *rs)
{
    struct mdx_buf path, query, url;
    struct mdx_kv hs[S3_MAX_HEADERS + 4];
    struct curl_slist *list = NULL;
    struct mdx_sigv4 sig;
    struct mdx_aws_keys keys;
    char payload[65], amz_date[17], *auth = NULL;
    size_t nh = 0;
    int rc;

    memset(rs, 0, sizeof(*rs));
    mdx_buf_init(&rs->body, 1);
    mdx_buf_init(&path, S3_URL_MAX);
    mdx_buf_init(&query, S3_URL_MAX);
    mdx_buf_init(&url, S3_URL_MAX);
    if (c->nhdrs > S3_MAX_HEADERS) {
        rc = MDX_EINVAL;
        goto cleanup;
    }
    build_path(s, c->key, &path);
    mdx_sigv4_query(c->query, c->nquery, &query);
    mdx_buf_addf(&url, "%s%s%s%s", s->origin, mdx_buf_str(&path), query.len > 0 ? "?" : "",
                  mdx_buf_str(&query));
    if (path.err != MDX_OK || query.err != MDX_OK || url.err != MDX_OK) {
        rc = path.err == MDX_EFULL || query.err == MDX_EFULL || url.err == MDX_EFULL ? MDX_EINVAL
                                                                                   : MDX_ENOMEM;
        snprintf(s->err, sizeof(s->err), "S3 %s: cannot build the URL (%s)", c->method,
                 mdx_strerror(rc));
        goto cleanup;
    }
    if (s->gcp != NULL) {
        rc = bearer(s, c, hs, &nh, &auth);
    } else {
        rc = mdx_aws_creds_get(s->creds, mdx_now_ms(), &keys, s->err, sizeof(s->err));
        if (rc != MDX_OK) {
            goto cleanup;
        }
        mdx_sha256_hex(c->body != NULL ? c->body : "", c->body != NULL ? c->len : 0, payload);
        mdx_fmt_amz_date(mdx_now_ms() + s->clock_offset_ms, amz_date);

        hs[nh++] = (struct mdx_kv){"host", s->host};
        hs[nh++] = (struct mdx_kv){"x-amz-content-sha256", payload};
        hs[nh++] = (struct mdx_kv){"x-amz-date", amz_date};
        if (keys.session_token != NULL) {
            hs[nh++] = (struct mdx_kv){"x-amz-security-token", keys.session_token};
        }
        for (size_t i = 0; i < c->nhdrs; i++) {
            hs[nh++] = c->hdrs[i];
        }
        sig = (struct mdx_sigv4){
            .method = c->method,
            .canonical_uri = mdx_buf_str(&path),
            .canonical_query = mdx_buf_str(&query),
            .headers = hs,
            .nheaders = nh,
            .payload_hash = payload,
            .amz_date = amz_date,
            .region = s->region,
            .service = "s3",
            .access_key = keys.access_key,
            .secret_key = keys.secret_key,
        };
        rc = mdx_sigv4_authorization(&sig, &auth, NULL);
        if (rc != MDX_OK) {
            snprintf(s->err, sizeof(s->err), "S3 %s: cannot sign (%s)", c->method,
                     mdx_strerror(rc));
        }
    }
    if (rc != MDX_OK) {
        goto cleanup;
    }
    /* Host is given explicitly so that what curl sends is what was signed. */
    rc = mdx_http_header(&list, "Host", s->host);
    for (size_t i = 1; i < nh && rc == MDX_OK; i++) {
        rc = mdx_http_header(&list, hs[i].k, hs[i].v);
    }
    if (rc == MDX_OK) {
        rc = mdx_http_header(&list, "Authorization", auth);
    }
    if (rc == MDX_OK && c->content_type != NULL) {
        rc = mdx_http_header(&list, "Content-Type", c->content_type);
    }
    if (rc == MDX_OK) {
        struct curl_slist *l = curl_slist_append(list, "Expect:"); /* no 100-continue wait */
        rc = l != NULL ? MDX_OK : MDX_ENOMEM;
        list = l != NULL ? l : list;
    }
    if (rc != MDX_OK) {
        snprintf(s->err, sizeof(s->err), "S3 %s: out of memory", c->method);
        goto cleanup;
    }
    rc = mdx_rest_send(&s->rest, &s->http, c, url.p, list, s3_fail, rs);
    if (s->gcp != NULL && rs->status == 401) {
        mdx_gcp_creds_invalidate(s->gcp); /* expired or revoked: the next request fetches one */
    }

cleanup:
    mdx_free_secret(auth);
    mdx_http_headers_free(list);
    mdx_buf_fini(&path);
    mdx_buf_fini(&query);
    mdx_buf_fini(&url);
    return rc;
}

/*
 * One request, sent again once with a new token when GCS answers 401 to a
 * bearer token (revoked, or expired on the way): the caller sees the
 * second answer.
 */
static int s3_do(void *os, const struct mdx_rest_call *c, struct mdx_http_resp *rs)
{
    struct s3 *s = os;
    int rc = s3_send(s, c, rs);

    if (s->gcp != NULL && rs->status == 401) {
        mdx_http_resp_fini(rs); /* s3_send starts a fresh answer */
        rc = s3_send(s, c, rs); /* s3_send invalidated the token */
    }
    return rc;
}

/*
 * Signed headers for an object's creation: storage class, SSE and the
 * SHA-256 of the whole object as metadata ('sha256', hex, borrowed), which
 * HEAD returns in every storage class. Returns their count (at most 3).
 */
static size_t create_headers(const struct s3 *s, const char *tier, const char *sha256,
                             struct mdx_kv *h)
{
    size_t n = 0;

    h[n++] = (struct mdx_kv){s->gcp != NULL ? "x-goog-meta-modax-sha256"
                                            : "x-amz-meta-modax-sha256",
                             sha256};
    if (s->sse != NULL) {
        h[n++] = (struct mdx_kv){"x-amz-server-side-encryption", s->sse};
    }
    if (tier != NULL && tier[0] != '\0') {
        h[n++] = (struct mdx_kv){s->gcp != NULL ? "x-goog-storage-class" : "x-amz-storage-class",
                                 tier};
    }
    return n;
}

static int s3_abort(struct s3 *s, const char *key, const char *upload_id)
{
    struct mdx_kv q[] = {{"uploadId", upload_id}};
    struct mdx_rest_call c = {"DELETE", key, q, 1, NULL, 0, NULL, NULL, 0, S3_SMALL_RESP};
    struct mdx_http_resp rs;
    char keep[sizeof(s->err)];
    int rc;

    memcpy(keep, s->err, sizeof(keep)); /* report the failure that made us abort */
    rc = s3_do(s, &c, &rs);
    mdx_http_resp_fini(&rs);
    memcpy(s->err, keep, sizeof(keep));
    return rc;
}

static int s3_put_multipart(struct s3 *s, const char *key, const char *data, size_t len,
                            const char *tier, const char *sha256)
{
    struct mdx_kv hdrs[3];
    struct mdx_http_resp rs;
    struct mdx_buf xml;
    size_t part = s->part_size, nparts;
    char *upload_id = NULL, md5[25];
    int rc;

    nparts = mdx_rest_parts(len, &part, S3_MAX_PARTS);
    mdx_buf_init(&xml, (size_t)S3_MAX_PARTS * 256);

    /* Initiate: POST ?uploads= (with '=': the valueless form, signed as "uploads="). */
    struct mdx_kv qi[] = {{"uploads", ""}};
    struct mdx_rest_call ci = {"POST", key, qi, 1, hdrs, create_headers(s, tier, sha256, hdrs),
                         "application/octet-stream", NULL, 0, S3_SMALL_RESP};
    rc = s3_do(s, &ci, &rs);
    if (rc == MDX_OK) {
        upload_id = mdx_xml_get(rs.body.p, rs.body.len, "UploadId");
        if (upload_id == NULL || upload_id[0] == '\0') {
            snprintf(s->err, sizeof(s->err), "S3 POST uploads: no UploadId in the answer");
            rc = MDX_EIO;
        }
    }
    mdx_http_resp_fini(&rs);
    if (rc != MDX_OK) {
        goto cleanup;
    }

    mdx_buf_adds(&xml, "<CompleteMultipartUpload>");
    for (size_t i = 0; i < nparts; i++) {
        char num[24];
        size_t off = i * part, n = len - off < part ? len - off : part;

        snprintf(num, sizeof(num), "%zu", i + 1);
        mdx_md5_base64(data + off, n, md5); /* S3 refuses a part that arrives damaged */
        struct mdx_kv qp[] = {{"partNumber", num}, {"uploadId", upload_id}};
        struct mdx_kv hp[] = {{"content-md5", md5}};
        struct mdx_rest_call cp = {"PUT", key, qp, 2, hp, 1, NULL, data + off, n, S3_SMALL_RESP};
        rc = s3_do(s, &cp, &rs);
        if (rc == MDX_OK && rs.etag[0] == '\0') {
            snprintf(s->err, sizeof(s->err), "S3 PUT part %zu: no ETag in the answer", i + 1);
            rc = MDX_EIO;
        }
        if (rc == MDX_OK) {
            mdx_buf_addf(&xml, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
            mdx_xml_escape(&xml, rs.etag);
            mdx_buf_adds(&xml, "</ETag></Part>");
        }
        mdx_http_resp_fini(&rs);
        if (rc != MDX_OK) {
            goto abort;
        }
    }
    mdx_buf_adds(&xml, "</CompleteMultipartUpload>");
    if (xml.err != MDX_OK) {
        rc = MDX_ENOMEM;
        snprintf(s->err, sizeof(s->err), "S3 multipart: out of memory");
        goto abort;
    }

    struct mdx_kv qc[] = {{"uploadId", upload_id}};
    struct mdx_rest_call cc = {"POST", key, qc, 1, NULL, 0, "application/xml", xml.p, xml.len,
                         S3_SMALL_RESP};
    rc = s3_do(s, &cc, &rs);
    /* Complete may answer 200 and still fail: the error is then in the body. */
    if (rc == MDX_OK && rs.body.p != NULL && strstr(rs.body.p, "<Error>") != NULL) {
        char *code = mdx_xml_get(rs.body.p, rs.body.len, "Code");
        snprintf(s->err, sizeof(s->err), "S3 POST complete: %s", code != NULL ? code : "error");
        mdx_free(code);
        rc = MDX_EAGAIN;
    }
    mdx_http_resp_fini(&rs);
    if (rc == MDX_OK) {
        goto cleanup;
    }

abort:
    s3_abort(s, key, upload_id);
cleanup:
    mdx_free(upload_id);
    mdx_buf_fini(&xml);
    return rc;
}

static int s3_put(void *os, const char *key, const void *data, size_t len, const char *tier)
{
    struct s3 *s = os;
    struct mdx_kv hdrs[4];
    struct mdx_http_resp rs;
    char sha256[65], md5[25];
    size_t nh;
    int rc;

    if (key == NULL || key[0] == '\0' || (data == NULL && len > 0)) {
        snprintf(s->err, sizeof(s->err), "S3 PUT: empty key");
        return MDX_EINVAL;
    }
    mdx_sha256_hex(data != NULL ? data : "", len, sha256);
    if (len > s->multipart_above) {
        return s3_put_multipart(s, key, data, len, tier, sha256);
    }
    mdx_md5_base64(data != NULL ? data : "", len, md5); /* S3 refuses bytes damaged on the way */
    nh = create_headers(s, tier, sha256, hdrs);
    hdrs[nh++] = (struct mdx_kv){"content-md5", md5};
    struct mdx_rest_call c = {"PUT", key, NULL, 0, hdrs, nh,
                        "application/octet-stream", data != NULL ? data : "", len,
                        S3_SMALL_RESP};
    rc = s3_do(s, &c, &rs);
    mdx_http_resp_fini(&rs);
    return rc;
}

/*
 * ListObjectsV2, page by page with continuation tokens. fn's non-zero
 * return stops the listing and is returned.
 */
static int s3_list(void *os, const char *prefix,
                   int (*fn)(void *arg, const char *key, const struct mdx_obj_info *info),
                   void *arg)
{
    struct s3 *s = os;
    char *token = NULL, *trunc = NULL, maxkeys[16];
    int rc;

    snprintf(maxkeys, sizeof(maxkeys), "%d", s->page_keys);
    for (;;) {
        struct mdx_kv q[4] = {{"list-type", "2"}, {"max-keys", maxkeys},
                              {"prefix", prefix != NULL ? prefix : ""}};
        size_t nq = 3;
        struct mdx_http_resp rs;

        if (token != NULL) {
            q[nq++] = (struct mdx_kv){"continuation-token", token};
        }
        struct mdx_rest_call c = {"GET", NULL, q, nq, NULL, 0, NULL, NULL, 0, S3_LIST_RESP};
        rc = s3_do(s, &c, &rs);
        if (rc == MDX_OK) {
            static const struct mdx_rest_list_names names = {"Contents", "Key", "Size",
                                                             "LastModified"};
            rc = mdx_rest_list_page(&s->rest, &names, rs.body.p, rs.body.len, fn, arg);
        }
        MDX_FREE(token);
        if (rc == MDX_OK) {
            trunc = mdx_xml_get(rs.body.p, rs.body.len, "IsTruncated");
            token = mdx_xml_get(rs.body.p, rs.body.len, "NextContinuationToken");
        }
        mdx_http_resp_fini(&rs);
        if (rc != MDX_OK || trunc == NULL || strcmp(trunc, "true") != 0) {
            break;
        }
        MDX_FREE(trunc);
        if (token == NULL || token[0] == '\0') {
            snprintf(s->err, sizeof(s->err), "S3 list: truncated page without a token");
            rc = MDX_EIO;
            break;
        }
    }
    mdx_free(trunc);
    mdx_free(token);
    return rc;
}

void mdx_s3_test_hooks(void *os, int64_t clock_offset_ms, int page_keys)
{
    struct s3 *s = os;

    s->clock_offset_ms = clock_offset_ms;
    s->page_keys = page_keys > 0 ? page_keys : S3_DEFAULT_PAGE;
}

char *mdx_s3_test_url(void *os, const char *key)
{
    struct s3 *s = os;
    struct mdx_buf b;

    mdx_buf_init(&b, S3_URL_MAX);
    mdx_buf_adds(&b, s->origin);
    build_path(s, key, &b);
    return mdx_buf_take(&b);
}

const struct mdx_objstore_ops mdx_objstore_s3 = {
    .name = "s3",
    .create = s3_create,
    .destroy = s3_destroy,
    .put = s3_put,
    .get = mdx_rest_get,
    .head = mdx_rest_head,
    .del = mdx_rest_del,
    .list = s3_list,
    .last_error = mdx_rest_last_error,
};
