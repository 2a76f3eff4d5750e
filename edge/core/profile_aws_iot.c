/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profile_aws_iot.c - the "aws-iot" profile: AWS IoT Core. TLS 1.2 with
 * the device certificate (no user name, no password), client id = thing
 * name = device id (the policy's ${iot:Connection.Thing.ThingName}), port 8883, or 443 with ALPN
 * x-amzn-mqtt-ca. The policy `modax policy render` makes grants publish
 * on modax/{tenant}/{thing}/{sensor_data,safety,status,command_ack} and
 * subscribe/receive on .../commands, but not iot:RetainPublish: retained
 * publishes (status, Last Will) go out unretained unless the link says
 * the policy was extended to grant it. Topics and commands as "mqtt".
 */
#include <stdio.h>

#include "profile.h"

static int aws_identity(const struct mdx_edge_link *l, const char *device, char *client_id,
                        size_t id_cap, char *user, size_t user_cap)
{
    int a = snprintf(client_id, id_cap, "%s", device);

    (void)l;
    if (user_cap == 0) {
        return -1;
    }
    user[0] = '\0'; /* the certificate says who it is */
    return a > 0 && (size_t)a < id_cap ? 0 : -1;
}

static int aws_may_retain(const struct mdx_edge_link *l)
{
    return l->retain_granted;
}

const struct mdx_edge_profile mdx_edge_profile_aws_iot = {
    .name = "aws-iot",
    .port = 8883,
    .alpn_port = 443,
    .alpn = "x-amzn-mqtt-ca",
    .needs_tls = 1,
    .tls12 = 1,
    .identity = aws_identity,
    .topic = mdx_edge_modax_topic,
    .may_retain = aws_may_retain,
    .subscription = mdx_edge_modax_subscription,
    .inbound = mdx_edge_modax_inbound,
};
