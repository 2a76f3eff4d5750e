/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqtt_client.h - what every MQTT client of the service (the ingest's
 * source, the API's link) sets on its libmosquitto handle from mqtt.*
 * before it connects: protocol version, login and TLS (mqtt_client.c).
 */
#ifndef MODAX_NET_MQTT_CLIENT_H
#define MODAX_NET_MQTT_CLIENT_H

#include <mosquitto.h>

#include "modax/source.h"
#include "net/mqtt_tls.h"

/*
 * Sets conf's protocol version (4 or 5) and, if mqtt.username is set, the
 * username and password on 'mosq'; with mqtt.tls, builds the TLS context
 * into *tls (owned by the caller, who destroys it with mqtt_tls_destroy
 * even when this fails) and hands it to 'mosq'. MDX_OK; MDX_EINVAL if the
 * login is refused; mqtt_tls_create's error; MDX_ECONF if libmosquitto
 * does not take the context.
 */
int mqtt_client_setup(struct mosquitto *mosq, const struct mdx_mqtt_conf *conf,
                      struct mqtt_tls **tls);

#endif
