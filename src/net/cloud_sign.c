/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud_sign.c - AWS SigV4 and Azure SharedKey signing. See cloud_sign.h.
 *
 * Why our own SigV4 and not libcurl's CURLOPT_AWS_SIGV4: Debian 12 ships
 * libcurl 7.88.1, whose SigV4 signs the raw query (not canonicalized),
 * leaves valueless parameters and the path unencoded, hashes an empty
 * payload for upload bodies, duplicates X-Amz-Date when given one, and
 * sorts headers by whole line (fixed between 8.0 and 8.13). Each of these
 * needs a workaround, and its signature can't be read back for the
 * known-answer tests or signed at a chosen time for the clock-skew test.
 * The algorithm itself is ~150 lines over OpenSSL HMAC/SHA-256, checked
 * against the AWS vectors in tests/unit/test_sigv4.c; libcurl still does
 * the transport. Secrets and derived keys are wiped after use.
 */
#include <stdlib.h>
#include <string.h>

#include "net/cloud_sign.h"
#include "base/encode.h"
#include "modax/alloc.h"
#include "modax/status.h"

#define SIGN_MAX (256 * 1024) /* bytes in a canonical request or string to sign */

static int kv_cmp(const void *a, const void *b)
{
    const struct mdx_kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);

    if (c != 0) {
        return c;
    }
    return strcmp(x->v != NULL ? x->v : "", y->v != NULL ? y->v : "");
}

/* A sorted copy of 'n' pairs (caller frees), or NULL. */
static struct mdx_kv *sorted_copy(const struct mdx_kv *kv, size_t n)
{
    struct mdx_kv *c = mdx_calloc(n == 0 ? 1 : n, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    if (n > 0) {
        memcpy(c, kv, n * sizeof(*c));
        qsort(c, n, sizeof(*c), kv_cmp);
    }
    return c;
}

int mdx_sigv4_query(const struct mdx_kv *q, size_t n, struct mdx_buf *out)
{
    struct mdx_buf *enc;
    struct mdx_kv *pairs = NULL;
    int rc = MDX_ENOMEM;

    /* Sort by the encoded names, which is what SigV4 specifies. */
    enc = mdx_calloc(n == 0 ? 1 : n * 2, sizeof(*enc));
    pairs = mdx_calloc(n == 0 ? 1 : n, sizeof(*pairs));
    if (enc == NULL || pairs == NULL) {
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        mdx_buf_init(&enc[2 * i], SIGN_MAX);
        mdx_buf_init(&enc[2 * i + 1], SIGN_MAX);
        mdx_uri_encode(&enc[2 * i], q[i].k, 0);
        mdx_uri_encode(&enc[2 * i + 1], q[i].v != NULL ? q[i].v : "", 0);
        if (enc[2 * i].err != MDX_OK || enc[2 * i + 1].err != MDX_OK) {
            goto cleanup;
        }
        pairs[i].k = mdx_buf_str(&enc[2 * i]);
        pairs[i].v = mdx_buf_str(&enc[2 * i + 1]);
    }
    qsort(pairs, n, sizeof(*pairs), kv_cmp);
    for (size_t i = 0; i < n; i++) {
        mdx_buf_addf(out, "%s%s=%s", i > 0 ? "&" : "", pairs[i].k, pairs[i].v);
    }
    rc = out->err;

cleanup:
    if (enc != NULL) {
        for (size_t i = 0; i < 2 * n; i++) {
            mdx_buf_fini(&enc[i]);
        }
    }
    mdx_free(enc);
    mdx_free(pairs);
    return rc;
}

int mdx_sigv4_authorization(const struct mdx_sigv4 *r, char **auth, char *canon_hash)
{
    struct mdx_buf creq, sts, out;
    struct mdx_kv *hs = NULL;
    unsigned char k[32], k2[32];
    char hash[65], sig[65], date[9], *secret = NULL;
    size_t slen;
    int rc = MDX_ENOMEM;

    *auth = NULL;
    mdx_buf_init(&creq, SIGN_MAX);
    mdx_buf_init(&sts, SIGN_MAX);
    mdx_buf_init(&out, SIGN_MAX);
    if (strlen(r->amz_date) != 16) {
        rc = MDX_EINVAL;
        goto cleanup;
    }
    memcpy(date, r->amz_date, 8);
    date[8] = '\0';
    hs = sorted_copy(r->headers, r->nheaders);
    if (hs == NULL) {
        goto cleanup;
    }

    /* CanonicalRequest */
    mdx_buf_addf(&creq, "%s\n%s\n%s\n", r->method, r->canonical_uri, r->canonical_query);
    for (size_t i = 0; i < r->nheaders; i++) {
        mdx_buf_addf(&creq, "%s:%s\n", hs[i].k, hs[i].v);
    }
    mdx_buf_adds(&creq, "\n");
    for (size_t i = 0; i < r->nheaders; i++) {
        mdx_buf_addf(&creq, "%s%s", i > 0 ? ";" : "", hs[i].k);
    }
    mdx_buf_addf(&creq, "\n%s", r->payload_hash);
    if (creq.err != MDX_OK) {
        rc = creq.err == MDX_EFULL ? MDX_EINVAL : MDX_ENOMEM;
        goto cleanup;
    }
    mdx_sha256_hex(creq.p, creq.len, hash);
    if (canon_hash != NULL) {
        memcpy(canon_hash, hash, sizeof(hash));
    }

    /* StringToSign */
    mdx_buf_addf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, date,
                  r->region, r->service, hash);
    if (sts.err != MDX_OK) {
        rc = sts.err == MDX_EFULL ? MDX_EINVAL : MDX_ENOMEM;
        goto cleanup;
    }

