/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source.h - the source stage: where messages come from.
 *
 * Two kinds. A push source (MQTT) calls its deliver function once per
 * received message, from one thread, and must not acknowledge or forget a
 * message before deliver returned MDX_OK where its protocol allows it;
 * the engine makes each message durable in its spool first.
 *
 * A pull source (Kafka) keeps its own positions: the log it reads is
 * durable already, so there is no spool. The engine's writer thread takes
 * records with next() and stores, in each batch's transaction, the
 * positions the source reports (positions()); committed() then tells the
 * source the batch is durable. On restart or a new assignment the source
 * resumes from the positions in the store (host->position_get), so every
 * record is stored exactly once. See mdx_engine_create_pull().
 */
#ifndef MODAX_SOURCE_H
#define MODAX_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "modax/conf.h"
#include "modax/store_series.h"

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

/* A record a pull source hands the engine; everything borrowed (see next()). */
struct mdx_source_rec {
    int64_t recv_ms;
    /* modax/{tenant}/{device}/{kind}: the source maps its own addressing (record headers,
       key) onto the MQTT topic form, so validation and the registry apply unchanged. When
       the source could not map the record, 'refusal' says why and 'topic' names where the
       record came from (kafka/{topic}/{partition}/{offset}) for the dead letter. */
    const char *topic;
    const char *refusal;
    const uint8_t *payload;
    size_t len;
};

/* What a pull source may ask of the engine; called on the engine's writer thread only. */
struct mdx_pull_host {
    void *engine;
    /* The position the store has for 'owner' into *pos ({0,0}: none). MDX_OK or an error. */
    int (*position_get)(void *engine, const char *owner, struct mdx_spool_pos *pos);
    /*
     * Stores the records taken so far with their positions now, from inside next() (a
     * partition is about to be given up). MDX_OK, or MDX_ESTOPPED if the store stayed down
     * past the drain time.
     */
    int (*flush)(void *engine);
};

/* How far behind a pull source is (consumer lag), for metrics. */
struct mdx_source_stats {
    int64_t partitions;       /* assigned to this worker now */
    int64_t lag;              /* records behind the log's end over those, -1 if unknown */
    uint64_t rebalances;
};

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

    /* ---- pull sources only; NULL for push sources ---- */
    /* Called once by the engine before its writer starts; 'host' outlives the source. */
    void (*attach)(void *src, const struct mdx_pull_host *host);
    /*
     * The next record into *rec: MDX_OK; MDX_EAGAIN when none came within wait_ms (at once
     * when stopping); MDX_EFULL when the records held since the last commit reached the
     * source's bound (the engine commits first). A record stays valid until committed()
     * or rewind().
     */
    int (*next)(void *src, struct mdx_source_rec *rec, int wait_ms);
    /* The positions reached by the records taken since the last commit, into *out
       (owned by the source, valid until committed()); returns how many. */
    size_t (*positions)(void *src, const struct mdx_position **out);
    /* Those records and positions are stored: release them, tell the log (group commit). */
    void (*committed)(void *src);
    /* Those records were not stored: read again from the last stored positions. */
    void (*rewind)(void *src);
    void (*stats)(void *src, struct mdx_source_stats *out);
};

extern const struct mdx_source_ops mdx_source_mqtt;

/* ---- Kafka (source_kafka.c) ---- */

struct mdx_kafka_conf {
    char *brokers;            /* bootstrap.servers */
    char *topics;             /* comma-separated */
    char *group;              /* consumer group; workers of one group split the partitions */
    char *mapping;            /* preset: headers, aws-iot-rule-msk, azure-event-hubs */
    char *tenant_header;      /* record header naming the tenant */
    char *device_header;      /* record header naming the device */
    char *topic_header;       /* header with the MQTT topic modax/{tenant}/{device}/{kind} */
    int device_from_key;      /* the record key is the device id */
    char *topic_tenants;      /* "kafka-topic=tenant,...": the only tenant a topic may carry */
    char *kind;               /* message kind when no topic header says: sensor_data... */
    char *security_protocol;  /* plaintext, ssl, sasl_plaintext, sasl_ssl */
    char *sasl_mechanism;     /* PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 */
    char *sasl_username;
    char *sasl_password;      /* secret */
    char *ssl_ca_file;
    char *ssl_cert_file;
    char *ssl_key_file;
    int64_t session_timeout_ms;
    int64_t max_record_bytes; /* fetch.message.max.bytes */
    int64_t max_held_mb;      /* bytes of records held between two commits */
    int64_t max_held_records;
};

extern const struct mdx_conf_key mdx_kafka_conf_keys[];
extern const struct mdx_source_ops mdx_source_kafka;

/* ---- Google Pub/Sub (source_pubsub.c) ---- */

struct mdx_pubsub_conf {
    char *project;            /* Google Cloud project id */
    char *subscription;       /* subscription id (pull) in that project */
    char *endpoint;           /* https://pubsub.googleapis.com; $PUBSUB_EMULATOR_HOST wins */
    int64_t max_messages;     /* per pull request */
    int64_t ack_deadline_s;   /* to which held messages' deadlines are extended */
    int64_t max_held_mb;      /* message bytes held between two store commits */
    int64_t max_held_messages;
    int64_t dedup_window;     /* committed message ids remembered against redelivery */
    char *credentials;        /* auto, none, service_account, token_file, metadata */
    char *key_file;           /* service-account key (JSON); "": $GOOGLE_APPLICATION_CREDENTIALS */
    char *token_file;         /* an OAuth 2.0 access token, re-read before it may expire */
    char *metadata_host;      /* GKE/GCE metadata server; $GCE_METADATA_HOST wins */
    char *tenant_attribute;   /* message attribute naming the tenant */
    char *device_attribute;   /* message attribute naming the device */
    char *topic_attribute;    /* attribute with modax/{tenant}/{device}/{kind}; "" = none */
    char *tenant;             /* the only tenant this subscription may carry; "" = any */
    char *kind;               /* message kind when no topic attribute says */
    int64_t timeout_ms;       /* one HTTP request */
};

extern const struct mdx_conf_key mdx_pubsub_conf_keys[];
extern const struct mdx_source_ops mdx_source_pubsub;

#endif
