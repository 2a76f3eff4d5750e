/* SPDX-License-Identifier: Apache-2.0 */
/*
 * logs.c - reading the logs a test's processes wrote: the last statistics
 * figure of `modax serve`, and the lines that say why a message came twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"

int64_t log_last_stat(const char *log, const char *key)
{
    char line[4096], quoted[128];
    int64_t v = -1;
    FILE *f = fopen(log, "r");

    snprintf(quoted, sizeof(quoted), "\"%s\":", key);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        const char *r = strstr(line, quoted);

        if (r != NULL && strstr(line, "\"msg\":\"statistics\"") != NULL) {
            v = strtoll(r + strlen(quoted), NULL, 10);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return v;
}

void log_print_disconnects(const char *log)
{
    char line[4096];
    FILE *f = fopen(log, "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, "isconnect") != NULL || strstr(line, "closed") != NULL ||
            strstr(line, "exceeded timeout") != NULL || strstr(line, "New client") != NULL) {
            fprintf(stderr, "  %s: %s", log, line);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}
