/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_endpoint_auth.h - the credentials of rul.endpoint requests
 * (rul_endpoint_auth.c): none, a token file, Azure Workload Identity,
 * Google credentials or AWS SigV4, per rul.endpoint_credentials. Used by
 * one thread.
 */
#ifndef MODAX_RUL_ENDPOINT_AUTH_H
#define MODAX_RUL_ENDPOINT_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct curl_slist;
struct mdx_rul_auth;

/*
 * Credentials for 'mode' (none, token_file, azure, gcp, aws; NULL or "" is
 * none). 'token_file' is for token_file, 'region' for aws (""/NULL:
 * $AWS_REGION, $AWS_DEFAULT_REGION); both borrowed during the call only.
 * Nothing is fetched yet. NULL with *err MDX_ECONF and the reason in 'why'
 * when the mode is unknown or its settings or environment are missing;
 * MDX_ENOMEM.
 */
struct mdx_rul_auth *mdx_rul_auth_create(const char *mode, const char *token_file,
                                         const char *region, int64_t timeout_ms, int *err,
                                         char *why, size_t why_len);
void mdx_rul_auth_destroy(struct mdx_rul_auth *a);

/*
 * Adds the request's credential headers to *hdrs for a POST of 'body'
 * (len bytes) to 'url': "Authorization: Bearer ...", or for aws the SigV4
 * signature with x-amz-date, x-amz-content-sha256 and a session token.
 * Nothing for none. MDX_EAGAIN or MDX_EDENIED with the reason in 'why'
 * (never a secret) when no credentials can be had now; MDX_EINVAL for a
 * URL that cannot be signed.
 */
int mdx_rul_auth_sign(struct mdx_rul_auth *a, const char *url, const char *body, size_t len,
                      struct curl_slist **hdrs, char *why, size_t why_len);
/* The endpoint answered 401/403: the next header comes from a new token. */
void mdx_rul_auth_refused(struct mdx_rul_auth *a);

#endif
