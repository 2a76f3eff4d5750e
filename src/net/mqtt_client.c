/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqtt_client.c - protocol version, login and TLS of a libmosquitto
 * handle from mqtt.*, shared by the service's MQTT clients (mqtt_client.h).
 */
#include "modax/status.h"
#include "net/mqtt_client.h"

int mqtt_client_setup(struct mosquitto *mosq, const struct mdx_mqtt_conf *conf,
                      struct mqtt_tls **tls)
{
    int rc = MDX_OK;

    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         conf->protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    if (conf->username != NULL && conf->username[0] != '\0' &&
        mosquitto_username_pw_set(mosq, conf->username, conf->password) != MOSQ_ERR_SUCCESS) {
        return MDX_EINVAL;
    }
    if (conf->tls) {
        /* The same TLS for every client: certificate, CA, server name, ALPN. */
        *tls = mqtt_tls_create(conf, &rc);
        if (*tls == NULL) {
            return rc;
        }
        /* Our context as it is: libmosquitto's defaults would want its own CA settings. */
        if (mosquitto_int_option(mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0) != MOSQ_ERR_SUCCESS ||
            mosquitto_void_option(mosq, MOSQ_OPT_SSL_CTX, mqtt_tls_ctx(*tls)) !=
                MOSQ_ERR_SUCCESS) {
            return MDX_ECONF;
        }
    }
    return MDX_OK;
}
