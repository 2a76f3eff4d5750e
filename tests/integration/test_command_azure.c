/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_command_azure.c - commands of a tenant on the azure path, through a
 * real `modax serve` (ingest + api) and Mosquitto, to a local HTTP
 * stand-in for IoT Hub's direct-method endpoint (there is no IoT Hub
 * here: this was not run against a real hub). The stand-in checks each
 * request as the hub would: the URL and api-version, the body's
 * methodName/timeout/payload, and the SAS token in Authorization, whose
 * signature it recomputes with OpenSSL's HMAC from the raw key (none of our
 * code). It answers as told: the device's answer (200 {status,payload}),
 * device offline (404 with IoT Hub's errorCode 404103), timeout (504),
 * a malformed answer (cut short, or a status no HTTP status is), or 401 (signature made with another key).
 *
 * Each answer must become the command's state: acked, rejected with the
 * device's reason, or failed with the reason (503 to the caller). The
 * connection string comes from the environment and must not show in the
 * server's log. A second part checks the start-up errors: a tenant mapped
 * to azure without the connection string, and an unknown path name.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/api.h"

#define HUB "myhub.azure-devices.net"
#define RAW_KEY "testkey-modax-iothub-sas-kat-001"
#define KEY_B64 "dGVzdGtleS1tb2RheC1pb3RodWItc2FzLWthdC0wMDE="
#define CONN "HostName=" HUB ";SharedAccessKeyName=service;SharedAccessKey=" KEY_B64

enum hub_mode { ANSWER_OK, ANSWER_REJECTED, DEVICE_OFFLINE, METHOD_TIMEOUT, MALFORMED, HUGE_STATUS,
                 WRONG_KEY };

/* ---- the IoT Hub stand-in ---- */

static struct {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    enum hub_mode mode;
    int requests;
    int sas_ok;                   /* the last request's token checked out */
    char url[256];                /* the last request's path and api-version */
    char body[4096];              /* the last request's body */
} hub = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct upload {
    char data[4096];
    size_t len;
};

/* Percent-decodes 's' into out. */
static void url_decode(const char *s, char *out, size_t len)
{
    size_t n = 0;

    for (; *s != '\0' && n + 1 < len; s++) {
        unsigned v;
        if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) {
            out[n++] = (char)v;
            s += 2;
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

/* The value of field 'name' of a SAS token ("sr=..&sig=..&se=..&skn=..") into out; 1 if found. */
static int sas_field(const char *tok, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);

    for (const char *at = tok; at != NULL && *at != '\0';) {
        const char *end = strchr(at, '&');
        size_t fl = end != NULL ? (size_t)(end - at) : strlen(at);
        if (fl > nl && strncmp(at, name, nl) == 0 && at[nl] == '=' && fl - nl - 1 < len) {
            memcpy(out, at + nl + 1, fl - nl - 1);
            out[fl - nl - 1] = '\0';
            return 1;
        }
        at = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

/* Checks an Authorization header as IoT Hub does, with 'key' (raw bytes). */
static int sas_valid(const char *auth, const char *key)
{
    static const char prefix[] = "SharedAccessSignature ";
    char sr[256], sig[256], se[32], skn[64], sig_b64[128], to_sign[320];
    unsigned char mac[32], expect[64];
    unsigned maclen = 0;

    if (auth == NULL || strncmp(auth, prefix, sizeof(prefix) - 1) != 0) {
        return 0;
    }
    auth += sizeof(prefix) - 1;
    if (!sas_field(auth, "sr", sr, sizeof(sr)) || !sas_field(auth, "sig", sig, sizeof(sig)) ||
        !sas_field(auth, "se", se, sizeof(se)) || !sas_field(auth, "skn", skn, sizeof(skn))) {
        return 0;
    }
    if (strcmp(sr, HUB) != 0 || strcmp(skn, "service") != 0 ||
        strtoll(se, NULL, 10) <= (long long)time(NULL)) {
        return 0;
    }
    snprintf(to_sign, sizeof(to_sign), "%s\n%s", sr, se);
    if (HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)to_sign,
             strlen(to_sign), mac, &maclen) == NULL) {
        return 0;
    }
    EVP_EncodeBlock(expect, mac, (int)maclen);
    url_decode(sig, sig_b64, sizeof(sig_b64));
    return strcmp((const char *)expect, sig_b64) == 0;
}

static enum MHD_Result hub_answer(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_len, void **state)
{
    struct upload *up = *state;
    struct MHD_Response *resp;
    const char *text;
    unsigned status;
    enum MHD_Result rc;
    enum hub_mode mode;
    const char *api_version;
    int sas_ok;

    (void)cls;
    (void)version;
    if (up == NULL) {
        up = calloc(1, sizeof(*up));
        *state = up;
        return up != NULL ? MHD_YES : MHD_NO;
    }
    if (*data_len > 0) {
        size_t n = *data_len < sizeof(up->data) - 1 - up->len ? *data_len
                                                               : sizeof(up->data) - 1 - up->len;
        memcpy(up->data + up->len, data, n);
        up->len += n;
        *data_len = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&hub.lock);
    mode = hub.mode;
    hub.requests++;
    api_version = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "api-version");
    snprintf(hub.url, sizeof(hub.url), "%s %s?api-version=%s", method, url,
             api_version != NULL ? api_version : "");
    snprintf(hub.body, sizeof(hub.body), "%s", up->data);
    sas_ok = sas_valid(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                       mode == WRONG_KEY ? "another-key" : RAW_KEY);
    hub.sas_ok = sas_ok;
    pthread_mutex_unlock(&hub.lock);
    if (!sas_ok) {
        status = 401;
        text = "{\"Message\":\"{\\\"errorCode\\\":401002,\\\"message\\\":\\\"Unauthorized\\\"}\"}";
    } else {
        switch (mode) {
        case ANSWER_OK:
            status = 200;
            text = "{\"status\":200,\"payload\":{\"applied\":true}}";
            break;
        case ANSWER_REJECTED:
            status = 200;
            text = "{\"status\":409,\"payload\":{\"detail\":\"guard door open\"}}";
            break;
        case DEVICE_OFFLINE:
            status = 404;
            text = "{\"Message\":\"{\\\"errorCode\\\":404103,\\\"trackingId\\\":\\\"t1\\\","
                   "\\\"message\\\":\\\"Timed out waiting for device to connect.\\\"}\","
                   "\"ExceptionMessage\":\"\"}";
            break;
        case METHOD_TIMEOUT:
            status = 504;
            text = "{\"Message\":\"{\\\"errorCode\\\":504101,\\\"message\\\":\\\"Timed out "
                   "waiting for the response from device.\\\"}\",\"ExceptionMessage\":\"\"}";
            break;
        case HUGE_STATUS:
            status = 200;
            text = "{\"status\":1e300,\"payload\":{}}";
            break;
        default:
            status = 200;
            text = "{\"status\":\"fine\",\"payload\":";
            break;
        }
    }
    resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void hub_done(void *cls, struct MHD_Connection *c, void **state,
                     enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    free(*state);
    *state = NULL;
}

static int hub_start(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    const union MHD_DaemonInfo *info;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    hub.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, hub_answer, NULL,
                             MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, hub_done,
                             NULL, MHD_OPTION_END);
    if (hub.d == NULL) {
        return -1;
    }
    info = MHD_get_daemon_info(hub.d, MHD_DAEMON_INFO_BIND_PORT);
    hub.port = info != NULL ? info->port : 0;
    return hub.port > 0 ? 0 : -1;
}

static void hub_set(enum hub_mode mode)
{
    pthread_mutex_lock(&hub.lock);
    hub.mode = mode;
    hub.sas_ok = 0;
    hub.url[0] = hub.body[0] = '\0';
    pthread_mutex_unlock(&hub.lock);
}

/* ---- the API ---- */

static struct api_fixture fx;
static int fx_up;

/* The fixture's API: status and parsed answer (api_call_json). */
static long call(const char *method, const char *path, const char *key, const char *body,
                 cJSON **out)
{
    return api_call_json(&fx, method, path, key, body, out);
}

static const char *str_of(const cJSON *o, const char *name)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));

    return s != NULL ? s : "";
}

