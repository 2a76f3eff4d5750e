/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore_azure.c - the Azure Blob object store: Put Blob (BlockBlob),
 * Put Block + Put Block List above multipart_mb, Get/Head/Delete Blob and
 * List Blobs over libcurl, authorized with SharedKey (cloud_sign.c) or a
 * SAS token appended to every URL.
 *
 * conf: endpoint is the blob service URL (https://ACCOUNT.blob.core.windows.net,
 * or Azurite's http://127.0.0.1:10000/devstoreaccount1), bucket the
 * container, access_key the account name, secret_key the base64 account
 * key, or sas_token a SAS query string ("sv=...&sig=...") instead of the key.
 * A tier (Hot, Cool, Cold, Archive) is sent as x-ms-access-tier with the
 * blob; Archive blobs are offline, so reading one fails (409 BlobArchived,
 * MDX_EINVAL) until it is rehydrated.
 *
 * The canonicalized resource is "/" + account + the URL path as sent, so
 * with Azurite's path-style URLs the account appears twice
 * (/devstoreaccount1/devstoreaccount1/container/blob), as Azurite expects.
 * A failed block upload is not aborted: Azure discards uncommitted blocks
 * after seven days by itself.
 *
 * Thread-safety: one curl handle per store object; one store per thread.
 */
#include <stdlib.h>
#include <string.h>

#include "net/cloud_sign.h"
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
#include "net/azure_creds.h"
#include "net/creds_util.h"
#include "net/http_client.h"

/* 2021-12-02 is the first version with the Cold tier; Azurite 3.35 accepts up to 2025-11-05. */
#define AZ_VERSION "2021-12-02"
#define MIB ((size_t)1024 * 1024)
#define AZ_MAX_BLOCK (4000 * MIB) /* Put Block limit */
#define AZ_MAX_BLOCKS 50000
#define AZ_SMALL_RESP (1 * MIB)
#define AZ_LIST_RESP (32 * MIB) /* one List Blobs page of up to 5000 names */
#define AZ_URL_MAX (64 * 1024)
#define AZ_DEFAULT_PAGE 5000
#define AZ_MAX_HEADERS 6

struct az {
    struct mdx_rest rest;   /* first: the shared ops take a struct az as one */
    struct mdx_http http;
    char *origin;           /* "scheme://authority" */
    char *base;             /* encoded path of the container, e.g. "/devstoreaccount1/modax" */
    char *account;
    unsigned char *key;     /* secret: decoded account key; NULL with a SAS */
    size_t keylen;
    char *sas;              /* secret: SAS query without '?'; NULL with a key */
    struct mdx_azure_creds *wi; /* workload identity's bearer tokens; NULL with a key or SAS */
    size_t block_size;
    size_t multipart_above; /* blobs larger than this go up in blocks */
    int64_t clock_offset_ms; /* test hook: x-ms-date shift */
    int page_keys;
    char err[256];          /* last failure; never a secret */
};

static void az_destroy(void *os)
{
    struct az *a = os;

    if (a == NULL) {
        return;
    }
    mdx_http_fini(&a->http);
    mdx_azure_creds_destroy(a->wi);
    mdx_free(a->origin);
    mdx_free(a->base);
    mdx_free(a->account);
    if (a->key != NULL) {
        mdx_memzero(a->key, a->keylen);
        mdx_free(a->key);
    }
    mdx_free_secret(a->sas);
    mdx_free(a);
}

/* Performs one request of the store (defined below; the store's struct mdx_rest calls it). */
static int az_do(void *os, const struct mdx_rest_call *c, struct mdx_http_resp *rs);

static void *az_create(const struct mdx_objstore_conf *conf, int *err)
{
    struct mdx_buf scheme, auth, b;
    const char *ep = conf->endpoint;
    struct az *a;
    int64_t mb;
    int rc;

    const char *kind = conf->credentials != NULL && conf->credentials[0] != '\0'
                           ? conf->credentials
                           : "auto";
    int have_keys = (conf->secret_key != NULL && conf->secret_key[0] != '\0') ||
                    (conf->sas_token != NULL && conf->sas_token[0] != '\0');

    *err = MDX_ECONF;
    if (strcmp(kind, "auto") == 0) {
        kind = !have_keys && mdx_azure_creds_in_env() ? "azure-workload-identity" : "keys";
    }
    if (ep == NULL || conf->bucket == NULL || conf->bucket[0] == '\0' ||
        conf->access_key == NULL || conf->access_key[0] == '\0') {
        return NULL; /* endpoint, container and account are required */
    }
    if (strcmp(kind, "keys") == 0 ? !have_keys : strcmp(kind, "azure-workload-identity") != 0) {
        mdx_log_error("archive", "Azure object store not usable",
                      MDX_F_STR("reason", have_keys ? "archive.store.credentials must be auto, "
                                                      "keys or azure-workload-identity"
                                                    : "no account key, SAS or workload "
                                                      "identity"));
        return NULL;
    }
    a = mdx_calloc(1, sizeof(*a));
    if (a == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    mdx_buf_init(&scheme, AZ_URL_MAX);
    mdx_buf_init(&auth, AZ_URL_MAX);
    mdx_buf_init(&b, AZ_URL_MAX);
    rc = mdx_rest_split_endpoint(ep, &scheme, &auth, &b);
    if (rc != MDX_OK) {
        *err = rc;
        goto fail;
    }
    mdx_buf_adds(&scheme, mdx_buf_str(&auth));
    a->origin = mdx_buf_take(&scheme);
    mdx_buf_adds(&b, "/");
    mdx_uri_encode(&b, conf->bucket, 0);
    a->base = mdx_buf_take(&b);
    a->account = mdx_strdup(conf->access_key);
    if (a->origin == NULL || a->base == NULL || a->account == NULL) {
        *err = MDX_ENOMEM;
        goto fail;
    }
    if (strcmp(kind, "azure-workload-identity") == 0) {
        const struct mdx_azure_creds_conf wc = {"archive", MDX_AZURE_SCOPE_STORAGE, conf->ca_file,
                                                conf->timeout_ms};
        a->wi = mdx_azure_creds_create(&wc, err, a->err, sizeof(a->err));
        if (a->wi == NULL) {
            mdx_log_error("archive", "Azure object store not usable", MDX_F_STR("reason", a->err));
            goto fail;
        }
    } else if (conf->secret_key != NULL && conf->secret_key[0] != '\0') {
        rc = mdx_base64_decode(conf->secret_key, &a->key, &a->keylen);
        if (rc != MDX_OK) {
            *err = rc == MDX_EINVAL ? MDX_ECONF : rc; /* not base64; the key is not logged */
            goto fail;
        }
    } else {
        const char *sas = conf->sas_token[0] == '?' ? conf->sas_token + 1 : conf->sas_token;
        a->sas = mdx_strdup(sas);
        if (a->sas == NULL) {
            *err = MDX_ENOMEM;
            goto fail;
        }
    }
    mb = conf->multipart_mb > 0 ? conf->multipart_mb : 8;
    a->multipart_above = (size_t)mb * MIB;
    a->block_size = a->multipart_above < AZ_MAX_BLOCK ? a->multipart_above : AZ_MAX_BLOCK;
    a->page_keys = AZ_DEFAULT_PAGE;
    a->rest = (struct mdx_rest){"Azure", a, az_do, a->err, sizeof(a->err), AZ_SMALL_RESP};
    rc = mdx_rest_http_init(&a->http, conf);
    if (rc != MDX_OK) {
        *err = rc;
        goto fail;
    }
    mdx_buf_fini(&auth);
    *err = MDX_OK;
    return a;

fail:
    mdx_buf_fini(&scheme);
    mdx_buf_fini(&auth);
    mdx_buf_fini(&b);
    az_destroy(a);
    return NULL;
}

static void build_path(const struct az *a, const char *key, struct mdx_buf *b)
{
    mdx_buf_adds(b, a->base);
    if (key != NULL) {
        mdx_buf_adds(b, "/");
        mdx_uri_encode(b, key, 1);
    }
}

/* Does an AuthenticationErrorDetail name the request time? Then the cause is the clock. */
static int time_detail(const char *detail)
{
    static const char *const marks[] = {"Request date header", "time frame", "x-ms-date"};

    for (size_t i = 0; detail != NULL && i < sizeof(marks) / sizeof(marks[0]); i++) {
        if (strstr(detail, marks[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* Sets a->err from a non-2xx answer; returns the status to report (an mdx_rest_fail_fn). */
static int az_fail(void *os, const char *method, const struct mdx_http_resp *rs)
{
    struct az *a = os;
    char *code, *detail;
    int rc;

    rc = mdx_http_status_err(rs->status);
    code = mdx_xml_get(rs->body.p, rs->body.len, "Code");
    detail = mdx_xml_get(rs->body.p, rs->body.len, "AuthenticationErrorDetail");
    if (code == NULL && rs->ms_error[0] != '\0') {
        code = mdx_strdup(rs->ms_error);
    }
    if (code != NULL && strcmp(code, "BlobArchived") == 0) {
        snprintf(a->err, sizeof(a->err),
                 "Azure %s: HTTP %ld BlobArchived: the blob is in the Archive tier and must be "
                 "rehydrated before it can be read",
                 method, rs->status);
        rc = MDX_EBUSY;
    } else if (rc == MDX_EDENIED && time_detail(detail)) {
        snprintf(a->err, sizeof(a->err),
                 "Azure %s: HTTP %ld %s: clock skew, the server refused the request time "
                 "(check the host clock)",
                 method, rs->status, code != NULL ? code : "");
    } else {
        snprintf(a->err, sizeof(a->err), "Azure %s: HTTP %ld%s%s", method, rs->status,
                 code != NULL ? " " : "", code != NULL ? code : "");
    }
    mdx_free(code);
    mdx_free(detail);
    return rc;
}

/*
 * Authorizes and performs one request of store 'os' (query names
 * lower-case, extra headers x-ms-* and content-md5); MDX_OK on a 2xx answer, else a->err
 * says why. An mdx_rest_do_fn.
 */
static int az_do(void *os, const struct mdx_rest_call *c, struct mdx_http_resp *rs)
{
    struct az *a = os;
    struct mdx_buf path, query, url, sts;
    struct mdx_kv hs[AZ_MAX_HEADERS + 2];
    struct curl_slist *list = NULL;
    char date[30], clen[24], *auth = NULL;
    const char *md5 = NULL, *bearer = NULL;
    size_t nh = 0;
    int rc = MDX_ENOMEM;

    memset(rs, 0, sizeof(*rs));
    mdx_buf_init(&rs->body, 1);
    mdx_buf_init(&path, AZ_URL_MAX);
    mdx_buf_init(&query, AZ_URL_MAX);
    mdx_buf_init(&url, AZ_URL_MAX);
    mdx_buf_init(&sts, AZ_URL_MAX);
    if (c->nhdrs > AZ_MAX_HEADERS) {
        rc = MDX_EINVAL;
        goto cleanup;
    }
    build_path(a, c->key, &path);
    mdx_sigv4_query(c->query, c->nquery, &query); /* any order does; this one is sorted */
    if (a->sas != NULL) {
        mdx_buf_addf(&query, "%s%s", query.len > 0 ? "&" : "", a->sas);
    }
    mdx_buf_addf(&url, "%s%s%s%s", a->origin, mdx_buf_str(&path), query.len > 0 ? "?" : "",
                  mdx_buf_str(&query));
    if (path.err != MDX_OK || query.err != MDX_OK || url.err != MDX_OK) {
        rc = MDX_EINVAL;
        snprintf(a->err, sizeof(a->err), "Azure %s: cannot build the URL", c->method);
        goto cleanup;
    }
    mdx_fmt_http_date(mdx_now_ms() + a->clock_offset_ms, date);
    hs[nh++] = (struct mdx_kv){"x-ms-date", date};
    hs[nh++] = (struct mdx_kv){"x-ms-version", AZ_VERSION};
    for (size_t i = 0; i < c->nhdrs; i++) {
        if (strcmp(c->hdrs[i].k, "content-md5") == 0) {
            md5 = c->hdrs[i].v; /* a standard header: its own place in the string to sign */
        } else {
            hs[nh++] = c->hdrs[i];
        }
    }
    if (a->wi != NULL) {
        rc = mdx_azure_creds_get(a->wi, mdx_now_ms(), &bearer, a->err, sizeof(a->err));
        if (rc != MDX_OK) {
            goto cleanup;
        }
        auth = mdx_bearer(bearer);
        if (auth == NULL) {
            rc = MDX_ENOMEM;
            snprintf(a->err, sizeof(a->err), "Azure %s: out of memory", c->method);
            goto cleanup;
        }
    } else if (a->key != NULL) {
        /* curl sends Content-Length for PUT uploads only; a zero length is signed as "". */
        int upload = strcmp(c->method, "PUT") == 0 || strcmp(c->method, "POST") == 0;
        snprintf(clen, sizeof(clen), "%zu", c->len);
        struct mdx_azure_sign sg = {
            .method = c->method,
            .content_length = upload && c->len > 0 ? clen : "",
            .content_type = c->content_type != NULL ? c->content_type : "",
            .content_md5 = md5,
            .xms = hs,
            .nxms = nh,
            .account = a->account,
            .path = mdx_buf_str(&path),
            .query = c->query,
            .nquery = c->nquery,
        };
        if (mdx_azure_string_to_sign(&sg, &sts) != MDX_OK ||
            mdx_azure_sharedkey(a->account, a->key, a->keylen, sts.p, &auth) != MDX_OK) {
            snprintf(a->err, sizeof(a->err), "Azure %s: cannot sign", c->method);
            rc = MDX_ENOMEM;
            goto cleanup;
        }
    }
    rc = MDX_OK;
    for (size_t i = 0; i < nh && rc == MDX_OK; i++) {
        rc = mdx_http_header(&list, hs[i].k, hs[i].v);
    }
    if (rc == MDX_OK && md5 != NULL) {
        rc = mdx_http_header(&list, "Content-MD5", md5);
    }
    if (rc == MDX_OK && auth != NULL) {
        rc = mdx_http_header(&list, "Authorization", auth);
    }
    /* An explicit empty Content-Type keeps curl from adding one that was not signed. */
    if (rc == MDX_OK && c->content_type != NULL) {
        rc = mdx_http_header(&list, "Content-Type", c->content_type);
    }
    for (int i = 0; i < 2 && rc == MDX_OK; i++) {
        struct curl_slist *l = curl_slist_append(list, i == 0 ? "Expect:" : "Content-Type:");
        rc = l != NULL ? MDX_OK : MDX_ENOMEM;
        list = l != NULL ? l : list;
        if (c->content_type != NULL) {
            break; /* Content-Type: with no value would drop the one just set */
        }
    }
    if (rc != MDX_OK) {
        snprintf(a->err, sizeof(a->err), "Azure %s: out of memory", c->method);
        goto cleanup;
    }
    rc = mdx_rest_send(&a->rest, &a->http, c, url.p, list, az_fail, rs);

cleanup:
    mdx_free_secret(auth); /* a bearer token is a secret */
    mdx_http_headers_free(list);
    if (url.p != NULL) {
        mdx_memzero(url.p, url.len); /* holds the SAS */
    }
    if (query.p != NULL) {
        mdx_memzero(query.p, query.len);
    }
    mdx_buf_fini(&path);
    mdx_buf_fini(&query);
    mdx_buf_fini(&url);
    mdx_buf_fini(&sts);
    return rc;
}

static int az_put_blocks(struct az *a, const char *key, const char *data, size_t len,
                         const char *tier, const char *sha256)
{
    struct mdx_http_resp rs;
    struct mdx_buf xml;
    struct mdx_kv hdrs[3];
    char md5[25];
    size_t block = a->block_size, nblocks, nh = 0;
    int rc = MDX_OK;

    nblocks = mdx_rest_parts(len, &block, AZ_MAX_BLOCKS);
    mdx_buf_init(&xml, (size_t)AZ_MAX_BLOCKS * 64);
    mdx_buf_adds(&xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (size_t i = 0; i < nblocks && rc == MDX_OK; i++) {
        char raw[32], *id;
        size_t off = i * block, n = len - off < block ? len - off : block;

        /* Block ids must all have the same length: "modax-" and six digits. */
        snprintf(raw, sizeof(raw), "modax-%06u", (unsigned)(i % 1000000));
        id = mdx_base64_encode(raw, strlen(raw));
        if (id == NULL) {
            snprintf(a->err, sizeof(a->err), "Azure PUT block: out of memory");
            rc = MDX_ENOMEM;
            break;
        }
        mdx_md5_base64(data + off, n, md5); /* Azure refuses a block that arrives damaged */
        struct mdx_kv q[] = {{"blockid", id}, {"comp", "block"}};
        struct mdx_kv h[] = {{"content-md5", md5}};
        struct mdx_rest_call c = {"PUT", key, q, 2, h, 1, NULL, data + off, n, AZ_SMALL_RESP};
        rc = az_do(a, &c, &rs);
        mdx_http_resp_fini(&rs);
        mdx_buf_addf(&xml, "<Latest>%s</Latest>", id);
        mdx_free(id);
    }
    mdx_buf_adds(&xml, "</BlockList>");
    if (rc == MDX_OK && xml.err != MDX_OK) {
        snprintf(a->err, sizeof(a->err), "Azure PUT block list: out of memory");
        rc = MDX_ENOMEM;
    }
    if (rc == MDX_OK) {
        struct mdx_kv q[] = {{"comp", "blocklist"}};

        hdrs[nh++] = (struct mdx_kv){"x-ms-blob-content-type", "application/octet-stream"};
        hdrs[nh++] = (struct mdx_kv){"x-ms-meta-modaxsha256", sha256};
        if (tier != NULL && tier[0] != '\0') {
            hdrs[nh++] = (struct mdx_kv){"x-ms-access-tier", tier};
        }
        struct mdx_rest_call c = {"PUT", key, q, 1, hdrs, nh, "application/xml", xml.p, xml.len,
                            AZ_SMALL_RESP};
        rc = az_do(a, &c, &rs);
        mdx_http_resp_fini(&rs);
    }
    mdx_buf_fini(&xml);
    return rc;
}

static int az_put(void *os, const char *key, const void *data, size_t len, const char *tier)
{
    struct az *a = os;
    struct mdx_kv hdrs[4];
    char sha256[65], md5[25];
    struct mdx_http_resp rs;
    size_t nh = 0;
    int rc;

    if (key == NULL || key[0] == '\0' || (data == NULL && len > 0)) {
        snprintf(a->err, sizeof(a->err), "Azure PUT: empty key");
        return MDX_EINVAL;
    }
    mdx_sha256_hex(data != NULL ? data : "", len, sha256);
    if (len > a->multipart_above) {
        return az_put_blocks(a, key, data, len, tier, sha256);
    }
    mdx_md5_base64(data != NULL ? data : "", len, md5); /* Azure refuses bytes damaged on the way */
    hdrs[nh++] = (struct mdx_kv){"x-ms-blob-type", "BlockBlob"};
    hdrs[nh++] = (struct mdx_kv){"x-ms-meta-modaxsha256", sha256};
    hdrs[nh++] = (struct mdx_kv){"content-md5", md5};
    if (tier != NULL && tier[0] != '\0') {
        hdrs[nh++] = (struct mdx_kv){"x-ms-access-tier", tier};
    }
    struct mdx_rest_call c = {"PUT", key, NULL, 0, hdrs, nh, "application/octet-stream",
                        data != NULL ? data : "", len, AZ_SMALL_RESP};
    rc = az_do(a, &c, &rs);
    mdx_http_resp_fini(&rs);
    return rc;
}

/* List Blobs, page by page with markers. fn's non-zero return stops it and is returned. */
static int az_list(void *os, const char *prefix,
                   int (*fn)(void *arg, const char *key, const struct mdx_obj_info *info),
                   void *arg)
{
    struct az *a = os;
    char *marker = NULL, maxres[16];
    int rc;

    snprintf(maxres, sizeof(maxres), "%d", a->page_keys);
    for (;;) {
        struct mdx_kv q[5] = {{"comp", "list"}, {"maxresults", maxres}, {"restype", "container"}};
        size_t nq = 3;
        struct mdx_http_resp rs;

        if (prefix != NULL && prefix[0] != '\0') {
            q[nq++] = (struct mdx_kv){"prefix", prefix};
        }
        if (marker != NULL) {
            q[nq++] = (struct mdx_kv){"marker", marker};
        }
        struct mdx_rest_call c = {"GET", NULL, q, nq, NULL, 0, NULL, NULL, 0, AZ_LIST_RESP};
        rc = az_do(a, &c, &rs);
        if (rc == MDX_OK) {
            static const struct mdx_rest_list_names names = {"Blob", "Name", "Content-Length",
                                                             "Last-Modified"};
            rc = mdx_rest_list_page(&a->rest, &names, rs.body.p, rs.body.len, fn, arg);
        }
        MDX_FREE(marker);
        if (rc == MDX_OK) {
            marker = mdx_xml_get(rs.body.p, rs.body.len, "NextMarker");
        }
        mdx_http_resp_fini(&rs);
        if (rc != MDX_OK || marker == NULL || marker[0] == '\0') {
            break;
        }
    }
    mdx_free(marker);
    return rc;
}

void mdx_azure_test_hooks(void *os, int64_t clock_offset_ms, int page_keys)
{
    struct az *a = os;

    a->clock_offset_ms = clock_offset_ms;
    a->page_keys = page_keys > 0 ? page_keys : AZ_DEFAULT_PAGE;
}

char *mdx_azure_test_url(void *os, const char *key)
{
    struct az *a = os;
    struct mdx_buf b;

    mdx_buf_init(&b, AZ_URL_MAX);
    mdx_buf_adds(&b, a->origin);
    build_path(a, key, &b);
    return mdx_buf_take(&b);
}

const struct mdx_objstore_ops mdx_objstore_azure = {
    .name = "azure",
    .create = az_create,
    .destroy = az_destroy,
    .put = az_put,
    .get = mdx_rest_get,
    .head = mdx_rest_head,
    .del = mdx_rest_del,
    .list = az_list,
    .last_error = mdx_rest_last_error,
};
