/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reply.h - answering a request: JSON documents, errors, bytes, buffers
 * and streamed bodies, and the JSON members the routes' documents share.
 *
 * A handler sends exactly one reply. Each reply function adds the headers
 * every response carries (nosniff, no referrer, no framing; no-store for
 * the API's own paths) and sets r->status.
 */
#ifndef MODAX_API_REPLY_H
#define MODAX_API_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "api/api_int.h"
#include "base/buf.h"

/* Sends 'body' (taken; freed here, NULL = out of memory: 500) as JSON. */
void api_reply_json(struct api_req *r, unsigned status, cJSON *body);
/* Sends {"error":{"code":code,"message":...}}; code is a short word ("not_found"). */
void api_error(struct api_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* api_error with the extra header 'hname: hval' (Allow, Retry-After) and a fixed message. */
void api_error_header(struct api_req *r, unsigned status, const char *code, const char *hname,
                      const char *hval, const char *msg);
/* Replies 404 "<what> '<text>' not found". */
void api_not_found(struct api_req *r, const char *what, const char *text);
/*
 * Replies for a store error: 404 for MDX_ENOTFOUND, 503 for transient ones,
 * else 500. A broken connection (MDX_ECONN) sets r->store_broken, so that
 * the server opens this thread's handle again after the request.
 */
void api_store_error(struct api_req *r, int rc);
/*
 * A new document {"<member>": []} for a list reply; '*arr' is its array.
 * NULL, after replying 500, when memory ran out.
 */
cJSON *api_list_doc(struct api_req *r, const char *member, cJSON **arr);
/* Replies 200 with 'body' (taken) when 'rc' is MDX_OK; else frees it and replies api_store_error. */
void api_reply_listed(struct api_req *r, cJSON *body, int rc);
/*
 * For a store read of one named thing: 0 when 'rc' is MDX_OK; else replies
 * (404 "<what> '<text>' not found" for MDX_ENOTFOUND, else api_store_error)
 * and returns -1.
 */
int api_store_check(struct api_req *r, int rc, const char *what, const char *text);
/* 204 No Content. */
void api_reply_empty(struct api_req *r, unsigned status);
/* Sends 'len' bytes of 'data' (copied) with 'content_type'. */
void api_reply_bytes(struct api_req *r, unsigned status, const char *content_type,
                     const void *data, size_t len);
/*
 * Sends the text of 'b' with 'content_type'; the bytes are taken and 'b'
 * is empty after. A buffer with a sticky error (over its cap, or out of
 * memory) is freed and answered 500 "'what' is too large or memory ran out".
 */
void api_reply_buf(struct api_req *r, unsigned status, const char *content_type,
                   struct mdx_buf *b, const char *what);
/*
 * Streams a body produced by 'reader' (MHD's content reader: returns bytes
 * written, MHD_CONTENT_READER_END_OF_STREAM or _WITH_ERROR). 'cls' is
 * freed by 'free_cls' when the response ends. 'filename' (may be NULL)
 * sets Content-Disposition: attachment.
 */
void api_reply_stream(struct api_req *r, unsigned status, const char *content_type,
                      MHD_ContentReaderCallback reader, void *cls,
                      MHD_ContentReaderFreeCallback free_cls, const char *filename);
/*
 * For a content reader handing out a text in pieces: copies as much of
 * 'src' ('len' bytes) as fits into the 'room' bytes at 'dst' and returns
 * how many it copied.
 */
size_t api_stream_put(char *dst, size_t room, const char *src, size_t len);
/*
 * Sends a response the caller built ('resp' is taken; NULL = out of
 * memory: the connection is closed without an answer) with the common
 * headers added. For bodies the functions above do not cover (files).
 */
void api_reply_response(struct api_req *r, unsigned status, struct MHD_Response *resp);

/* 1 if 'url' is one of the API's own paths (under /api/), whose replies are never cached. */
int api_path_is_api(const char *url);

/* ---- JSON members of reply documents ---- */

/* Appends 'item' (taken; NULL = out of memory) to the array 'arr'. MDX_OK or MDX_ENOMEM. */
int api_array_add(cJSON *arr, cJSON *item);
/* ISO 8601 UTC time string member, or null for ms <= 0. NULL on out of memory. */
cJSON *api_add_time(cJSON *obj, const char *name, int64_t ms);
/* Adds "<name>": ISO time and "<name>_ms": epoch ms, both null when ms <= 0. 0, or -1 on ENOMEM. */
int api_add_time_ms(cJSON *obj, const char *name, int64_t ms);
/* Adds 'name': the string, or null when it is "". 0, or -1 if out of memory. */
int api_add_string_or_null(cJSON *obj, const char *name, const char *s);
/*
 * Adds 'name': the JSON text parsed (a stored object), or {} if it does
 * not parse. 0, or -1 if out of memory.
 */
int api_add_json_text(cJSON *obj, const char *name, const char *text);

#endif
