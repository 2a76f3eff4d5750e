/* SPDX-License-Identifier: Apache-2.0 */
/*
 * creds_util.c - environment look-ups and bearer values
 * shared by the cloud credential providers and their users (creds_util.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"
#include "net/creds_util.h"

const char *mdx_env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

char *mdx_bearer(const char *token)
{
    size_t n = strlen("Bearer ") + strlen(token) + 1;
    char *v = mdx_malloc(n);

    if (v != NULL) {
        snprintf(v, n, "Bearer %s", token);
    }
    return v;
}
