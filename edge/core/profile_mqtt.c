/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profile_mqtt.c - the "mqtt" profile: our own broker (Mosquitto with the
 * MODAX auth plugin), plain or TLS, with a secret or a client certificate.
 * Client id = user name = device id; topics modax/{tenant}/{device}/...;
 * commands on modax/{tenant}/{device}/commands; retained status allowed.
 */
#include <stdio.h>
#include <string.h>

#include "profile.h"

static int mqtt_identity(const struct mdx_edge_link *l, const char *device, char *client_id,
                         size_t id_cap, char *user, size_t user_cap)
{
    int a = snprintf(client_id, id_cap, "%s", device);
    int b = snprintf(user, user_cap, "%s", device);

    (void)l;
    return a > 0 && (size_t)a < id_cap && b > 0 && (size_t)b < user_cap ? 0 : -1;
}

static int mqtt_may_retain(const struct mdx_edge_link *l)
{
    (void)l;
    return 1;
}

const struct mdx_edge_profile mdx_edge_profile_mqtt = {
    .name = "mqtt",
    .port = 1883,
    .identity = mqtt_identity,
    .topic = mdx_edge_modax_topic,
    .may_retain = mqtt_may_retain,
    .subscription = mdx_edge_modax_subscription,
    .inbound = mdx_edge_modax_inbound,
};
