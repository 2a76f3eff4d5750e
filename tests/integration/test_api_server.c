/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_api_server.c - the HTTP API server itself (issue 5), on a real
 * `modax serve --roles ingest,api` and a real Mosquitto (the fixture of
 * tests/support/api.h): /healthz and /readyz (503 once the broker is
 * gone), keys (missing, malformed, unknown, revoked: 401 JSON; X-API-Key),
 * tenancy (another tenant's device reads like a missing one), access
 * (platform key on tenant routes, tenant key on platform routes, viewer
 * on an operator route: 403), bodies over api.body_max_bytes (413, also
 * when chunked), malformed JSON (400), unknown route (404), wrong method
 * (405 with Allow), the rate limit (429 with Retry-After), path traversal
 * in the dashboard's paths (nothing outside api.web_dir is ever sent),
 * HTTPS with a certificate made by `openssl` here, and `modax key`.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "check.h"
#include "modax/apikey.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "support/api.h"

#define SECRET "TOP-SECRET-0451"

static struct api_fixture fx;
static int fx_state; /* 0 not started, 1 running, -1 failed */
static char web_tmp[600]; /* the dashboard folder's scratch dir */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/*
 * The shared fixture, with a dashboard folder holding index.html and
 * assets/app.js, a secret file next to it (outside), and a symbolic link
 * inside pointing at the secret.
 */
static struct api_fixture *fixture(void)
{
    static char web[700];

    if (fx_state == 0) {
        char secret[800], link[800], path[800];
        char *tmp = web_tmp;

        setenv("MODAX_API_KEY_CACHE_S", "1", 1);
        setenv("MODAX_API_RATE_LIMIT_RPS", "100000", 1);
        setenv("MODAX_API_RATE_LIMIT_BURST", "100000", 1);
        /* The folder must exist before the server starts; make it in a scratch dir of its own. */
        tmp_make(web_tmp, sizeof(web_tmp), "api-server-web");
        snprintf(web, sizeof(web), "%s/web", tmp);
        mkdir(web, 0755);
        snprintf(path, sizeof(path), "%s/assets", web);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/index.html", web);
        write_file(path, "<!doctype html><title>DASHBOARD-INDEX</title>\n");
        snprintf(path, sizeof(path), "%s/assets/app.js", web);
        write_file(path, "console.log('app');\n");
        snprintf(secret, sizeof(secret), "%s/secret.txt", tmp);
        write_file(secret, SECRET "\n");
        snprintf(link, sizeof(link), "%s/link.txt", web);
        CHECK(symlink(secret, link) == 0);
        setenv("MODAX_API_WEB_DIR", web, 1);
        fx_state = api_fixture_start(&fx, "api-server", NULL) == 0 ? 1 : -1;
        unsetenv("MODAX_API_WEB_DIR");
    }
    CHECK(fx_state == 1);
    return fx_state == 1 ? &fx : NULL;
}

/* One request to 'path' of fixture f; the response's JSON (or NULL) in *json. */
static long call(struct api_fixture *f, const char *method, const char *path, const char *key,
                 const char *body, struct http_resp *resp, cJSON **json)
{
    char url[2048];

    api_url(f, path, url, sizeof(url));
    if (http_call(method, url, key, body, resp) != 0) {
        fprintf(stderr, "  no response: %s %s\n", method, path);
        *json = NULL;
        return 0;
    }
    *json = cJSON_Parse(resp->body);
    return resp->status;
}

/* The error code of an error document, "" if it is not one. */
static const char *error_code(const cJSON *doc)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");

    return cJSON_IsString(c) && cJSON_IsString(m) ? c->valuestring : "";
}

/* Checks that 'method path' with 'key' answers 'status' with error code 'code'. */
static void expect_error(struct api_fixture *f, const char *method, const char *path,
                         const char *key, const char *body, long status, const char *code)
{
    struct http_resp r;
    cJSON *doc;
    long got = call(f, method, path, key, body, &r, &doc);

    if (got != status) {
        fprintf(stderr, "  %s %s: %ld, wanted %ld: %s\n", method, path, got, status,
                r.body ? r.body : "");
    }
    CHECK_EQ_INT(got, status);
    CHECK_STR(error_code(doc), code);
    CHECK(strncmp(r.content_type, "application/json", 16) == 0);
    cJSON_Delete(doc);
    http_resp_free(&r);
}

