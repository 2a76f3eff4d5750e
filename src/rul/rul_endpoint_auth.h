/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_endpoint_auth.h - the Authorization header of rul.endpoint requests
 * (rul_endpoint_auth.c): none, a token file, Azure Workload Identity or
 * Google credentials, per rul.endpoint_credentials. Used by one thread.
 */
#ifndef MODAX_RUL_ENDPOINT_AUTH_H
#define MODAX_RUL_ENDPOINT_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct mdx_rul_auth;

/*
 * A header source for 'mode' (none, token_file, azure, gcp; NULL or "" is
 * none); 'token_file' is borrowed during the call only. Nothing is fetched
 * yet. NULL with *err MDX_ECONF and the reason in 'why' when the mode is
 * unknown or its settings or environment are missing; MDX_ENOMEM.
 */
struct mdx_rul_auth *mdx_rul_auth_create(const char *mode, const char *token_file,
                                         int64_t timeout_ms, int *err, char *why, size_t why_len);
void mdx_rul_auth_destroy(struct mdx_rul_auth *a);

/*
 * The header's value for the next request into *value ("Bearer ...", a new
 * string the caller wipes and frees; NULL for none). MDX_EAGAIN or
 * MDX_EDENIED with the reason in 'why' (never a secret) when no token can
 * be had now.
 */
int mdx_rul_auth_header(struct mdx_rul_auth *a, char **value, char *why, size_t why_len);
/* The endpoint answered 401/403: the next header comes from a new token. */
void mdx_rul_auth_refused(struct mdx_rul_auth *a);

#endif
