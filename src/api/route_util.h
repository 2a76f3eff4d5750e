/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_util.h - small helpers the resource routes share: ids in paths,
 * names and JSON objects in request bodies, and the times of responses.
 * Each replies (400 or 404) itself when the input is refused.
 */
#ifndef MODAX_ROUTE_UTIL_H
#define MODAX_ROUTE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "api/api_int.h"

/*
 * Path capture 'i' as a store id (a whole number > 0) into *out: 0. Else
 * replies 404 "<what> '<text>' not found" (the same message as for an id
 * that is not there, see route_not_found()) and returns -1.
 */
int route_param_id(struct api_req *r, size_t i, const char *what, int64_t *out);

/* Replies 404 "<what> '<text>' not found". */
void route_not_found(struct api_req *r, const char *what, const char *text);

#define ROUTE_REQUIRED 0x1u   /* absent (or null) is refused */
#define ROUTE_EMPTY_OK 0x2u   /* "" is taken (meaning "none") */

/*
 * Body member 'field' as a name ([A-Za-z0-9_-]{1,64}) copied to 'out'
 * (MDX_NAME_MAX + 1 bytes): 1 if given, 0 if absent or null (out = ""),
 * -1 when refused (400 naming the field, replied).
 */
int route_body_name(struct api_req *r, const char *field, unsigned flags,
                    char out[MDX_NAME_MAX + 1]);

/*
 * Body member 'field' as a JSON object, written compactly to 'out' (at most
 * 'len' bytes with the NUL): 1 if given, 0 if absent, -1 when refused
 * (not an object, or too long: 400 naming the field, replied).
 */
int route_body_object(struct api_req *r, const char *field, char *out, size_t len);

/* Adds "<name>": ISO time and "<name>_ms": epoch ms, both null when ms <= 0. 0, or -1 on ENOMEM. */
int route_add_time_ms(cJSON *obj, const char *name, int64_t ms);

/* Adds 'name': the string, or null when it is "". 0, or -1 if out of memory. */
int route_add_string_or_null(cJSON *obj, const char *name, const char *s);

/*
 * Adds 'name': the JSON text parsed (a stored object), or {} if it does
 * not parse. 0, or -1 if out of memory.
 */
int route_add_json_text(cJSON *obj, const char *name, const char *text);

#endif
