/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file.c - a small file read whole, for secrets and tokens (file.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "modax/alloc.h"
#include "modax/status.h"

int mdx_read_secret_file(const char *path, size_t max, char **out)
{
    FILE *f = fopen(path, "r");
    size_t len;
    char *buf;
    int rc = MDX_OK, saved;

    *out = NULL;
    if (f == NULL) {
        return MDX_ENOTFOUND;
    }
    buf = mdx_malloc(max + 1);
    if (buf == NULL) {
        fclose(f);
        return MDX_ENOMEM;
    }
    len = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        rc = MDX_EIO;
    } else if (len > max) {
        rc = MDX_EFULL;
    } else {
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
            len--;
        }
        *out = mdx_strndup(buf, len); /* an exact-size copy, not the whole read buffer */
        rc = *out != NULL ? MDX_OK : MDX_ENOMEM;
    }
    saved = errno;
    mdx_memzero(buf, max + 1);
    mdx_free(buf);
    fclose(f);
    errno = saved;
    return rc;
}

char *mdx_read_token_file(const char *what, const char *path, size_t max, char *why,
                          size_t why_len)
{
    char *t = NULL;
    int rc = mdx_read_secret_file(path, max, &t);

    if (rc == MDX_OK && t[0] != '\0') {
        return t;
    }
    snprintf(why, why_len, "%s %s is %s", what, path,
             rc == MDX_OK ? "empty" : rc == MDX_EFULL ? "too long" : "unreadable");
    if (t != NULL) {
        mdx_memzero(t, strlen(t));
        mdx_free(t);
    }
    return NULL;
}