    /* SigningKey = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request") */
    slen = strlen(r->secret_key) + 4;
    secret = mdx_malloc(slen + 1);
    if (secret == NULL) {
        goto cleanup;
    }
    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, r->secret_key, slen - 4 + 1);
    rc = MDX_EINVAL;
    if (mdx_hmac_sha256(secret, slen, date, 8, k) != MDX_OK ||
        mdx_hmac_sha256(k, 32, r->region, strlen(r->region), k2) != MDX_OK ||
        mdx_hmac_sha256(k2, 32, r->service, strlen(r->service), k) != MDX_OK ||
        mdx_hmac_sha256(k, 32, "aws4_request", 12, k2) != MDX_OK ||
        mdx_hmac_sha256(k2, 32, sts.p, sts.len, k) != MDX_OK) {
        goto cleanup;
    }
    mdx_hex(k, 32, sig);

    mdx_buf_addf(&out, "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=",
                  r->access_key, date, r->region, r->service);
    for (size_t i = 0; i < r->nheaders; i++) {
        mdx_buf_addf(&out, "%s%s", i > 0 ? ";" : "", hs[i].k);
    }
    mdx_buf_addf(&out, ", Signature=%s", sig);
    rc = out.err == MDX_OK ? MDX_OK : MDX_ENOMEM;
    if (rc == MDX_OK) {
        *auth = mdx_buf_take(&out);
        rc = *auth != NULL ? MDX_OK : MDX_ENOMEM;
    }

cleanup:
    if (secret != NULL) {
        mdx_memzero(secret, slen);
        mdx_free(secret);
    }
    mdx_memzero(k, sizeof(k));
    mdx_memzero(k2, sizeof(k2));
    mdx_free(hs);
    mdx_buf_fini(&creq);
    mdx_buf_fini(&sts);
    mdx_buf_fini(&out);
    return rc;
}

int mdx_azure_string_to_sign(const struct mdx_azure_sign *a, struct mdx_buf *out)
{
    struct mdx_kv *xms, *q;

    xms = sorted_copy(a->xms, a->nxms);
    q = sorted_copy(a->query, a->nquery);
    if (xms == NULL || q == NULL) {
        mdx_free(xms);
        mdx_free(q);
        return MDX_ENOMEM;
    }
    /* VERB, Content-Encoding, -Language, -Length, -MD5, -Type, Date, If-Modified-Since,
     * If-Match, If-None-Match, If-Unmodified-Since, Range: we send only length, MD5 and
     * type; Date stays empty because x-ms-date is sent. */
    mdx_buf_addf(out, "%s\n\n\n%s\n%s\n%s\n\n\n\n\n\n\n", a->method, a->content_length,
                  a->content_md5 != NULL ? a->content_md5 : "", a->content_type);
    for (size_t i = 0; i < a->nxms; i++) {
        mdx_buf_addf(out, "%s:%s\n", xms[i].k, xms[i].v);
    }
    mdx_buf_addf(out, "/%s%s", a->account, a->path);
    for (size_t i = 0; i < a->nquery; i++) {
        mdx_buf_addf(out, "\n%s:%s", q[i].k, q[i].v != NULL ? q[i].v : "");
    }
    mdx_free(xms);
    mdx_free(q);
    return out->err;
}

int mdx_azure_sharedkey(const char *account, const unsigned char *key, size_t keylen,
                        const char *sts, char **auth)
{
    unsigned char mac[32];
    char *sig;
    struct mdx_buf b;

    *auth = NULL;
    if (mdx_hmac_sha256(key, keylen, sts, strlen(sts), mac) != MDX_OK) {
        return MDX_EINVAL;
    }
    sig = mdx_base64_encode(mac, sizeof(mac));
    mdx_memzero(mac, sizeof(mac));
    if (sig == NULL) {
        return MDX_ENOMEM;
    }
    mdx_buf_init(&b, 4096);
    mdx_buf_addf(&b, "SharedKey %s:%s", account, sig);
    mdx_free(sig);
    *auth = mdx_buf_take(&b);
    return *auth != NULL ? MDX_OK : MDX_ENOMEM;
}
