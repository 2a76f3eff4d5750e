/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqtt_tls.h - the TLS context of every MQTT client of the service, the
 * ingest's source and the API's link (mqtt_tls.c): CA file, client
 * certificate and key, server name check and ALPN, with the reason of a
 * refused handshake kept so it can be logged in plain words.
 */
#ifndef MODAX_NET_MQTT_TLS_H
#define MODAX_NET_MQTT_TLS_H

#include "modax/source.h"

struct mqtt_tls;

/*
 * Builds the TLS context for 'conf' (borrowed for the call): loads the CA
 * file (or the system's CAs), the client certificate and key, sets the
 * name the server's certificate must carry (mqtt.tls_server_name, else
 * mqtt.host) and ALPN. NULL with *err set and the reason logged when a
 * file is missing or does not load. An expired or not yet valid client
 * certificate is logged as an error here (the broker will refuse it).
 */
struct mqtt_tls *mqtt_tls_create(const struct mdx_mqtt_conf *conf, int *err);
/* The OpenSSL SSL_CTX for MOSQ_OPT_SSL_CTX; owned by 'tls'. */
void *mqtt_tls_ctx(struct mqtt_tls *tls);
/*
 * Why the last handshake failed, in words naming the config key to check,
 * or NULL if the server's certificate was accepted. Cleared on each read.
 * Safe from the network thread only.
 */
const char *mqtt_tls_take_refusal(struct mqtt_tls *tls, char *buf, size_t len);
void mqtt_tls_destroy(struct mqtt_tls *tls);

#endif
