/* SPDX-License-Identifier: Apache-2.0 */
/*
 * command_path.h - how an accepted command reaches its device, chosen per
 * tenant: "mqtt" (published on modax/{tenant}/{device}/commands over the
 * API's MQTT link; AWS IoT Core and Mosquitto), "azure" (an IoT Hub direct
 * method over the hub's service REST API, whose answer is the command's
 * acknowledgement) or "pubsub" (published to a Google Pub/Sub commands
 * topic with tenant and device in the attributes).
 *
 * Each path is one file (src/command/deliver_*.c) implementing struct
 * mdx_command_path_ops, listed in the one table of command_path.c.
 * Configuration: command.path is every tenant's path unless
 * command.tenant_paths names another ("acme=azure,globex=pubsub").
 */
#ifndef MODAX_COMMAND_PATH_H
#define MODAX_COMMAND_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "modax/conf.h"
#include "modax/store.h"

struct mdx_command_conf {
    char *path;                       /* the default path: mqtt, azure or pubsub */
    char *tenant_paths;               /* "tenant=path,..." overrides; "" none */
    char *azure_connection_string;    /* secret: HostName=..;SharedAccessKeyName=..;
                                         SharedAccessKey=.. */
    char *azure_endpoint;             /* "" = https://{HostName}; a stand-in's URL in tests */
    char *azure_ca_file;              /* "" = the system's CA bundle */
    int64_t azure_response_timeout_s; /* responseTimeoutInSeconds of each method call */
    int64_t azure_connect_timeout_s;  /* connectTimeoutInSeconds of each method call */
    int64_t azure_token_ttl_s;        /* lifetime of the SAS tokens made */
    char *pubsub_project;             /* Google Cloud project of the commands topic */
    char *pubsub_topic;               /* topic id */
    char *pubsub_endpoint;            /* REST endpoint; $PUBSUB_EMULATOR_HOST wins */
    char *pubsub_credentials;         /* auto, service_account, token_file, metadata (gcp_creds.h) */
    char *pubsub_key_file;            /* service-account key (JSON); "" none */
    char *pubsub_token_file;          /* OAuth 2.0 access token file; "" none */
    char *pubsub_metadata_host;       /* GKE/GCE metadata server; $GCE_METADATA_HOST wins */
    int64_t pubsub_timeout_ms;        /* one publish request */
};

extern const struct mdx_conf_key mdx_command_conf_keys[];

/* What a delivery came to: the command's new state and the reason for people. */
struct mdx_command_result {
    int state;                        /* enum mdx_command_state */
    char detail[128];
};

/* Publishes on the API's MQTT link (the mqtt path): MDX_OK once queued, else an error. */
typedef int (*mdx_command_publish_fn)(void *arg, const char *topic, const void *payload,
                                      size_t len);

/* One way to a device. 'impl' is the path's own handle; deliver() is called from many
 * threads at once. */
struct mdx_command_path_ops {
    const char *name;
    /* NULL with 'why' set (no secret in it) when the configuration does not allow the path. */
    void *(*create)(const struct mdx_command_conf *conf, mdx_command_publish_fn publish,
                    void *publish_arg, char *why, size_t whylen);
    void (*destroy)(void *impl);
    /*
     * Sends stored command 'cmd' (payload 'payload', 'len' bytes: mdx_command_payload()).
     * MDX_OK with out->state SENT (the device answers on command_ack), ACKED or REJECTED
     * (the path carried the device's answer back); else an error with out->state FAILED
     * and out->detail the reason: MDX_ENOTFOUND the device is not connected, MDX_EAGAIN
     * no answer in time, MDX_EINVAL an answer that is not one, MDX_EIO/MDX_EDENIED the
     * cloud refused or could not be reached.
     */
    int (*deliver)(void *impl, const struct mdx_command *cmd, const char *payload, size_t len,
                   struct mdx_command_result *out);
};

extern const struct mdx_command_path_ops mdx_command_path_mqtt;
extern const struct mdx_command_path_ops mdx_command_path_azure;
extern const struct mdx_command_path_ops mdx_command_path_pubsub;

struct mdx_command_paths;

/*
 * Checks command.path and command.tenant_paths and sets up every path they
 * name (only those); 'conf' NULL puts every tenant on mqtt. 'publish' is
 * the mqtt path's way out (borrowed). NULL
 * with the reason in 'why' (for people, no secret) on a configuration the
 * paths cannot work with, or out of memory.
 */
struct mdx_command_paths *mdx_command_paths_create(const struct mdx_command_conf *conf,
                                                   mdx_command_publish_fn publish,
                                                   void *publish_arg, char *why, size_t whylen);
void mdx_command_paths_destroy(struct mdx_command_paths *p);
/* The name of the path 'tenant''s commands take. */
const char *mdx_command_path_name(const struct mdx_command_paths *p, const char *tenant);
/* Delivers 'cmd' on its tenant's path; as mdx_command_path_ops.deliver (MDX_EINVAL, FAILED,
 * when no payload can be made). */
int mdx_command_deliver(struct mdx_command_paths *p, const struct mdx_command *cmd,
                        struct mdx_command_result *out);

/*
 * An IoT Hub SAS token, "SharedAccessSignature sr=..&sig=..&se=..&skn=..": the
 * HMAC-SHA256, keyed with the base64-decoded 'key_b64', of the url-encoded
 * 'resource' (upper-case %XX, case kept, as Microsoft's C SDK; sr is that
 * same text) + "\n" + 'expiry' (seconds since 1970); 'policy' "" leaves skn out. Into 'out' (wipe it after use). MDX_OK; MDX_EINVAL for a
 * key that is not base64; MDX_ERANGE when 'len' is too small.
 */
int mdx_iothub_sas_token(const char *resource, const char *key_b64, const char *policy,
                         int64_t expiry, char *out, size_t len);

#endif
