/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profile.h - connection profiles: how a device meets one kind of broker.
 *
 * The agent decides what to say (readings, status, safety, answers); the
 * profile decides how it is addressed: the CONNECT fields (client id,
 * user name, password), the TLS needs (port, TLS 1.2, ALPN), the topic of
 * each message, whether retained publishes are allowed, what to subscribe
 * to, and what an incoming message is. One file per profile:
 *   profile_mqtt.c     "mqtt"           our own broker (plain or TLS)
 *   profile_aws_iot.c  "aws-iot"        AWS IoT Core, device certificate
 *   profile_azure.c    "azure-iot-hub"  Azure IoT Hub, SAS token or X.509
 * and one line in the table of profile.c. Profiles hold no state: what
 * varies per run is in struct mdx_edge_link, owned by the caller.
 */
#ifndef MODAX_EDGE_PROFILE_H
#define MODAX_EDGE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"

#define MDX_EDGE_USER_MAX 200     /* longest user name, with NUL */
#define MDX_EDGE_PASSWORD_MAX 256 /* longest password (a SAS token), with NUL */
#define MDX_EDGE_RID_MAX 64       /* longest direct-method request id, with NUL */
#define MDX_EDGE_METHOD_MAX 64    /* longest direct-method name, with NUL */
#define MDX_EDGE_SAS_TTL_S 3600   /* default SAS token lifetime */
#define MDX_EDGE_KEY_MAX 64       /* longest device key (decoded bytes) */

/* The settings of a run that profiles read. Strings borrowed. */
struct mdx_edge_link {
    const char *tenant;
    const char *form;     /* "cloud" or "field": the payload form, told to Azure as a property */
    const char *hub;      /* azure-iot-hub: the hub's name, without ".azure-devices.net" */
    int retain_granted;   /* aws-iot: the policy grants iot:RetainPublish */
    uint32_t sas_ttl_s;   /* azure-iot-hub: token lifetime; 0: MDX_EDGE_SAS_TTL_S */
};

/* What an incoming message is. */
enum mdx_edge_inbound_kind {
    MDX_EDGE_IN_NONE = 0, /* not for us */
    MDX_EDGE_IN_COMMAND,  /* a command, answered on the command_ack leaf */
    MDX_EDGE_IN_METHOD,   /* a direct method: answered on reply_topic() with its rid */
    MDX_EDGE_IN_C2D       /* a cloud-to-device message: handled as a command */
};

struct mdx_edge_inbound {
    enum mdx_edge_inbound_kind kind;
    const char *device; /* points into the topic; 'device_len' bytes */
    size_t device_len;
    char method[MDX_EDGE_METHOD_MAX]; /* MDX_EDGE_IN_METHOD: its name */
    char rid[MDX_EDGE_RID_MAX];       /* MDX_EDGE_IN_METHOD: "" when the topic had none */
};

struct mdx_edge_profile {
    const char *name;
    uint16_t port;      /* the usual port */
    uint16_t alpn_port; /* a port that needs 'alpn' (443), 0: none */
    const char *alpn;   /* ALPN protocol on 'alpn_port', NULL: none */
    uint8_t needs_tls;  /* plain TCP is refused by the service */
    uint8_t tls12;      /* at least TLS 1.2 */

    /* The client id and user name ("" = none) of 'device'. 0, or -1 when they do not fit. */
    int (*identity)(const struct mdx_edge_link *l, const char *device, char *client_id,
                    size_t id_cap, char *user, size_t user_cap);

    /*
     * The password made from the device 'key' (decoded bytes) at Unix
     * second 'now_s' into 'buf'; sets *renew_at_s to when a new one must be
     * made and the session reconnected. NULL: this profile's password is a
     * plain secret or none. Crypto goes through 'port'. Returns the length,
     * or MDX_EINVAL (no crypto in the port, bad settings) / MDX_EFULL.
     */
    int (*password)(const struct mdx_edge_link *l, const struct mdx_edge_port *port,
                    const char *device, const uint8_t *key, size_t key_len, int64_t now_s,
                    char *buf, size_t cap, int64_t *renew_at_s);

    /* The topic of the agent's message 'leaf' (sensor_data, status, ...) of 'device'. 0 or -1. */
    int (*topic)(const struct mdx_edge_link *l, const char *device, const char *leaf, char *buf,
                 size_t cap);

    /* Non-zero when retained publishes (status, Last Will) are allowed. */
    int (*may_retain)(const struct mdx_edge_link *l);

    /* The k-th topic filter 'device' subscribes to. 0, or -1 past the last. */
    int (*subscription)(const struct mdx_edge_link *l, const char *device, uint32_t k,
                        char *buf, size_t cap);

    /* Classifies a message received on 'topic' into *in. */
    void (*inbound)(const struct mdx_edge_link *l, const char *topic,
                    struct mdx_edge_inbound *in);

    /* Where the answer to direct method 'in' goes, with HTTP-like 'status'. 0 or -1. NULL: none. */
    int (*reply_topic)(const struct mdx_edge_inbound *in, int status, char *buf, size_t cap);
};

extern const struct mdx_edge_profile mdx_edge_profile_mqtt;
extern const struct mdx_edge_profile mdx_edge_profile_aws_iot;
extern const struct mdx_edge_profile mdx_edge_profile_azure;

/* The profile called 'name', or NULL. */
const struct mdx_edge_profile *mdx_edge_profile_find(const char *name);

/* The names of all profiles, "mqtt|aws-iot|..." into 'buf' (for usage text). */
void mdx_edge_profile_names(char *buf, size_t cap);

/*
 * Shared helpers for profiles.
 * mdx_edge_percent(): URL-encodes 's' into 'buf' (unreserved
 * A-Za-z0-9-._~ kept, the rest %XX upper case). Returns the length, or -1.
 * mdx_edge_base64(): standard base64 with padding. Returns the length, or -1.
 * mdx_edge_unbase64(): decodes standard base64 (padding required). Returns
 * the number of bytes, or -1 on a bad character, length or overflow.
 */
int mdx_edge_percent(const char *s, char *buf, size_t cap);
int mdx_edge_base64(const uint8_t *in, size_t n, char *buf, size_t cap);
int mdx_edge_unbase64(const char *s, uint8_t *out, size_t cap);

/*
 * The Azure IoT Hub SAS token of 'device' on hub 'hub' ("NAME", without
 * .azure-devices.net) valid until Unix second 'expiry', signed with the
 * decoded device key through port->hmac_sha256:
 *   SharedAccessSignature sr={enc uri}&sig={enc base64 mac}&se={expiry}
 * Returns its length, MDX_EINVAL (no crypto, bad arguments) or MDX_EFULL.
 */
int mdx_edge_sas_token(const struct mdx_edge_port *port, const char *hub, const char *device,
                       const uint8_t *key, size_t key_len, int64_t expiry, char *buf, size_t cap);

/* The modax/{tenant}/{device}/{leaf} topic, shared by mqtt and aws-iot. 0 or -1. */
int mdx_edge_modax_topic(const struct mdx_edge_link *l, const char *device, const char *leaf,
                         char *buf, size_t cap);

/* The k-th subscription of mqtt and aws-iot: k 0 is modax/{tenant}/{device}/commands. */
int mdx_edge_modax_subscription(const struct mdx_edge_link *l, const char *device, uint32_t k,
                                char *buf, size_t cap);

/* modax/{tenant}/{device}/commands is a command for 'device'; anything else is not for us. */
void mdx_edge_modax_inbound(const struct mdx_edge_link *l, const char *topic,
                            struct mdx_edge_inbound *in);

#endif
