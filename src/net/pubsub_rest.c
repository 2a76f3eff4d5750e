/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pubsub_rest.c - ids, URLs and the emulator rule of Pub/Sub's REST API
 * (see pubsub_rest.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "net/pubsub_rest.h"

int mdx_pubsub_id_ok(const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && strchr("-._~+%", *s) == NULL) {
            return 0;
        }
    }
    return 1;
}

/* $PUBSUB_EMULATOR_HOST, NULL when unset or empty. */
static const char *emulator(void)
{
    const char *emu = getenv("PUBSUB_EMULATOR_HOST");

    return emu != NULL && emu[0] != '\0' ? emu : NULL;
}

char *mdx_pubsub_url(const char *endpoint, const char *project, const char *kind,
                     const char *id, const char *suffix)
{
    const char *emu = emulator();
    struct mdx_buf b;
    size_t n = strlen(endpoint);

    mdx_buf_init(&b, 4096);
    if (emu != NULL) {
        mdx_buf_addf(&b, "http://%s", emu); /* the emulator speaks plain HTTP */
    } else {
        while (n > 0 && endpoint[n - 1] == '/') {
            n--;
        }
        mdx_buf_add(&b, endpoint, n);
    }
    mdx_buf_addf(&b, "/v1/projects/%s/%s/%s%s", project, kind, id, suffix);
    return mdx_buf_take(&b);
}

int mdx_pubsub_wants_creds(const char *credentials)
{
    return strcmp(credentials, "none") != 0 &&
           (strcmp(credentials, "auto") != 0 || emulator() == NULL);
}
