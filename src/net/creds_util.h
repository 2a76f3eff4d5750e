/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds_util.h - small pieces the cloud credential providers (aws_creds.c,
 * azure_creds.c, gcp_creds.c) and their users share: reading a setting
 * from the environment and the Authorization value of an access token
 * (secrets are freed with mdx_free_secret, modax/alloc.h).
 */
#ifndef MODAX_NET_CREDS_UTIL_H
#define MODAX_NET_CREDS_UTIL_H

/* The environment variable 'name' (borrowed from the environment), or NULL if unset or empty. */
const char *mdx_env(const char *name);

/* "Bearer TOKEN", a secret the caller frees with mdx_free_secret (modax/alloc.h);
   NULL when out of memory. */
char *mdx_bearer(const char *token);

#endif
