/* SPDX-License-Identifier: Apache-2.0 */
/*
 * deliver_mqtt.c - the mqtt command path: the command is published at QoS 1
 * on modax/{tenant}/{device}/commands over the API's MQTT link (Mosquitto,
 * or AWS IoT Core over TLS); the device answers on .../command_ack, which
 * the ingest turns into the command's new state.
 */
#include <stdio.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/command.h"
#include "modax/command_path.h"
#include "modax/status.h"

struct deliver_mqtt {
    mdx_command_publish_fn publish;   /* borrowed */
    void *publish_arg;
};

static void *mqtt_create(const struct mdx_command_conf *conf, mdx_command_publish_fn publish,
                         void *publish_arg, char *why, size_t whylen)
{
    struct deliver_mqtt *m;

    (void)conf;
    if (publish == NULL) {
        snprintf(why, whylen, "command path mqtt: this process has no MQTT link");
        return NULL;
    }
    m = mdx_calloc(1, sizeof(*m));
    if (m == NULL) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    m->publish = publish;
    m->publish_arg = publish_arg;
    return m;
}

static void mqtt_destroy(void *impl)
{
    mdx_free(impl);
}

static int mqtt_deliver(void *impl, const struct mdx_command *cmd, const char *payload, size_t len,
                        struct mdx_command_result *out)
{
    struct deliver_mqtt *m = impl;
    char topic[256];
    int rc;

    mdx_command_topic(cmd->tenant, cmd->device, topic, sizeof(topic));
    rc = m->publish(m->publish_arg, topic, payload, len);
    if (rc != MDX_OK) {
        out->state = MDX_COMMAND_FAILED;
        snprintf(out->detail, sizeof(out->detail), "not published: broker unavailable");
        return rc;
    }
    out->state = MDX_COMMAND_SENT;
    return MDX_OK;
}

const struct mdx_command_path_ops mdx_command_path_mqtt = {
    .name = "mqtt",
    .create = mqtt_create,
    .destroy = mqtt_destroy,
    .deliver = mqtt_deliver,
};
