/* SPDX-License-Identifier: Apache-2.0 */
/*
 * topic_render.c - the cloud documents rendered from the topic rules table
 * (topic_rules.c): one AWS IoT Core policy per role and the Azure IoT Hub
 * device setup. `modax policy render` prints them; cloud/ holds the
 * committed output, which a unit test renders again and compares.
 *
 * AWS IoT policies use IAM wildcards ('*' any characters, '/' included);
 * MQTT '+' and '#' are literal characters there. So a rule of scope ANY
 * becomes '*' in the resource, and explicit Deny statements refuse what '*'
 * would let through but the plugin refuses: extra levels and empty levels.
 */
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/topic_rules.h"

#define ARN "arn:aws:iot:REGION:ACCOUNT:"
#define V_THING "${iot:Connection.Thing.ThingName}"
#define V_TENANT "${iot:Connection.Thing.Attributes[tenant]}"
#define V_CN "${iot:Certificate.Subject.CommonName}"

/* Prints the resources of 'role' for 'access' as JSON array items; returns how many. */
static int resources(FILE *out, int role, unsigned access, const char *kind, int shared_form)
{
    size_t n;
    const struct mdx_topic_rule *r = mdx_topic_rules(&n);
    int count = 0;

    for (size_t i = 0; i < n; i++) {
        if (r[i].role != role || (r[i].access & access) == 0 || (shared_form && !r[i].shared)) {
            continue;
        }
        fprintf(out, "%s\n        \"" ARN "%s/%smodax/%s/%s/%s\"", count > 0 ? "," : "", kind,
                shared_form ? "$share/*/" : "",
                r[i].tenant_scope == MDX_SCOPE_SELF ? V_TENANT : "*",
                r[i].device_scope == MDX_SCOPE_SELF ? V_THING : "*", r[i].leaf);
        count++;
    }
    return count;
}

static int role_has(int role, unsigned access)
{
    size_t n;
    const struct mdx_topic_rule *r = mdx_topic_rules(&n);

    for (size_t i = 0; i < n; i++) {
        if (r[i].role == role && (r[i].access & access) != 0) {
            return 1;
        }
    }
    return 0;
}

static int role_has_any_scope(int role, int *shared)
{
    size_t n;
    const struct mdx_topic_rule *r = mdx_topic_rules(&n);
    int any = 0;

    *shared = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].role == role) {
            any |= r[i].tenant_scope == MDX_SCOPE_ANY || r[i].device_scope == MDX_SCOPE_ANY;
            *shared |= r[i].shared;
        }
    }
    return any;
}

static void statement(FILE *out, int role, unsigned access, const char *action, const char *kind)
{
    fprintf(out, ",\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"%s\",\n"
                 "      \"Resource\": [", action);
    resources(out, role, access, kind, 0);
    if (access == MDX_ACCESS_SUBSCRIBE) {
        int shared;

        role_has_any_scope(role, &shared);
        if (shared) {
            fprintf(out, ",");
            resources(out, role, access, kind, 1);
        }
    }
    fprintf(out, "\n      ]\n    }");
}