static void contains(const char *text, const char *want)
{
    if (strstr(text, want) == NULL) {
        fprintf(stderr, "  '%s' does not contain '%s'\n", text, want);
        CHECK(0);
    }
}

/* The stored command 'id' (GET); caller frees. */
static cJSON *command_get(int64_t id)
{
    char path[96];
    cJSON *body;

    snprintf(path, sizeof(path), "/api/v1/commands/%" PRId64, id);
    CHECK_EQ_INT(call("GET", path, fx.viewer, NULL, &body), 200);
    return body;
}

/* The newest command of press-1 (GET); caller frees. */
static cJSON *newest_command(void)
{
    cJSON *body, *c;

    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-1/commands?limit=1", fx.viewer, NULL, &body),
                 200);
    c = cJSON_DetachItemFromArray(cJSON_GetObjectItemCaseSensitive(body, "commands"), 0);
    cJSON_Delete(body);
    return c;
}

static void start(void)
{
    struct mdx_store *st;
    char endpoint[64];

    CHECK_EQ_INT(hub_start(), 0);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/", hub.port);
    setenv("MODAX_COMMAND_TENANT_PATHS", "acme=azure", 1);
    setenv("MODAX_COMMAND_AZURE_CONNECTION_STRING", CONN, 1);
    setenv("MODAX_COMMAND_AZURE_ENDPOINT", endpoint, 1);
    setenv("MODAX_COMMAND_AZURE_RESPONSE_TIMEOUT_S", "5", 1);
    fx_up = api_fixture_start(&fx, "command-azure", NULL) == 0;
    CHECK(fx_up);
    if (!fx_up) {
        return;
    }
    st = test_store_open(fx.dir);
    CHECK(st != NULL);
    if (st != NULL) {
        CHECK_EQ_INT(mdx_store_device_config_set(st, "acme", "press-1", NULL,
                                                 "{\"speed_pct\":{\"min\":0,\"max\":100}}"),
                     MDX_OK);
        mdx_store_close(st);
    }
}

