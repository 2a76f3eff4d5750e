/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_endpoint.c - RUL predictions from a model served elsewhere: one
 * KServe v2 inference request per batch (the protocol of NVIDIA Triton, which
 * serves the ONNX export on SageMaker and Azure ML; deploy/ml/) over the
 * shared libcurl client (src/net/http_client.c). The features are computed
 * here as for in-process prediction; only the trees run at the endpoint.
 * Used by `modax predict --endpoint`; the live stage's rul.endpoint mode is
 * a design (docs/rul.md).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "modax/alloc.h"
#include "modax/rul.h"
#include "modax/status.h"
#include "net/http_client.h"
#include "rul/rul_endpoint_auth.h"

#define BYTES_PER_VALUE 16                  /* "%.9g," of a float32, at most */
#define RESP_OVERHEAD 4096                  /* the answer's names, shape, datatype */

/* {"inputs":[{"name":"features","shape":[n,nf],"datatype":"FP32","data":[...]}],...} */
static int request_body(struct mdx_buf *b, const float *x, size_t n, size_t nf)
{
    mdx_buf_addf(b, "{\"inputs\":[{\"name\":\"features\",\"shape\":[%zu,%zu],"
                    "\"datatype\":\"FP32\",\"data\":[", n, nf);
    for (size_t i = 0; i < n * nf; i++) {
        if (!isfinite(x[i])) {
            return MDX_EINVAL; /* JSON has no NaN; the live rows never hold one */
        }
        mdx_buf_addf(b, "%s%.9g", i ? "," : "", (double)x[i]); /* float32 round trip */
    }
    return mdx_buf_adds(b, "]}],\"outputs\":[{\"name\":\"rul\"}]}");
}

/* The "rul" output of a KServe v2 answer: n numbers into rul. */
static int parse_answer(const char *text, size_t len, size_t n, float *rul, char *why,
                        size_t whylen)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs"), *o, *data = NULL;
    size_t i = 0;
    int rc = MDX_EINVAL;

    cJSON_ArrayForEach(o, outs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (cJSON_IsString(name) && strcmp(name->valuestring, "rul") == 0) {
            data = cJSON_GetObjectItemCaseSensitive(o, "data");
        }
    }
    if (!cJSON_IsArray(data)) {
        snprintf(why, whylen, "the endpoint's answer has no output \"rul\" with data");
        goto out;
    }
    if ((size_t)cJSON_GetArraySize(data) != n) {
        snprintf(why, whylen, "the endpoint answered %d values for %zu rows",
                 cJSON_GetArraySize(data), n);
        goto out;
    }
    cJSON_ArrayForEach(o, data) {
        if (!cJSON_IsNumber(o) || !isfinite(o->valuedouble)) {
            snprintf(why, whylen, "the endpoint's value %zu is not a number", i + 1);
            goto out;
        }
        rul[i++] = (float)o->valuedouble;
    }
    rc = MDX_OK;
out:
    cJSON_Delete(root);
    return rc;
}

int mdx_rul_endpoint_predict(const char *url, struct mdx_rul_auth *auth, int64_t timeout_ms,
                             const float *features, size_t n, size_t nf, double cap, float *rul,
                             char *why, size_t whylen)
{
    struct mdx_http http;
    struct mdx_http_req rq = {.method = "POST", .url = url};
    struct mdx_http_resp rs;
    struct curl_slist *hdr = NULL;
    struct mdx_buf body;
    int rc;

    if (n == 0) {
        return MDX_OK;
    }
    memset(&rs, 0, sizeof(rs));
    mdx_buf_init(&body, n * nf * BYTES_PER_VALUE + 256);
    rc = request_body(&body, features, n, nf);
    if (rc != MDX_OK || body.err) {
        snprintf(why, whylen, rc == MDX_EINVAL ? "a feature is NaN or infinite: not sendable"
                                               : "out of memory");
        mdx_buf_fini(&body);
        return rc != MDX_OK ? rc : MDX_ENOMEM;
    }
    rc = mdx_http_init(&http, timeout_ms);
    if (rc != MDX_OK) {
        snprintf(why, whylen, "out of memory");
        mdx_buf_fini(&body);
        return rc;
    }
    rc = mdx_http_header(&hdr, "Content-Type", "application/json");
    if (rc == MDX_OK && auth != NULL) {
        rc = mdx_rul_auth_sign(auth, url, body.p, body.len, &hdr, why, whylen);
        if (rc != MDX_OK) {
            goto cleanup; /* 'why' says what */
        }
    }
    rq.headers = hdr;
    rq.body = body.p;
    rq.body_len = body.len;
    rq.max_resp = n * BYTES_PER_VALUE * 2 + RESP_OVERHEAD;
    if (rc == MDX_OK) {
        rc = mdx_http_do(&http, &rq, &rs);
    }
    if (rc != MDX_OK) {
        snprintf(why, whylen, "endpoint %s: %s", url,
                 rs.curl_err[0] ? rs.curl_err : mdx_strerror(rc));
    } else if (rs.status / 100 != 2) {
        snprintf(why, whylen, "endpoint %s answered HTTP %ld", url, rs.status);
        rc = mdx_http_status_err(rs.status);
    } else {
        rc = parse_answer(mdx_buf_str(&rs.body), rs.body.len, n, rul, why, whylen);
    }
    for (size_t i = 0; rc == MDX_OK && i < n; i++) { /* as mdx_rul_predict, whatever is served */
        rul[i] = rul[i] < 0.0f ? 0.0f : rul[i] > (float)cap ? (float)cap : rul[i];
    }
cleanup:
    mdx_http_resp_fini(&rs);
    mdx_http_headers_free(hdr);
    mdx_http_fini(&http);
    mdx_buf_fini(&body);
    return rc;
}
