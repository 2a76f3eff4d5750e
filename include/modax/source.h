/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source.h - the source stage: where messages come from (MQTT now, Kafka later).
 *
 * A source calls its deliver function once per received message, from one
 * thread, and must not acknowledge or forget a message before deliver
 * returned MDX_OK where its protocol allows it.
 */
#ifndef MODAX_SOURCE_H
#define MODAX_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "modax/conf.h"

typedef int (*mdx_deliver_fn)(void *arg, const char *topic, const void *payload, size_t len,
                              int64_t recv_ms);

struct mdx_mqtt_conf {
    char *host;
    int64_t port;
    char *client_id;          /* fixed, so the broker keeps the session while we are away */
    char *username;
    char *password;           /* secret */
    int64_t keepalive_s;
    int clean_session;
    char *shared_group;       /* "" = no shared subscription */
    int64_t protocol;         /* 4 = MQTT 3.1.1, 5 = MQTT 5 */
    int tls;                  /* TLS on the broker link (AWS IoT Core, a TLS listener) */
    char *tls_ca_file;        /* CAs the server's certificate must chain to; "" = the system's */
    char *tls_cert_file;      /* client certificate (chain), PEM; "" = none */
    char *tls_key_file;       /* its private key, PEM: a mounted secret file */
    char *tls_server_name;    /* name the server's certificate must carry; "" = host */
    char *tls_alpn;           /* ALPN protocol, e.g. x-amzn-mqtt-ca for IoT Core on 443 */
};

extern const struct mdx_conf_key mdx_mqtt_conf_keys[];

struct mdx_source_ops {
    const char *name;
    /* Creates the source; it calls deliver(arg, ...) per message once started. */
    void *(*create)(const void *conf, mdx_deliver_fn deliver, void *arg, int *err);
    int (*start)(void *src);
    /* Non-zero while connected and subscribed. */
    int (*ready)(void *src);
    /*
     * Publishes one message from any thread without blocking: MDX_OK once
     * queued, MDX_ECONN when not connected, MDX_EFULL when too many are in
     * flight; the caller counts and drops. NULL if the source cannot publish.
     */
    int (*publish)(void *src, const char *topic, const void *payload, size_t len, int qos,
                   int retain);
    /* Stops receiving; after it returns, deliver is not called again. */
    void (*stop)(void *src);
    void (*destroy)(void *src);
};

extern const struct mdx_source_ops mdx_source_mqtt;

#endif