/* The device answers 200: the command is acked by the time the POST returns. */
static void answer_acks_the_command(void)
{
    cJSON *resp, *req, *got;
    const cJSON *payload;
    int64_t id;

    if (!fx_up) {
        return;
    }
    hub_set(ANSWER_OK);
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_,
                      "{\"name\":\"speed_pct\",\"value\":42.5}", &resp),
                 200);
    CHECK_STR(str_of(resp, "state"), "acked");
    id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(resp, "id"));
    CHECK(id > 0);
    cJSON_Delete(resp);
    pthread_mutex_lock(&hub.lock);
    CHECK(hub.sas_ok);
    CHECK_STR(hub.url, "POST /twins/press-1/methods?api-version=2021-04-12");
    req = cJSON_Parse(hub.body);
    pthread_mutex_unlock(&hub.lock);
    CHECK_STR(str_of(req, "methodName"), "modax_command");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(req, "responseTimeoutInSeconds")) ==
          5.0);
    payload = cJSON_GetObjectItemCaseSensitive(req, "payload");
    CHECK_STR(str_of(payload, "name"), "speed_pct");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(payload, "value")) == 42.5);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(payload, "command_id")) ==
          (double)id);
    cJSON_Delete(req);
    got = command_get(id);
    CHECK_STR(str_of(got, "state"), "acked");
    cJSON_Delete(got);
}

/* The device answers with a non-2xx status: rejected, with its reason. */
static void device_refusal_rejects_it(void)
{
    cJSON *resp, *got;

    if (!fx_up) {
        return;
    }
    hub_set(ANSWER_REJECTED);
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_,
                      "{\"name\":\"speed_pct\",\"value\":10}", &resp),
                 200);
    CHECK_STR(str_of(resp, "state"), "rejected");
    CHECK_STR(str_of(resp, "detail"), "guard door open");
    cJSON_Delete(resp);
    got = newest_command();
    CHECK_STR(str_of(got, "state"), "rejected");
    CHECK_STR(str_of(got, "detail"), "guard door open");
    cJSON_Delete(got);
}

/* 404, 504, a malformed answer, a refused token: failed with the reason; 503 to the caller. */
static void failures_fail_the_command_with_the_reason(void)
{
    static const struct {
        enum hub_mode mode;
        const char *reason;
    } cases[] = {
        {DEVICE_OFFLINE, "device offline: not connected to IoT Hub (404, 404103)"},
        {METHOD_TIMEOUT, "device did not answer the direct method within 5s"},
        {MALFORMED, "direct-method answer is malformed"},
        {HUGE_STATUS, "direct-method answer is malformed"},
        {WRONG_KEY, "IoT Hub refused the service credentials (401)"},
    };

    if (!fx_up) {
        return;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *resp, *got;
        hub_set(cases[i].mode);
        CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_,
                          "{\"name\":\"speed_pct\",\"value\":7}", &resp),
                     503);
        CHECK_STR(str_of(cJSON_GetObjectItemCaseSensitive(resp, "error"), "code"), "unavailable");
        contains(str_of(cJSON_GetObjectItemCaseSensitive(resp, "error"), "message"),
                 cases[i].reason);
        cJSON_Delete(resp);
        got = newest_command();
        CHECK_STR(str_of(got, "state"), "failed");
        contains(str_of(got, "detail"), cases[i].reason);
        cJSON_Delete(got);
    }
}