static void test_health_and_ready(void)
{
    struct api_fixture *f = fixture();
    struct http_resp r;
    cJSON *doc;

    if (f == NULL) {
        return;
    }
    CHECK_EQ_INT(call(f, "GET", "/healthz", NULL, NULL, &r, &doc), 200);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "ok");
    cJSON_Delete(doc);
    http_resp_free(&r);

    CHECK_EQ_INT(call(f, "GET", "/readyz", NULL, NULL, &r, &doc), 200);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "ready");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(doc, "broker")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(doc, "store")));
    cJSON_Delete(doc);
    http_resp_free(&r);

    /* The OpenAPI document is served from the binary. */
    CHECK_EQ_INT(call(f, "GET", "/api/v1/openapi.json", NULL, NULL, &r, &doc), 200);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(doc, "openapi")));
    cJSON_Delete(doc);
    http_resp_free(&r);
}

static void test_keys_refused(void)
{
    struct api_fixture *f = fixture();
    struct mdx_apikey rec;
    char unknown[MDX_APIKEY_TEXT_MAX], bad[80];

    if (f == NULL) {
        return;
    }
    expect_error(f, "GET", "/api/v1/me", NULL, NULL, 401, "unauthorized");
    expect_error(f, "GET", "/api/v1/me", "not-a-key", NULL, 401, "unauthorized");
    expect_error(f, "GET", "/api/v1/me", "mdx_zz_zz", NULL, 401, "unauthorized");
    /* Well-formed, never stored. */
    CHECK_EQ_INT(mdx_apikey_generate("acme", MDX_ROLE_ADMIN, "", 1, &rec, unknown), MDX_OK);
    expect_error(f, "GET", "/api/v1/me", unknown, NULL, 401, "unauthorized");
    /* A real key with its secret changed. */
    memcpy(bad, f->admin, strlen(f->admin) + 1);
    bad[30] = bad[30] == 'A' ? 'B' : 'A';
    expect_error(f, "GET", "/api/v1/me", bad, NULL, 401, "unauthorized");
    /* SQL in the key text. */
    expect_error(f, "GET", "/api/v1/me", "mdx_' OR '1'='1", NULL, 401, "unauthorized");
}

