/* SPDX-License-Identifier: Apache-2.0 */
/*
 * port_stub.c - a do-nothing port and firmware entry point, only to
 * cross-compile and link edge/core for a microcontroller (rv32imc,
 * picolibc; see cross-build.sh) and measure it: every port.h function is
 * here, nothing talks to hardware. The memory a one-machine device needs
 * is static, sized as on an ESP32-C3: 10 readings per message, a small
 * RAM ring; the outbox region itself is the port's flash, not RAM.
 */
#include <stdint.h>
#include <string.h>

#include "agent.h"
#include "modax/status.h"

#define STUB_CHUNK 10
#define STUB_RING 16
#define STUB_OUTBOX_BYTES (64u * 1024u) /* a flash partition */

static struct mdx_edge_agent agent;
static struct mdx_edge_unit unit;
static struct mdx_edge_reading slots[STUB_RING];
static char buf[STUB_CHUNK * MDX_PAYLOAD_READING_MAX + 16 +
                STUB_CHUNK * sizeof(struct mdx_edge_reading) + 16];
static int64_t clock_ms;

static int64_t stub_now(void *ctx)
{
    (void)ctx;
    return clock_ms;
}

static int stub_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                        int retain)
{
    (void)ctx, (void)topic, (void)payload, (void)len, (void)qos, (void)retain;
    return MDX_OK;
}

static int stub_publish_tracked(void *ctx, uint32_t unit_idx, const char *topic,
                                const void *payload, size_t len, uint32_t *token)
{
    (void)unit_idx;
    *token = 1;
    return stub_publish(ctx, topic, payload, len, 1, 0);
}

static int stub_connected(void *ctx)
{
    (void)ctx;
    return 1;
}

static void stub_sleep(void *ctx, uint32_t ms)
{
    (void)ctx;
    clock_ms += ms;
}

static int stub_stop(void *ctx)
{
    (void)ctx;
    return clock_ms > 60000;
}

static void stub_log(void *ctx, int level, const char *line)
{
    (void)ctx, (void)level, (void)line;
}

static uint64_t stub_store_size(void *ctx)
{
    (void)ctx;
    return STUB_OUTBOX_BYTES;
}

static int stub_store_read(void *ctx, uint64_t off, void *out, size_t len)
{
    (void)ctx, (void)off;
    memset(out, 0, len); /* blank flash */
    return MDX_OK;
}

static int stub_store_write(void *ctx, uint64_t off, const void *in, size_t len)
{
    (void)ctx, (void)off, (void)in, (void)len;
    return MDX_OK;
}

static int stub_store_sync(void *ctx)
{
    (void)ctx;
    return MDX_OK;
}

static const struct mdx_edge_port port = {
    .now_ms = stub_now,
    .wall_ms = stub_now,
    .publish = stub_publish,
    .connected = stub_connected,
    .sleep_ms = stub_sleep,
    .stop_requested = stub_stop,
    .log = stub_log,
    .publish_tracked = stub_publish_tracked,
    .store_size = stub_store_size,
    .store_read = stub_store_read,
    .store_write = stub_store_write,
    .store_sync = stub_store_sync,
};

int main(void)
{
    static const char payload[] = "{\"command_id\":1,\"name\":\"speed_pct\",\"value\":50}";
    struct mdx_edge_conf conf;

    mdx_edge_conf_defaults(&conf);
    conf.machines = 1;
    conf.rate_hz = 10;
    conf.ring_cap = STUB_RING;
    conf.flush_chunk = STUB_CHUNK;
    conf.backfill_rate = 100;
    if (mdx_edge_agent_buf_size(&conf) > sizeof(buf) ||
        mdx_edge_agent_init(&agent, &conf, &port, &unit, slots, buf, sizeof(buf)) != MDX_OK) {
        return 1;
    }
    mdx_edge_agent_command(&agent, 0, "modax/demo/m-0001/commands", payload, sizeof(payload) - 1);
    mdx_edge_agent_run(&agent);
    mdx_edge_agent_acked(&agent, 0, 1);
    mdx_edge_agent_fini(&agent);
    return 0;
}
