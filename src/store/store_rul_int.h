/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_rul_int.h - checks the SQLite and PostgreSQL RUL stores share
 * (sqlite/rul.c, pgsql/rul.c). Internal to src/store.
 */
#ifndef MODAX_STORE_RUL_INT_H
#define MODAX_STORE_RUL_INT_H

#include <string.h>

#include "modax/store.h"

/* A model version: [A-Za-z0-9_.:-]{1,63}. */
static inline int mdx_rul_version_valid(const char *v)
{
    size_t n = v != NULL ? strnlen(v, MDX_RUL_VERSION_MAX) : 0;

    if (n == 0 || n >= MDX_RUL_VERSION_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* A model record's strings fit their fields and the path is not empty. */
static inline int mdx_rul_model_rec_valid(const struct mdx_rul_model_rec *m)
{
    return mdx_rul_version_valid(m->version) && m->path[0] != '\0' &&
           strnlen(m->path, sizeof(m->path)) < sizeof(m->path) &&
           strnlen(m->manifest, sizeof(m->manifest)) < sizeof(m->manifest);
}

#endif
