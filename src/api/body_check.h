/* SPDX-License-Identifier: Apache-2.0 */
/*
 * body_check.h - a request's JSON body checked without the request: the
 * field checks behind request.h's api_body_* readers and the bodies the
 * routes parse (rule_body.h). They take the parsed body, never reply, and
 * put the reason for a refusal in a struct api_why that the caller sends
 * as its 400 message; so the fuzz targets run the very checks the API runs.
 */
#ifndef MODAX_API_BODY_CHECK_H
#define MODAX_API_BODY_CHECK_H

#include <cjson/cJSON.h>

#include "modax/msg.h"

#define API_WHY_MAX 256

/* Why an input was refused: one sentence naming the field, for a 400 reply. */
struct api_why {
    char text[API_WHY_MAX];
};

#define API_REQUIRED 0x1u   /* absent (or null) is refused */
#define API_EMPTY_OK 0x2u   /* "" is taken (meaning "none") */

/* 0 if 'body' (NULL: none) is an object whose members are all in 'names' (NULL-ended); else -1. */
int api_json_allow(const cJSON *body, const char *const *names, struct api_why *why);
/*
 * Member 'field' of 'body' (may be NULL) as a name ([A-Za-z0-9_-]{1,64})
 * copied to 'out': 1 if given, 0 if absent or null (out = ""), -1 if refused.
 */
int api_json_name(const cJSON *body, const char *field, unsigned flags,
                  char out[MDX_NAME_MAX + 1], struct api_why *why);
/* Member 'field' as a finite number into *out (absent: *out kept, unless required): 0 or -1. */
int api_json_number(const cJSON *body, const char *field, unsigned flags, double *out,
                    struct api_why *why);
/*
 * Member 'field' as a string that 'parse' accepts into *out (absent: kept,
 * unless required); 'choices' names them in the refusal. 0 or -1.
 */
int api_json_choice(const cJSON *body, const char *field, unsigned flags,
                    int (*parse)(const char *, int *), const char *choices, int *out,
                    struct api_why *why);

#endif
