/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.c - helpers for tests of the HTTP API (api.h): a libcurl client and
 * a fixture with a real Mosquitto and `modax serve` on free loopback
 * ports, two tenants, their devices and a key of every role.
 *
 * https:// URLs are checked against $MODAX_TEST_CAINFO when it is set
 * (a test's own self-signed certificate).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "support/api.h"

/*
 * A call fails when the server sends nothing for HTTP_STALL_S, or after
 * HTTP_TIMEOUT_S in all: a large export under ThreadSanitizer on a busy
 * machine streams for minutes, yet a server that stopped answering is caught.
 */
#define HTTP_STALL_S 60
#define HTTP_TIMEOUT_S 600
#define BODY_MAX ((size_t)256 << 20) /* a response larger than this is cut (and the call fails) */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct http_resp *r = arg;
    size_t len = size * n;
    char *grown;

    if (r->len + len > BODY_MAX) {
        return 0;
    }
    grown = realloc(r->body, r->len + len + 1);
    if (grown == NULL) {
        return 0;
    }
    r->body = grown;
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct http_resp *r = arg;
    size_t len = size * n;

    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        size_t start = 12, end = len;
        while (start < end && data[start] == ' ') {
            start++;
        }
        while (end > start && (data[end - 1] == '\r' || data[end - 1] == '\n' ||
                               data[end - 1] == ' ')) {
            end--;
        }
        if (end - start < sizeof(r->retry_after)) {
            memcpy(r->retry_after, data + start, end - start);
            r->retry_after[end - start] = '\0';
        }
    }
    return len;
}

int http_call(const char *method, const char *url, const char *key, const char *body,
              struct http_resp *out)
{
    struct curl_slist *headers = NULL;
    const char *cainfo = getenv("MODAX_TEST_CAINFO");
    char auth[200];
    char *ctype = NULL;
    CURLcode rc;
    CURL *c;

    memset(out, 0, sizeof(*out));
    pthread_once(&curl_once, curl_setup);
    out->body = calloc(1, 1);
    c = curl_easy_init();
    if (c == NULL || out->body == NULL) {
        if (c != NULL) {
            curl_easy_cleanup(c);
        }
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)HTTP_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)HTTP_STALL_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)HTTP_STALL_S);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "/../x" as written */
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
        headers = curl_slist_append(headers, auth);
    }
    if (body != NULL) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    if (cainfo != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
    }
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != NULL) {
            snprintf(out->content_type, sizeof(out->content_type), "%s", ctype);
        }
    } else {
        fprintf(stderr, "  http %s %s: %s\n", method, url, curl_easy_strerror(rc));
        out->status = 0;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

void http_resp_free(struct http_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

double metrics_sample(const char *page, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = page; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return -1;
}

double metrics_get(const char *url, const char *series)
{
    struct http_resp r = {0};
    double v = -1;

    if (http_call("GET", url, NULL, NULL, &r) == 0 && r.status == 200 && r.body != NULL) {
        v = metrics_sample(r.body, series);
    }
    http_resp_free(&r);
    return v;
}

const char *api_url(const struct api_fixture *f, const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", f->base, path);
    return buf;
}

/* `modax key add ARGS`: the key (first line of stdout) into out. 0 on success. */
static int key_add(char out[80], const char *a1, const char *a2, const char *a3, const char *a4)
{
    char text[512];
    char *nl;

    if (modax_run(text, sizeof(text), "key", "add", a1, a2, a3, a4, (char *)NULL) != 0) {
        fprintf(stderr, "modax key add %s %s %s %s failed\n", a1, a2 ? a2 : "", a3 ? a3 : "",
                a4 ? a4 : "");
        return -1;
    }
    nl = strchr(text, '\n');
    if (nl != NULL) {
        *nl = '\0';
    }
    if (strncmp(text, "mdx_", 4) != 0 || strlen(text) >= 80) {
        fprintf(stderr, "modax key add printed '%s', not a key\n", text);
        return -1;
    }
    memcpy(out, text, strlen(text) + 1);
    return 0;
}

int api_fixture_start(struct api_fixture *f, const char *name, const char *roles)
{
    static const char *const setup[][4] = {
        {"tenant", "add", "acme", NULL},        {"tenant", "add", "globex", NULL},
        {"device", "add", "acme", "press-1"},   {"device", "add", "acme", "press-2"},
        {"device", "add", "globex", "mill-1"},
    };
    char port[16], out[512];

    memset(f, 0, sizeof(*f));
    tmp_make(f->dir, sizeof(f->dir), name);
    if (broker_start(&f->broker, f->dir, 0) != 0) {
        return -1;
    }
    modax_env(f->dir, f->broker.port);
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
        if (modax_run(out, sizeof(out), setup[i][0], setup[i][1], setup[i][2], setup[i][3],
                      (char *)NULL) != 0) {
            fprintf(stderr, "modax %s %s %s failed: %s\n", setup[i][0], setup[i][1], setup[i][2],
                    out);
            return -1;
        }
    }
    if (key_add(f->admin, "--tenant", "acme", "--role", "admin") != 0 ||
        key_add(f->operator_, "--tenant", "acme", "--role", "operator") != 0 ||
        key_add(f->viewer, "--tenant", "acme", "--role", "viewer") != 0 ||
        key_add(f->globex_admin, "--tenant", "globex", "--role", "admin") != 0 ||
        key_add(f->platform, "--platform", NULL, NULL, NULL) != 0) {
        return -1;
    }
    /* A fixed port for this fixture, so a test that restarts the server finds it again. */
    f->http_port = free_port();
    snprintf(port, sizeof(port), "%d", f->http_port);
    setenv("MODAX_TEST_API_PORT", port, 1);
    if (serve_start_roles(&f->serve, f->dir, f->broker.port,
                          roles != NULL ? roles : "ingest,api") != 0) {
        return -1;
    }
    snprintf(f->base, sizeof(f->base), "%s://127.0.0.1:%d",
             getenv("MODAX_API_TLS_CERT_FILE") != NULL ? "https" : "http", f->http_port);
    return 0;
}

int api_fixture_stop(struct api_fixture *f)
{
    int status = 0;

    if (f->serve.pid > 0) {
        status = serve_stop(&f->serve, 15);
    }
    broker_stop(&f->broker, 15);
    unsetenv("MODAX_TEST_API_PORT");
    if (f->dir[0] != '\0') {
        tmp_remove(f->dir);
    }
    return status;
}

long api_call_json(const struct api_fixture *f, const char *method, const char *path,
                   const char *key, const char *body, cJSON **out)
{
    struct http_resp resp;
    char url[512];
    long status;

    *out = NULL;
    if (http_call(method, api_url(f, path, url, sizeof(url)), key, body, &resp) != 0) {
        return 0;
    }
    status = resp.status;
    *out = cJSON_Parse(resp.body);
    http_resp_free(&resp);
    return status;
}