int mdx_topic_render_aws(int role, FILE *out)
{
    int shared;

    if (mdx_topic_role_name(role) == NULL) {
        return MDX_EINVAL;
    }
    fprintf(out, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n"
                 "      \"Effect\": \"Allow\",\n      \"Action\": \"iot:Connect\",\n");
    if (role == MDX_TOPIC_SERVICE) {
        /* The service connects with several client ids (ingest, API link):
         * its certificate's CN, alone or followed by "-...". */
        fprintf(out, "      \"Resource\": [\n        \"" ARN "client/" V_CN "\",\n"
                     "        \"" ARN "client/" V_CN "-*\"\n      ]\n    }");
    } else {
        /* Thing variables hold only when the client id is the thing name. */
        fprintf(out, "      \"Resource\": \"" ARN "client/" V_THING "\",\n"
                     "      \"Condition\": {\n        \"Bool\": {\n"
                     "          \"iot:Connection.Thing.IsAttached\": \"true\"\n        }\n"
                     "      }\n    }");
    }
    if (role_has(role, MDX_ACCESS_PUBLISH)) {
        statement(out, role, MDX_ACCESS_PUBLISH, "iot:Publish", "topic");
    }
    if (role_has(role, MDX_ACCESS_SUBSCRIBE)) {
        statement(out, role, MDX_ACCESS_SUBSCRIBE, "iot:Subscribe", "topicfilter");
    }
    if (role_has(role, MDX_ACCESS_RECEIVE)) {
        statement(out, role, MDX_ACCESS_RECEIVE, "iot:Receive", "topic");
    }
    if (role_has_any_scope(role, &shared)) {
        /* '*' also matches "a/b" and "": refuse extra and empty levels. */
        fprintf(out, ",\n    {\n      \"Effect\": \"Deny\",\n"
                     "      \"Action\": [\n        \"iot:Publish\",\n        \"iot:Receive\"\n"
                     "      ],\n      \"Resource\": [\n"
                     "        \"" ARN "topic/modax/*/*/*/*\",\n"
                     "        \"" ARN "topic/*//*\"\n      ]\n    },\n"
                     "    {\n      \"Effect\": \"Deny\",\n      \"Action\": \"iot:Subscribe\",\n"
                     "      \"Resource\": [\n"
                     "        \"" ARN "topicfilter/modax/*/*/*/*\",\n");
        if (shared) {
            fprintf(out, "        \"" ARN "topicfilter/$share/*/*/*/*/*/*\",\n");
        }
        fprintf(out, "        \"" ARN "topicfilter/*//*\"\n      ]\n    }");
    }
    fprintf(out, "\n  ]\n}\n");
    return ferror(out) ? MDX_EIO : MDX_OK;
}

static const char *access_text(unsigned access)
{
    switch (access) {
    case MDX_ACCESS_PUBLISH:
        return "publish";
    case MDX_ACCESS_SUBSCRIBE | MDX_ACCESS_RECEIVE:
        return "subscribe, receive";
    case MDX_ACCESS_PUBLISH | MDX_ACCESS_SUBSCRIBE | MDX_ACCESS_RECEIVE:
        return "publish, subscribe, receive";
    default:
        return "?";
    }
}

static void topic_text(char *buf, size_t len, const struct mdx_topic_rule *r)
{
    snprintf(buf, len, "modax/%s/%s/%s",
             r->tenant_scope == MDX_SCOPE_SELF ? "{tenant}" : "+",
             r->device_scope == MDX_SCOPE_SELF ? (r->role == MDX_TOPIC_DEVICE ? "{device}" : "{name}")
                                               : "+",
             r->leaf);
}

