/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_range_query.c - fuzz target for the telemetry query parameters
 * (range_query.h), the functions GET .../telemetry runs on step= and
 * sensor=, and the bucket count it checks a range against.
 *
 * Input: "STEP\nSENSORS\n" then any bytes. The first line is parsed as a
 * step: an accepted step is 1 .. 2^50 ms and is the line's number times its
 * unit. The second is parsed as a sensor list with a cap of 1 + (first
 * byte % 8): an accepted list holds at most the cap, each name valid, none
 * twice, and every name of the text; a refused one has a reason. The last
 * 24 bytes, as from, to and a step made positive, give a bucket count that
 * must equal the exact one computed in 128 bits, or be refused exactly when
 * that does not fit 64 bits (or when to is before from).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/range_query.h"
#include "modax/status.h"
#include "modax/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void step_param(const char *s)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    int64_t ms = 0;
    char *end;
    unsigned long long n;

    if (api_parse_step(s, &ms) != MDX_OK) {
        return;
    }
    if (ms < 1 || ms > API_STEP_MAX_MS || s[0] < '0' || s[0] > '9') {
        abort();
    }
    n = strtoull(s, &end, 10);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if ((unsigned long long)ms != n * (unsigned long long)units[i].ms) {
                abort();
            }
            return;
        }
    }
    abort(); /* accepted with a unit that is none of them */
}

static void sensor_param(const char *list, int64_t max)
{
    struct api_names names;
    struct api_why why;
    int rc;

    why.text[0] = '\0';
    api_names_init(&names);
    rc = api_sensor_list(list, max, &names, &why);
    if (rc == MDX_EINVAL && why.text[0] == '\0') {
        abort();
    }
    if (rc == MDX_OK) {
        if ((int64_t)names.n > max || names.n == 0) {
            abort();
        }
        for (size_t i = 0; i < names.n; i++) {
            const char *a = api_names_at(&names, i);
            if (!mdx_valid_sensor(a, strlen(a))) {
                abort();
            }
            for (size_t j = i + 1; j < names.n; j++) {
                if (strcmp(a, api_names_at(&names, j)) == 0) {
                    abort();
                }
            }
        }
        for (const char *p = list;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
            if (!api_names_has(&names, p, len)) {
                abort();
            }
            if (comma == NULL) {
                break;
            }
            p = comma + 1;
        }
    }
    api_names_free(&names);
}

static __int128 floor_div128(__int128 a, __int128 b)
{
    __int128 q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void bucket_count(const uint8_t *tail)
{
    int64_t from, to, step, n;
    uint64_t s;
    __int128 exact;
    int rc;

    memcpy(&from, tail, 8);
    memcpy(&to, tail + 8, 8);
    memcpy(&s, tail + 16, 8);
    step = (int64_t)(s & (uint64_t)INT64_MAX);
    if (step == 0) {
        step = 1;
    }
    exact = floor_div128(to, step) - floor_div128(from, step) + 1;
    rc = api_bucket_count(from, to, step, &n);
    if (to < from) {
        if (rc != MDX_EINVAL) {
            abort();
        }
    } else if (exact > INT64_MAX || exact < INT64_MIN) {
        if (rc != MDX_ERANGE) {
            abort();
        }
    } else if (rc != MDX_OK || n != (int64_t)exact) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    char *nl, *list;

    if (s == NULL) {
        abort();
    }
    memcpy(s, data, size);
    s[size] = '\0';
    nl = strchr(s, '\n');
    if (nl != NULL) {
        *nl = '\0';
        list = nl + 1;
        nl = strchr(list, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        step_param(s);
        sensor_param(list, 1 + (size > 0 ? data[0] % 8 : 0));
    }
    if (size >= 24) {
        bucket_count(data + size - 24);
    }
    free(s);
    return 0;
}
