/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.h - helpers for tests of the HTTP API: a libcurl client, and a
 * fixture running a real Mosquitto and `modax serve --roles ingest,api`
 * on free loopback ports with two tenants and a key of every role.
 */
#ifndef MODAX_TEST_SUPPORT_API_H
#define MODAX_TEST_SUPPORT_API_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "support/support.h"

struct http_resp {
    long status;                  /* 0 if the request failed */
    char *body;                   /* NUL-terminated; free with http_resp_free() */
    size_t len;
    char content_type[128];
    char retry_after[32];         /* Retry-After header, "" if none */
};

/*
 * One request: 'key' (NULL: none) as "Authorization: Bearer KEY", 'body'
 * (NULL: none) sent as application/json. 0 if a response came.
 */
int http_call(const char *method, const char *url, const char *key, const char *body,
              struct http_resp *out);
void http_resp_free(struct http_resp *r);

/*
 * The value of the sample line of a Prometheus text page ('page') that starts
 * with 'series' (name and labels) and a space; -1 if there is none.
 */
double metrics_sample(const char *page, const char *series);
/* GETs 'url' (a /metrics page) and returns metrics_sample() of it; -1 if no page came. */
double metrics_get(const char *url, const char *series);

struct api_fixture {
    char dir[512];
    struct broker broker;
    struct serve serve;
    int http_port;
    char base[64];                /* "http://127.0.0.1:PORT" */
    /* Keys of tenant "acme" (devices press-1 and press-2 registered) ... */
    char admin[80], operator_[80], viewer[80];
    /* ... one admin key of tenant "globex" (device mill-1), and the platform key. */
    char globex_admin[80], platform[80];
};

/*
 * Starts broker and `modax serve --roles ROLES` (NULL: "ingest,api") in a
 * scratch folder 'name', with the tenants, devices and keys above. Extra
 * environment for the server can be set with setenv() before the call.
 * 0 on success.
 */
int api_fixture_start(struct api_fixture *f, const char *name, const char *roles);
/* base + path into buf. */
const char *api_url(const struct api_fixture *f, const char *path, char *buf, size_t len);
/* Stops the server and the broker, removes the folder; the server's exit status (0: none ran). */
int api_fixture_stop(struct api_fixture *f);
/*
 * Calls 'path' of the fixture's API with 'key' (and a JSON 'body', or NULL):
 * the HTTP status (0 when no answer came) and the parsed answer in *out
 * (NULL if not JSON; the caller cJSON_Delete()s it).
 */
long api_call_json(const struct api_fixture *f, const char *method, const char *path,
                   const char *key, const char *body, cJSON **out);

#endif