static void test_me_and_x_api_key(void)
{
    struct api_fixture *f = fixture();
    struct http_resp r = {0};
    struct curl_slist *h = NULL;
    char url[256], hdr[200];
    long status = 0;
    cJSON *doc;
    CURL *c;

    if (f == NULL) {
        return;
    }
    CHECK_EQ_INT(call(f, "GET", "/api/v1/me", f->operator_, NULL, &r, &doc), 200);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "tenant")), "acme");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "role")), "operator");
    CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "key_id")) != NULL &&
          strncmp(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "key_id")), f->operator_ + 4,
                  MDX_APIKEY_ID_LEN) == 0);
    cJSON_Delete(doc);
    http_resp_free(&r);

    /* The other header. */
    c = curl_easy_init();
    snprintf(hdr, sizeof(hdr), "X-API-Key: %s", f->viewer);
    h = curl_slist_append(h, hdr);
    curl_easy_setopt(c, CURLOPT_URL, api_url(f, "/api/v1/me", url, sizeof(url)));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    CHECK(curl_easy_perform(c) == CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    CHECK_EQ_INT(status, 200);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void test_revoked_key(void)
{
    struct api_fixture *f = fixture();
    char out[512], key[100], id[MDX_APIKEY_ID_LEN + 1];
    struct http_resp r;
    long status = 0;
    cJSON *doc;

    if (f == NULL) {
        return;
    }
    CHECK_EQ_INT(modax_run(out, sizeof(out), "key", "add", "--tenant", "acme", "--role",
                           "viewer", "--label", "to revoke", (char *)NULL), 0);
    sscanf(out, "%99s", key);
    CHECK_EQ_INT(call(f, "GET", "/api/v1/me", key, NULL, &r, &doc), 200);
    cJSON_Delete(doc);
    http_resp_free(&r);
    memcpy(id, key + 4, MDX_APIKEY_ID_LEN);
    id[MDX_APIKEY_ID_LEN] = '\0';
    CHECK_EQ_INT(modax_run(out, sizeof(out), "key", "revoke", id, (char *)NULL), 0);
    /* api.key_cache_s is 1 here: refused once the cached record expires. */
    for (int i = 0; i < 100; i++) {
        status = call(f, "GET", "/api/v1/me", key, NULL, &r, &doc);
        if (status == 401) {
            CHECK_STR(error_code(doc), "unauthorized");
            CHECK(strstr(r.body, "revoked") != NULL);
        }
        cJSON_Delete(doc);
        http_resp_free(&r);
        if (status != 200) {
            break;
        }
        mdx_sleep_ms(100);
    }
    CHECK_EQ_INT(status, 401);
}

static void test_tenancy_and_access(void)
{
    struct api_fixture *f = fixture();
    struct http_resp r;
    cJSON *doc;

    if (f == NULL) {
        return;
    }
    /* acme's device: its admin sees it; globex's admin gets what a missing device gets. */
    CHECK_EQ_INT(call(f, "GET", "/api/v1/devices/press-1", f->admin, NULL, &r, &doc), 200);
    cJSON_Delete(doc);
    http_resp_free(&r);
    expect_error(f, "GET", "/api/v1/devices/press-1", f->globex_admin, NULL, 404, "not_found");
    expect_error(f, "GET", "/api/v1/devices/no-such-device", f->globex_admin, NULL, 404,
                 "not_found");
    /* Platform key on tenant routes, tenant keys on platform routes. */
    expect_error(f, "GET", "/api/v1/me", f->platform, NULL, 403, "forbidden");
    expect_error(f, "GET", "/api/v1/devices", f->platform, NULL, 403, "forbidden");
    expect_error(f, "GET", "/api/v1/tenants", f->admin, NULL, 403, "forbidden");
    expect_error(f, "POST", "/api/v1/tenants", f->admin, "{\"name\":\"evil\"}", 403,
                 "forbidden");
    CHECK_EQ_INT(call(f, "GET", "/api/v1/tenants", f->platform, NULL, &r, &doc), 200);
    cJSON_Delete(doc);
    http_resp_free(&r);
    /* Viewer on operator and admin routes. */
    expect_error(f, "POST", "/api/v1/alerts/1/ack", f->viewer, NULL, 403, "forbidden");
    expect_error(f, "POST", "/api/v1/devices/press-1/commands", f->viewer,
                 "{\"name\":\"speed_pct\",\"value\":10}", 403, "forbidden");
    expect_error(f, "POST", "/api/v1/devices", f->operator_, "{\"id\":\"x\"}", 403, "forbidden");
}

static void test_bad_requests(void)
{
    struct api_fixture *f = fixture();
    size_t big = 70000;
    char *body = malloc(big + 1);
    struct http_resp r;
    cJSON *doc;

    if (f == NULL || body == NULL) {
        free(body);
        return;
    }
    /* {"id":"aaaa..."} larger than api.body_max_bytes (65536). */
    memset(body, 'a', big);
    memcpy(body, "{\"id\":\"", 7);
    memcpy(body + big - 2, "\"}", 2);
    body[big] = '\0';
    expect_error(f, "POST", "/api/v1/devices", f->admin, body, 413, "payload_too_large");
    free(body);
    expect_error(f, "POST", "/api/v1/devices", f->admin, "{\"id\":", 400, "bad_request");
    expect_error(f, "POST", "/api/v1/devices", f->admin, "{\"id\":\"x\"} trailing", 400,
                 "bad_request");
    expect_error(f, "GET", "/api/v1/no-such-route", f->admin, NULL, 404, "not_found");
    expect_error(f, "GET", "/api/v2/devices", NULL, NULL, 404, "not_found");
    expect_error(f, "GET", "/api/v1/devices/", f->admin, NULL, 404, "not_found");
    CHECK_EQ_INT(call(f, "PUT", "/api/v1/devices", f->admin, "{}", &r, &doc), 405);
    CHECK_STR(error_code(doc), "method_not_allowed");
    CHECK(strstr(r.body, "GET") != NULL && strstr(r.body, "POST") != NULL);
    cJSON_Delete(doc);
    http_resp_free(&r);
    expect_error(f, "DELETE", "/healthz", NULL, NULL, 405, "method_not_allowed");
    /* The server is still there. */
    CHECK_EQ_INT(call(f, "GET", "/healthz", NULL, NULL, &r, &doc), 200);
    cJSON_Delete(doc);
    http_resp_free(&r);
}

struct chunked {
    size_t left;
};

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

static size_t read_chunk(char *buf, size_t size, size_t n, void *arg)
{
    struct chunked *c = arg;
    size_t take = size * n < c->left ? size * n : c->left;

    memset(buf, ' ', take);
    c->left -= take;
    return take;
}

/* A chunked body (no Content-Length) over the limit: 413 all the same. */
static void test_chunked_body_too_large(void)
{
    struct api_fixture *f = fixture();
    struct curl_slist *h = NULL;
    struct chunked body = {200000};
    char url[256], auth[200];
    long status = 0;
    CURL *c;

    if (f == NULL) {
        return;
    }
    c = curl_easy_init();
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f->admin);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Transfer-Encoding: chunked");
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, api_url(f, "/api/v1/devices", url, sizeof(url)));
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_chunk);
    curl_easy_setopt(c, CURLOPT_READDATA, &body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CHECK(curl_easy_perform(c) == CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    CHECK_EQ_INT(status, 413);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

/* 1 if the response could hold the secret file or the system's password file. */
static int leaks(const struct http_resp *r)
{
    return r->body != NULL && (strstr(r->body, SECRET) != NULL || strstr(r->body, "root:") != NULL);
}

static void test_static_files(void)
{
    static const char *const attacks[] = {
        "/../secret.txt",
        "/../../../../etc/passwd",
        "/%2e%2e/secret.txt",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2fsecret.txt",
        "/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e%5csecret.txt",
        "/..\\secret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/link.txt",
        "/index.html%00.js",
        "/%00../secret.txt",
        "//etc/passwd",
        "/.%2e/secret.txt",
        "/%252e%252e/secret.txt",
        NULL,
    };
    struct api_fixture *f = fixture();
    struct http_resp r;
    cJSON *doc;

    if (f == NULL) {
        return;
    }
    CHECK_EQ_INT(call(f, "GET", "/", NULL, NULL, &r, &doc), 200);
    CHECK(strstr(r.body, "DASHBOARD-INDEX") != NULL);
    CHECK(strncmp(r.content_type, "text/html", 9) == 0);
    cJSON_Delete(doc);
    http_resp_free(&r);
    CHECK_EQ_INT(call(f, "GET", "/assets/app.js", NULL, NULL, &r, &doc), 200);
    CHECK(strncmp(r.content_type, "text/javascript", 15) == 0);
    CHECK(strstr(r.body, "console.log") != NULL);
    cJSON_Delete(doc);
    http_resp_free(&r);
    /* An app route without a file: the app. */
    CHECK_EQ_INT(call(f, "GET", "/devices/press-1", NULL, NULL, &r, &doc), 200);
    CHECK(strstr(r.body, "DASHBOARD-INDEX") != NULL);
    cJSON_Delete(doc);
    http_resp_free(&r);
    CHECK_EQ_INT(call(f, "GET", "/missing.js", NULL, NULL, &r, &doc), 404);
    cJSON_Delete(doc);
    http_resp_free(&r);
    for (const char *const *a = attacks; *a != NULL; a++) {
        long st = call(f, "GET", *a, NULL, NULL, &r, &doc);
        if (leaks(&r) || (st != 404 && st != 400)) {
            fprintf(stderr, "  %s: %ld %s\n", *a, st, r.body ? r.body : "");
        }
        CHECK(!leaks(&r));
        CHECK(st == 404 || st == 400);
        cJSON_Delete(doc);
        http_resp_free(&r);
    }
}

/* Starts a second server with 'env' (NAME=VALUE pairs, NULL-terminated) set around the start. */
static int start_with(struct api_fixture *g, const char *name, const char *const *env)
{
    int rc;

    for (const char *const *e = env; *e != NULL; e += 2) {
        setenv(e[0], e[1], 1);
    }
    rc = api_fixture_start(g, name, NULL);
    for (const char *const *e = env; *e != NULL; e += 2) {
        unsetenv(e[0]);
    }
    return rc;
}

static void test_rate_limit_and_no_dashboard(void)
{
    static const char *const env[] = {"MODAX_API_RATE_LIMIT_RPS", "1",
                                      "MODAX_API_RATE_LIMIT_BURST", "2",
                                      "MODAX_API_WEB_DIR", "/nonexistent/modax-web", NULL};
    struct api_fixture g;
    struct http_resp r;
    int limited = 0, ok = 0;
    cJSON *doc;

    CHECK_EQ_INT(start_with(&g, "api-rate", env), 0);
    if (g.serve.pid <= 0) {
        api_fixture_stop(&g);
        return;
    }
    for (int i = 0; i < 10 && !limited; i++) {
        long st = call(&g, "GET", "/api/v1/me", g.viewer, NULL, &r, &doc);
        if (st == 429) {
            limited = 1;
            CHECK_STR(error_code(doc), "rate_limited");
            CHECK(strtol(r.retry_after, NULL, 10) >= 1);
        } else if (st == 200) {
            ok++;
        }
        cJSON_Delete(doc);
        http_resp_free(&r);
    }
    CHECK(limited);
    CHECK(ok >= 2); /* the burst went through */
    /* Another key has its own bucket. */
    CHECK_EQ_INT(call(&g, "GET", "/api/v1/me", g.admin, NULL, &r, &doc), 200);
    cJSON_Delete(doc);
    http_resp_free(&r);
    /* No dashboard built: a JSON 404 saying so. */
    CHECK_EQ_INT(call(&g, "GET", "/", NULL, NULL, &r, &doc), 404);
    CHECK_STR(error_code(doc), "not_found");
    CHECK(strstr(r.body, "not built") != NULL);
    cJSON_Delete(doc);
    http_resp_free(&r);
    CHECK_EQ_INT(api_fixture_stop(&g), 0); /* a clean exit: no sanitizer report */
}

static int run_cmd(char *const argv[])
{
    int status = -1;
    pid_t pid = fork();

    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid > 0) {
        waitpid(pid, &status, 0);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_tls(void)
{
    char dir[600], cert[700], key[700], subj[] = "/CN=127.0.0.1";
    struct api_fixture g;
    struct http_resp r;
    cJSON *doc;
    char url[256];

    tmp_make(dir, sizeof(dir), "api-tls-cert");
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    char *argv[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", subj, "-addext",
                    "subjectAltName=IP:127.0.0.1", "-batch", NULL};
    CHECK_EQ_INT(run_cmd(argv), 0);

    const char *const env[] = {"MODAX_API_TLS_CERT_FILE", cert, "MODAX_API_TLS_KEY_FILE", key,
                               NULL};
    setenv("MODAX_TEST_CAINFO", cert, 1);
    CHECK_EQ_INT(start_with(&g, "api-tls", env), 0);
    CHECK(strncmp(g.base, "https://", 8) == 0);
    if (g.serve.pid > 0) {
        CHECK_EQ_INT(call(&g, "GET", "/healthz", NULL, NULL, &r, &doc), 200);
        cJSON_Delete(doc);
        http_resp_free(&r);
        CHECK_EQ_INT(call(&g, "GET", "/api/v1/me", g.viewer, NULL, &r, &doc), 200);
        cJSON_Delete(doc);
        http_resp_free(&r);
        /* Plain HTTP on the TLS port gets no API answer. */
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", g.http_port);
        http_call("GET", url, NULL, NULL, &r);
        CHECK(r.status != 200);
        http_resp_free(&r);
    }
    CHECK_EQ_INT(api_fixture_stop(&g), 0);
    unsetenv("MODAX_TEST_CAINFO");

    /* A certificate file that cannot be read: the server refuses to start, saying which. */
    const char *const bad[] = {"MODAX_API_TLS_CERT_FILE", "/nonexistent/cert.pem",
                               "MODAX_API_TLS_KEY_FILE", key, NULL};
    CHECK(start_with(&g, "api-tls-bad", bad) != 0);
    {
        char log[700], text[8192] = "";
        FILE *lf;
        snprintf(log, sizeof(log), "%s/serve.log", g.dir);
        lf = fopen(log, "r");
        if (lf != NULL) {
            text[fread(text, 1, sizeof(text) - 1, lf)] = '\0';
            fclose(lf);
        }
        CHECK(strstr(text, "api.tls_cert_file") != NULL);
    }
    api_fixture_stop(&g);
    tmp_remove(dir);
}

static void test_key_cli(void)
{
    struct api_fixture *f = fixture();
    char out[4096], err[1024], key[100], id[MDX_APIKEY_ID_LEN + 1];

    if (f == NULL) {
        return;
    }
    /* Only the key on the first line of stdout. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "key", "add", "--tenant", "globex", "--role",
                           "operator", "--label", "line 2", (char *)NULL), 0);
    CHECK(strncmp(out, "mdx_", 4) == 0);
    CHECK(strchr(out, '\n') == out + strlen(out) - 1);
    sscanf(out, "%99s", key);
    CHECK_EQ_INT(strlen(key), 64);
    memcpy(id, key + 4, MDX_APIKEY_ID_LEN);
    id[MDX_APIKEY_ID_LEN] = '\0';
    /* The list shows the id and label, never the secret. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "key", "list", "--tenant", "globex", (char *)NULL), 0);
    CHECK(strstr(out, id) != NULL);
    CHECK(strstr(out, "line 2") != NULL);
    CHECK(strstr(out, key + 21) == NULL);
    CHECK(strstr(out, f->admin + 4) == NULL); /* acme's keys are not globex's */
    /* Bad input. */
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "key", "add", "--tenant", "acme", "--role",
                              "root", (char *)NULL), 2);
    CHECK(strstr(err, "viewer") != NULL);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "key", "add", "--tenant", "nobody", "--role",
                              "viewer", (char *)NULL), 3);
    CHECK(strstr(err, "nobody") != NULL);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "key", "add", "--platform", "--tenant", "acme",
                              (char *)NULL), 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "key", "add", (char *)NULL), 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "key", "revoke", "0000000000000000", (char *)NULL),
                 3);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "key", "revoke", "x' OR 1=1 --", (char *)NULL), 3);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "key", "revoke", id, (char *)NULL), 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "key", "revoke", id, (char *)NULL), 4);
    CHECK(strstr(err, "revoked already") != NULL);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "key", "frobnicate", (char *)NULL), 2);
}

