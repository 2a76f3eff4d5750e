/* SPDX-License-Identifier: Apache-2.0 */
/*
 * port.h - what the edge core needs from the platform it runs on.
 *
 * The core (sampling, store-and-forward, payloads, the agent loop) never
 * calls the OS: clocks, MQTT, sleeping and logging come through this
 * table. edge/port/posix implements it with libmosquitto for Linux
 * gateways and the fleet simulator (one connection for all machines, or
 * one per machine); an ESP-IDF port can implement the
 * same table. Tests implement it with a fake clock and a capture buffer.
 */
#ifndef MODAX_EDGE_PORT_H
#define MODAX_EDGE_PORT_H

#include <stddef.h>
#include <stdint.h>

enum mdx_edge_log_level {
    MDX_EDGE_LOG_ERROR = 0, /* an operator must act */
    MDX_EDGE_LOG_WARN = 1,  /* degraded but running */
    MDX_EDGE_LOG_INFO = 2,  /* lifecycle: start, connect, stop */
    MDX_EDGE_LOG_DEBUG = 3  /* per flush */
};

struct mdx_edge_port {
    void *ctx; /* passed back to every function; owned by the port */

    /* Monotonic milliseconds, for scheduling only. */
    int64_t (*now_ms)(void *ctx);

    /*
     * Wall-clock milliseconds since the Unix epoch, for timestamps. A
     * device without a real-time clock returns milliseconds since boot;
     * the ingest recognises and restamps those.
     */
    int64_t (*wall_ms)(void *ctx);

    /*
     * Hands one message to the transport. The port copies 'topic' and
     * 'payload' before it returns. Returns MDX_OK when the message is
     * queued, MDX_ECONN when not connected, MDX_EBUSY when the port's
     * own bounded queue is full (the core keeps the data and retries
     * later), or another negative MDX_E* code.
     */
    int (*publish)(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                   int retain);

    /* Non-zero while the broker session is up. */
    int (*connected)(void *ctx);

    /* Waits up to 'ms' (0: just a poll), servicing the network meanwhile. */
    void (*sleep_ms)(void *ctx, uint32_t ms);

    /* Non-zero once the platform wants the agent to stop (signal, fatal error). */
    int (*stop_requested)(void *ctx);

    /* One log line (no newline), at 'level'; the port filters and prints. */
    void (*log)(void *ctx, int level, const char *line);

    /*
     * Optional, both or neither: a port with one connection per machine
     * (each device its own broker identity). NULL: one connection carries
     * every machine and the functions above apply.
     *
     * unit_session: 0 while the connection of machine 'unit' (its index
     * in the agent) is down, else a non-zero number that changes at each
     * (re)connect, so the agent re-announces that machine.
     * unit_publish: publish() on that machine's connection.
     * connected() then means "at least one machine connected".
     */
    uint32_t (*unit_session)(void *ctx, uint32_t unit);
    int (*unit_publish)(void *ctx, uint32_t unit, const char *topic, const void *payload,
                        size_t len, int qos, int retain);

    /*
     * Optional: publishes QoS 1, not retained, on the connection of
     * machine 'unit' (or the only one) like unit_publish()/publish(), and
     * sets *token (non-zero) to a number the port hands back through
     * mdx_edge_agent_acked() once the broker acknowledged the message.
     * NULL: a message counts as delivered once the port took it.
     */
    int (*publish_tracked)(void *ctx, uint32_t unit, const char *topic, const void *payload,
                           size_t len, uint32_t *token);

    /*
     * Optional, all four or none: the persistent outbox (edge/core/outbox.h)
     * lives in a region of store_size() bytes that survives power cuts (a
     * file, a flash partition). Reads of never-written bytes return zeros.
     * store_write() may be torn by a power cut; store_sync() returns once
     * everything written before it is durable. Offsets and lengths are
     * inside the region. Each returns MDX_OK or MDX_EIO.
     */
    uint64_t (*store_size)(void *ctx);
    int (*store_read)(void *ctx, uint64_t off, void *buf, size_t len);
    int (*store_write)(void *ctx, uint64_t off, const void *buf, size_t len);
    int (*store_sync)(void *ctx);

    /*
     * Optional: HMAC-SHA256 of 'len' bytes of 'msg' under 'key_len' bytes
     * of 'key' into 'mac' (32 bytes), from the platform's crypto (OpenSSL
     * on POSIX, mbedTLS on ESP-IDF); the core hashes nothing itself. Needed
     * by profiles that sign (azure-iot-hub SAS tokens). MDX_OK or MDX_EIO.
     */
    int (*hmac_sha256)(void *ctx, const void *key, size_t key_len, const void *msg, size_t len,
                       uint8_t mac[32]);
};

#endif