int mdx_topic_render_azure(FILE *out)
{
    size_t n;
    const struct mdx_topic_rule *r = mdx_topic_rules(&n);
    char t[128];

    fprintf(out,
            "# MODAX on Azure IoT Hub: device setup\n\n"
            "<!-- Generated by `modax policy render --azure` from src/auth/topic_rules.c;\n"
            "     do not edit: tests/unit/test_topic_rules.c compares this file with the table. -->\n\n"
            "IoT Hub is not a general MQTT broker: a device can only use the topics IoT Hub\n"
            "defines for it, under `devices/{deviceId}/`, and IoT Hub itself binds them to the\n"
            "authenticated device. The MODAX topic rules (the same table the Mosquitto plugin\n"
            "enforces) map onto them as below.\n\n"
            "## Device identity\n\n"
            "- IoT Hub device id = MODAX device id (`modax device add`).\n"
            "- Authentication: X.509 CA-signed (upload the MODAX CA from `modax ca init`; the\n"
            "  certificate subject CN must equal the device id) or a SAS token of the device key.\n"
            "- CONNECT: ClientId `{device}`; Username\n"
            "  `{hub}.azure-devices.net/{device}/?api-version=2021-04-12`; Password the SAS token\n"
            "  (none with X.509). Port 8883, TLS; MQTT 3.1.1.\n"
            "- The tenant is the device twin tag `tenant` (set by the operator when registering:\n"
            "  `az iot hub device-twin update --tags '{\"tenant\": \"T\"}'`).\n\n"
            "## Device topics\n\n"
            "| MODAX topic | Device may | IoT Hub topic | Application properties |\n"
            "|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        if (r[i].role != MDX_TOPIC_DEVICE) {
            continue;
        }
        topic_text(t, sizeof(t), &r[i]);
        if (r[i].access == MDX_ACCESS_PUBLISH) {
            fprintf(out,
                    "| `%s` | %s | `devices/{device}/messages/events/modax-tenant={tenant}"
                    "&modax-leaf=%s&$.ct=application%%2Fjson&$.ce=utf-8` | `modax-tenant`, "
                    "`modax-leaf=%s` |\n",
                    t, access_text(r[i].access), r[i].leaf, r[i].leaf);
        } else {
            fprintf(out,
                    "| `%s` | %s | `devices/{device}/messages/devicebound/#` (cloud-to-device) | "
                    "`modax-leaf=%s`, set by the service |\n",
                    t, access_text(r[i].access), r[i].leaf);
        }
    }
    fprintf(out,
            "\nNothing else: IoT Hub refuses other topics, wildcard subscriptions other than the\n"
            "trailing `#` of `devicebound`, and another device's `devices/{id}/` prefix.\n\n"
            "## Message routing\n\n"
            "One route per telemetry leaf to the endpoint the service consumes (the built-in\n"
            "Event Hubs-compatible endpoint, or an Event Hubs namespace for Kafka):\n\n"
            "| Route | Routing query |\n|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        if (r[i].role == MDX_TOPIC_DEVICE && r[i].access == MDX_ACCESS_PUBLISH) {
            fprintf(out, "| `modax-%s` | `modax-leaf = '%s'` |\n", r[i].leaf, r[i].leaf);
        }
    }
    fprintf(out,
            "\nTenant isolation: IoT Hub guarantees only the device id (system property\n"
            "`iothub-connection-device-id`); `modax-tenant` is whatever the device wrote. The\n"
            "service therefore rebuilds the MODAX topic as\n"
            "`modax/{twin tag tenant}/{iothub-connection-device-id}/{modax-leaf}` and refuses\n"
            "(dead-letters) a message whose `modax-tenant` differs from the registered tenant.\n\n"
            "## Service and operators\n\n"
            "IoT Hub has no MQTT access for back ends; these rules map to IoT Hub's service side:\n\n"
            "| Role | MODAX topic | May | On IoT Hub |\n|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        if (r[i].role == MDX_TOPIC_DEVICE) {
            continue;
        }
        topic_text(t, sizeof(t), &r[i]);
        const char *how;
        if (r[i].role == MDX_TOPIC_SERVICE && (r[i].access & MDX_ACCESS_PUBLISH) != 0 &&
            strcmp(r[i].leaf, "commands") == 0) {
            how = "cloud-to-device message to `{device}` with property `modax-leaf=commands` "
                  "(shared access policy with *service connect*)";
        } else if (r[i].role == MDX_TOPIC_SERVICE && strcmp(r[i].leaf, "alerts") == 0) {
            how = "not sent through IoT Hub: the service keeps alerts and serves them (API, "
                  "live stream)";
        } else if (r[i].role == MDX_TOPIC_SERVICE) {
            how = "read from the routed endpoint (consumer group `modax`; shared access policy "
                  "with *service connect*)";
        } else {
            how = "no IoT Hub access: the service's API, with a key of the operator's tenant";
        }
        fprintf(out, "| %s | `%s` | %s | %s |\n", mdx_topic_role_name(r[i].role), t,
                access_text(r[i].access), how);
    }
    return ferror(out) ? MDX_EIO : MDX_OK;
}

const char *const mdx_topic_render_files[] = {
    "aws/iot-policy.json", "aws/iot-policy-service.json", "aws/iot-policy-operator.json",
    "azure/iot-hub-device.md", NULL,
};

int mdx_topic_render_file(const char *rel, FILE *out)
{
    if (strcmp(rel, "aws/iot-policy.json") == 0) {
        return mdx_topic_render_aws(MDX_TOPIC_DEVICE, out);
    }
    if (strcmp(rel, "aws/iot-policy-service.json") == 0) {
        return mdx_topic_render_aws(MDX_TOPIC_SERVICE, out);
    }
    if (strcmp(rel, "aws/iot-policy-operator.json") == 0) {
        return mdx_topic_render_aws(MDX_TOPIC_OPERATOR, out);
    }
    if (strcmp(rel, "azure/iot-hub-device.md") == 0) {
        return mdx_topic_render_azure(out);
    }
    return MDX_EINVAL;
}