/* Last: the broker goes away, /readyz says so with 503, and /healthz still answers. */
static void test_ready_without_broker(void)
{
    struct api_fixture *f = fixture();
    struct http_resp r;
    long status = 0;
    cJSON *doc = NULL;

    if (f == NULL) {
        return;
    }
    broker_stop(&f->broker, 15);
    for (int i = 0; i < 300 && status != 503; i++) {
        cJSON_Delete(doc);
        status = call(f, "GET", "/readyz", NULL, NULL, &r, &doc);
        http_resp_free(&r);
        if (status != 503) {
            mdx_sleep_ms(100);
        }
    }
    CHECK_EQ_INT(status, 503);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "status")), "not_ready");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(doc, "broker")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(doc, "store")));
    cJSON_Delete(doc);
    CHECK_EQ_INT(call(f, "GET", "/healthz", NULL, NULL, &r, &doc), 200);
    cJSON_Delete(doc);
    http_resp_free(&r);
}

static void test_stop(void)
{
    if (fx_state == 1) {
        CHECK_EQ_INT(serve_stop(&fx.serve, 15), 0);
        api_fixture_stop(&fx);
        fx_state = 0;
    }
    if (web_tmp[0] != '\0') {
        tmp_remove(web_tmp);
    }
}

static const struct mdx_test tests[] = {
    {"health_and_ready", test_health_and_ready},
    {"keys_refused", test_keys_refused},
    {"me_and_x_api_key", test_me_and_x_api_key},
    {"revoked_key", test_revoked_key},
    {"tenancy_and_access", test_tenancy_and_access},
    {"bad_requests", test_bad_requests},
    {"chunked_body_too_large", test_chunked_body_too_large},
    {"static_files", test_static_files},
    {"key_cli", test_key_cli},
    {"rate_limit_and_no_dashboard", test_rate_limit_and_no_dashboard},
    {"tls", test_tls},
    {"ready_without_broker", test_ready_without_broker},
    {"stop", test_stop},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
