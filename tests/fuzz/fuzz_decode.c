/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_decode.c - fuzz target for the decode and validate stages.
 *
 * The input is a payload from device "press-0042" of tenant "acme". It
 * goes through mdx_decode() and mdx_validate_points() as telemetry, and
 * through mdx_decode_event() as a safety and as a status message; the
 * first bytes also serve as a topic for mdx_validate_topic(). The input
 * is copied into a block of its exact size so that ASan sees over-reads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modax/decode.h"
#include "modax/status.h"
#include "modax/validate.h"

#define RECV_MS 1764230400500LL
#define POINTS_CAP 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_topic(const uint8_t *data, size_t size)
{
    char topic[512];
    struct mdx_msg m;
    const char *why = NULL;
    size_t n = size < sizeof(topic) - 1 ? size : sizeof(topic) - 1;

    memcpy(topic, data, n);
    topic[n] = '\0';
    memset(&m, 0, sizeof(m));
    if (mdx_validate_topic(topic, &m, &why) == MDX_OK) {
        if (!mdx_valid_segment(m.tenant, strlen(m.tenant)) ||
            !mdx_valid_segment(m.device, strlen(m.device))) {
            abort();
        }
    } else if (why == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mdx_point v[POINTS_CAP];
    struct mdx_points pts = {v, 0, POINTS_CAP};
    struct mdx_event ev;
    struct mdx_msg m;
    const char *why = NULL;
    uint8_t *copy = malloc(size > 0 ? size : 1);
    size_t i;

    if (copy == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(copy, data, size);
    }
    memset(&m, 0, sizeof(m));
    if (mdx_validate_topic("modax/acme/press-0042/sensor_data", &m, &why) != MDX_OK) {
        abort();
    }
    m.payload = copy;
    m.len = size;
    m.recv_ms = RECV_MS;

    if (mdx_decode(&m, &pts, &why) == MDX_OK) {
        if (pts.n == 0 || pts.n > POINTS_CAP) {
            abort();
        }
        if (mdx_validate_points(&pts, RECV_MS, &why) == MDX_OK) {
            for (i = 0; i < pts.n; i++) {
                if (strlen(v[i].sensor) != v[i].sensor_len) {
                    abort();
                }
            }
        }
    } else if (why == NULL || pts.n != 0) {
        abort();
    }

    m.kind = MDX_MSG_SAFETY;
    why = NULL;
    if (mdx_decode_event(&m, &ev, &why) == MDX_OK) {
        if (strlen(ev.body) >= sizeof(ev.body)) {
            abort();
        }
    } else if (why == NULL) {
        abort();
    }
    m.kind = MDX_MSG_STATUS;
    why = NULL;
    if (mdx_decode_event(&m, &ev, &why) != MDX_OK && why == NULL) {
        abort();
    }

    fuzz_topic(data, size);
    free(copy);
    return 0;
}
