/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reply.c - the replies of the API: every response goes through
 * api_reply_response(), which adds the common headers and sets the
 * request's status, so that the server can count and log it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/reply.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "api"
#define STREAM_BLOCK 32768       /* block size of streamed responses */

int api_path_is_api(const char *url)
{
    return strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0;
}

void api_reply_response(struct api_req *r, unsigned status, struct MHD_Response *resp)
{
    if (resp == NULL) {
        mdx_log_error(MOD, "cannot create a response (out of memory)");
        r->status = 500; /* the connection is closed without an answer */
        return;
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    if (api_path_is_api(r->url) || r->route != NULL) {
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    }
    if (MHD_queue_response(r->conn, status, resp) != MHD_YES) {
        mdx_log_warn(MOD, "cannot queue a response", MDX_F_INT("status", status));
    }
    MHD_destroy_response(resp);
    r->status = status;
}

static struct MHD_Response *json_response(char *text)
{
    struct MHD_Response *resp;

    resp = MHD_create_response_from_buffer_with_free_callback(strlen(text), text, cJSON_free);
    if (resp == NULL) {
        cJSON_free(text);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return resp;
}

void api_error_header(struct api_req *r, unsigned status, const char *code, const char *hname,
                      const char *hval, const char *msg)
{
    cJSON *doc = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(doc, "error");
    struct MHD_Response *resp = NULL;
    char *text = NULL;

    if (err != NULL && cJSON_AddStringToObject(err, "code", code) != NULL &&
        cJSON_AddStringToObject(err, "message", msg) != NULL) {
        text = cJSON_PrintUnformatted(doc);
    }
    cJSON_Delete(doc);
    if (text != NULL) {
        resp = json_response(text);
    }
    if (resp != NULL && hname != NULL) {
        MHD_add_response_header(resp, hname, hval);
    }
    api_reply_response(r, status, resp);
}

void api_error(struct api_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_error_header(r, status, code, status == 401 ? "WWW-Authenticate" : NULL, "Bearer", msg);
}

void api_reply_json(struct api_req *r, unsigned status, cJSON *body)
{
    char *text;

    if (body == NULL) {
        api_error(r, 500, "internal", "out of memory");
        return;
    }
    text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (text == NULL) {
        api_error(r, 500, "internal", "out of memory");
        return;
    }
    api_reply_response(r, status, json_response(text));
}

void api_reply_empty(struct api_req *r, unsigned status)
{
    api_reply_response(r, status, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

void api_reply_bytes(struct api_req *r, unsigned status, const char *content_type,
                     const void *data, size_t len)
{
    struct MHD_Response *resp;

    resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (resp != NULL) {
        MHD_add_response_header(resp, "Content-Type", content_type);
    }
    api_reply_response(r, status, resp);
}

void api_reply_buf(struct api_req *r, unsigned status, const char *content_type,
                   struct mdx_buf *b, const char *what)
{
    struct MHD_Response *resp;
    size_t len = b->len;
    char *text = mdx_buf_take(b);

    if (text == NULL) {
        api_error(r, 500, "internal", "%s is too large or memory ran out", what);
        return;
    }
    resp = MHD_create_response_from_buffer_with_free_callback(len, text, mdx_free);
    if (resp == NULL) {
        mdx_free(text);
        api_error(r, 500, "internal", "out of memory");
        return;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    api_reply_response(r, status, resp);
}

void api_reply_stream(struct api_req *r, unsigned status, const char *content_type,
                      MHD_ContentReaderCallback reader, void *cls,
                      MHD_ContentReaderFreeCallback free_cls, const char *filename)
{
    struct MHD_Response *resp;

    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, reader, cls,
                                             free_cls);
    if (resp == NULL) {
        if (free_cls != NULL) {
            free_cls(cls);
        }
        api_error(r, 500, "internal", "out of memory");
        return;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    if (filename != NULL) {
        char disp[300];
        snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(resp, "Content-Disposition", disp);
    }
    api_reply_response(r, status, resp);
}

size_t api_stream_put(char *dst, size_t room, const char *src, size_t len)
{
    size_t k = len < room ? len : room;

    memcpy(dst, src, k);
    return k;
}

void api_not_found(struct api_req *r, const char *what, const char *text)
{
    api_error(r, 404, "not_found", "%s '%.64s' not found", what, text);
}

void api_store_error(struct api_req *r, int rc)
{
    if (rc == MDX_ENOTFOUND) {
        api_error(r, 404, "not_found", "not found");
        return;
    }
    if (rc == MDX_ECONN) {
        r->store_broken = 1; /* the server reopens the handle once the request is done */
    }
    if (mdx_status_is_transient(rc) || rc == MDX_ECONN || rc == MDX_EAGAIN) {
        api_error(r, 503, "unavailable", "the store is unavailable (%s); retry later",
                  mdx_strerror(rc));
        return;
    }
    mdx_log_error(MOD, "store error", MDX_F_STR("path", r->url), MDX_F_ERR(rc));
    api_error(r, 500, "internal", "store error (%s)", mdx_strerror(rc));
}

cJSON *api_list_doc(struct api_req *r, const char *member, cJSON **arr)
{
    cJSON *body = cJSON_CreateObject();

    *arr = body != NULL ? cJSON_AddArrayToObject(body, member) : NULL;
    if (*arr == NULL) {
        cJSON_Delete(body);
        api_reply_json(r, 500, NULL);
        return NULL;
    }
    return body;
}

void api_reply_listed(struct api_req *r, cJSON *body, int rc)
{
    if (rc != MDX_OK) {
        cJSON_Delete(body);
        api_store_error(r, rc);
        return;
    }
    api_reply_json(r, 200, body);
}

int api_store_check(struct api_req *r, int rc, const char *what, const char *text)
{
    if (rc == MDX_OK) {
        return 0;
    }
    if (rc == MDX_ENOTFOUND) {
        api_not_found(r, what, text);
    } else {
        api_store_error(r, rc);
    }
    return -1;
}

/* ---- JSON members ---- */

int api_array_add(cJSON *arr, cJSON *item)
{
    if (item == NULL || !cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

cJSON *api_add_time(cJSON *obj, const char *name, int64_t ms)
{
    char buf[40];

    if (ms <= 0) {
        return cJSON_AddNullToObject(obj, name);
    }
    mdx_format_iso_ms(ms, buf, sizeof(buf));
    return cJSON_AddStringToObject(obj, name, buf);
}

int api_add_time_ms(cJSON *obj, const char *name, int64_t ms)
{
    char key[48];

    snprintf(key, sizeof(key), "%s_ms", name);
    if (api_add_time(obj, name, ms) == NULL) {
        return -1;
    }
    if (ms > 0) {
        return cJSON_AddNumberToObject(obj, key, (double)ms) != NULL ? 0 : -1;
    }
    return cJSON_AddNullToObject(obj, key) != NULL ? 0 : -1;
}

int api_add_string_or_null(cJSON *obj, const char *name, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return cJSON_AddNullToObject(obj, name) != NULL ? 0 : -1;
    }
    return cJSON_AddStringToObject(obj, name, s) != NULL ? 0 : -1;
}

int api_add_json_text(cJSON *obj, const char *name, const char *text)
{
    cJSON *v = cJSON_Parse(text);

    if (v == NULL) {
        v = cJSON_CreateObject();
        if (v == NULL) {
            return -1;
        }
    }
    if (!cJSON_AddItemToObject(obj, name, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}
