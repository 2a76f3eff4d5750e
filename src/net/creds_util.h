/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds_util.h - small pieces the cloud credential providers (aws_creds.c,
 * azure_creds.c, gcp_creds.c) and their users share: reading a setting
 * from the environment, wiping a secret string before it is freed, and
 * the Authorization value of an access token.
 */
#ifndef MODAX_NET_CREDS_UTIL_H
#define MODAX_NET_CREDS_UTIL_H

/* The environment variable 'name' (borrowed from the environment), or NULL if unset or empty. */
const char *mdx_env(const char *name);

/* Overwrites the secret string 's' with zeros, then frees it; NULL is allowed. */
void mdx_free_secret(char *s);

/* "Bearer TOKEN", a secret the caller frees with mdx_free_secret; NULL when out of memory. */
char *mdx_bearer(const char *token);

#endif