/* Other tenants keep the default path: globex's command never reaches the hub. */
static void other_tenants_stay_on_mqtt(void)
{
    struct mdx_store *st;
    cJSON *resp;
    int before;

    if (!fx_up) {
        return;
    }
    st = test_store_open(fx.dir);
    CHECK(st != NULL);
    if (st != NULL) {
        CHECK_EQ_INT(mdx_store_device_config_set(st, "globex", "mill-1", NULL,
                                                 "{\"speed_pct\":{\"min\":0,\"max\":100}}"),
                     MDX_OK);
        mdx_store_close(st);
    }
    pthread_mutex_lock(&hub.lock);
    before = hub.requests;
    pthread_mutex_unlock(&hub.lock);
    CHECK_EQ_INT(call("POST", "/api/v1/devices/mill-1/commands", fx.globex_admin,
                      "{\"name\":\"speed_pct\",\"value\":3}", &resp),
                 202);
    CHECK_STR(str_of(resp, "state"), "sent");
    cJSON_Delete(resp);
    pthread_mutex_lock(&hub.lock);
    CHECK_EQ_INT(hub.requests, before);
    pthread_mutex_unlock(&hub.lock);
}

/* Nobody listens at the endpoint any more: failed, "IoT Hub unreachable". */
static void hub_unreachable_fails_it(void)
{
    cJSON *resp, *got;

    if (!fx_up) {
        return;
    }
    MHD_stop_daemon(hub.d);
    hub.d = NULL;
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_,
                      "{\"name\":\"speed_pct\",\"value\":8}", &resp),
                 503);
    cJSON_Delete(resp);
    got = newest_command();
    CHECK_STR(str_of(got, "state"), "failed");
    contains(str_of(got, "detail"), "IoT Hub unreachable");
    cJSON_Delete(got);
}

static void stop_server_and_check_its_log(void)
{
    char text[1 << 16];
    FILE *f;
    size_t n;

    if (!fx_up) {
        return;
    }
    f = fopen(fx.serve.log, "r");
    CHECK(f != NULL);
    if (f != NULL) {
        n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        fclose(f);
        CHECK(strstr(text, KEY_B64) == NULL);
        CHECK(strstr(text, "SharedAccessSignature") == NULL);
        contains(text, "direct method failed"); /* the failures were logged, without it */
    }
    CHECK_EQ_INT(api_fixture_stop(&fx), 0);
    fx_up = 0;
}

/* `modax serve --roles api` with 'tenant_paths' and no connection string: refused at start. */
static void startup_refused(const char *tenant_paths, const char *want)
{
    char dir[512], err[8192];
    struct broker b;

    tmp_make(dir, sizeof(dir), "command-azure-start");
    CHECK_EQ_INT(broker_start(&b, dir, 0), 0);
    modax_env(dir, b.port);
    unsetenv("MODAX_COMMAND_AZURE_CONNECTION_STRING");
    unsetenv("MODAX_COMMAND_AZURE_CONNECTION_STRING_FILE");
    setenv("MODAX_COMMAND_TENANT_PATHS", tenant_paths, 1);
    CHECK(modax_stderr(err, sizeof(err), "serve", "--roles", "api", (char *)NULL) != 0);
    contains(err, want);
    CHECK(strstr(err, "Sanitizer") == NULL); /* a refused start leaks nothing (sanitizer builds) */
    broker_stop(&b, 15);
    tmp_remove(dir);
}

static void azure_without_credentials_is_a_startup_error(void)
{
    startup_refused("acme=azure", "MODAX_COMMAND_AZURE_CONNECTION_STRING");
}

static void unknown_path_is_a_startup_error(void)
{
    startup_refused("acme=telex", "'telex' of tenant acme is not a command path");
}

static const struct mdx_test tests[] = {
    {"start", start},
    {"answer_acks_the_command", answer_acks_the_command},
    {"device_refusal_rejects_it", device_refusal_rejects_it},
    {"failures_fail_the_command_with_the_reason", failures_fail_the_command_with_the_reason},
    {"other_tenants_stay_on_mqtt", other_tenants_stay_on_mqtt},
    {"hub_unreachable_fails_it", hub_unreachable_fails_it},
    {"stop_server_and_check_its_log", stop_server_and_check_its_log},
    {"azure_without_credentials_is_a_startup_error", azure_without_credentials_is_a_startup_error},
    {"unknown_path_is_a_startup_error", unknown_path_is_a_startup_error},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
