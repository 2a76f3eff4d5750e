/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.h - reading a request (struct api_req, api_int.h): query
 * parameters, path captures, the JSON body, the presented key, and the
 * caller's devices (tenancy).
 *
 * The reading functions refuse bad input themselves: they reply (400, or
 * 404 for ids and devices) and return -1, and the handler just returns.
 */
#ifndef MODAX_API_REQUEST_H
#define MODAX_API_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "api/api_int.h"
#include "api/body_check.h"
#include "base/buf.h"

/* ---- query parameters ---- */

/* The query parameter's value, NULL if absent. Borrowed: valid during the request. */
const char *api_query(struct api_req *r, const char *name);
/* Refuses any query parameter not in 'names' (NULL-terminated): 400 naming it. */
int api_query_allow(struct api_req *r, const char *const *names);
/* Integer parameter in [min, max]; 'def' when absent. */
int api_query_int(struct api_req *r, const char *name, int64_t def, int64_t min, int64_t max,
                  int64_t *out);
/* Time parameter: epoch ms or ISO 8601 (mdx_parse_time_ms); 'def' when absent. */
int api_query_time(struct api_req *r, const char *name, int64_t def, int64_t *out);

/* ---- path captures ---- */

/*
 * Path capture 'i' as a store id (a whole number > 0) into *out: 0. Else
 * replies 404 "<what> '<text>' not found" (the same message as for an id
 * that is not there, see api_not_found()) and returns -1.
 */
int api_param_id(struct api_req *r, size_t i, const char *what, int64_t *out);

/* ---- the body ---- */

/* Refuses a body that is not an object, or has a member not in 'names': 400 naming it. */
int api_body_allow(struct api_req *r, const char *const *names);
/* Requires a body (400 "body required") that passes api_body_allow. */
int api_body_require(struct api_req *r, const char *const *names);

/*
 * Body member 'field' as a name ([A-Za-z0-9_-]{1,64}) copied to 'out'
 * (MDX_NAME_MAX + 1 bytes; flags API_REQUIRED, API_EMPTY_OK of body_check.h):
 * 1 if given, 0 if absent or null (out = ""),
 * -1 when refused (400 naming the field, replied).
 */
int api_body_name(struct api_req *r, const char *field, unsigned flags,
                  char out[MDX_NAME_MAX + 1]);
/*
 * Body member 'field' as a JSON object, written compactly to 'out' (at most
 * 'len' bytes with the NUL): 1 if given, 0 if absent, -1 when refused
 * (not an object, or too long: 400 naming the field, replied).
 */
int api_body_object(struct api_req *r, const char *field, char *out, size_t len);

/* 1 if the Content-Length header announces more than 'max' bytes, else 0. */
int api_req_length_over(struct api_req *r, int64_t max);
/*
 * Parses 'raw' (the body as received) into r->body, which the server frees
 * with the request; an empty body leaves r->body NULL. 0, or -1 after
 * replying 400 (not JSON).
 */
int api_req_parse_body(struct api_req *r, const struct mdx_buf *raw);

/*
 * The presented key: "Authorization: Bearer KEY", else "X-API-Key: KEY";
 * NULL if none, "?" (a malformed key) for another scheme or an overlong
 * header. Borrowed: valid during the request.
 */
const char *api_req_key(struct api_req *r);

/* ---- tenancy ---- */

/*
 * The caller's device 'device': 0 with *out filled, else replies 404
 * (another tenant's device answers exactly like one that does not exist)
 * or the store's error, and returns -1.
 */
int api_device(struct api_req *r, const char *device, struct mdx_device_info *out);

#endif
