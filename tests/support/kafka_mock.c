/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_mock.c - librdkafka's mock cluster and a producer for tests; see
 * kafka_mock.h.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/kafka_mock.h"

struct kmock {
    rd_kafka_t *owner;        /* the instance the mock cluster lives in */
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_t *producer;
    char bootstraps[512];
};

struct kmock *kmock_start(int brokers)
{
    struct kmock *k = calloc(1, sizeof(*k));
    rd_kafka_conf_t *c;
    char err[512];

    if (k == NULL) {
        return NULL;
    }
    c = rd_kafka_conf_new();
    k->owner = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (k->owner == NULL) {
        fprintf(stderr, "kmock: %s\n", err);
        free(k);
        return NULL;
    }
    k->mc = rd_kafka_mock_cluster_new(k->owner, brokers);
    if (k->mc == NULL) {
        fprintf(stderr, "kmock: cannot create the mock cluster\n");
        kmock_stop(k);
        return NULL;
    }
    snprintf(k->bootstraps, sizeof(k->bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(k->mc));
    c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", k->bootstraps, err, sizeof(err)) != 0 ||
        rd_kafka_conf_set(c, "message.max.bytes", "16000000", err, sizeof(err)) != 0 ||
        rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err)) != 0 ||
        /* Requests caught by a broker outage (kmock_broker_down) are retried soon. */
        rd_kafka_conf_set(c, "socket.timeout.ms", "5000", err, sizeof(err)) != 0 ||
        rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof(err)) != 0) {
        fprintf(stderr, "kmock: %s\n", err);
        rd_kafka_conf_destroy(c);
        kmock_stop(k);
        return NULL;
    }
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (k->producer == NULL) {
        fprintf(stderr, "kmock: %s\n", err);
        kmock_stop(k);
        return NULL;
    }
    return k;
}

const char *kmock_bootstraps(const struct kmock *k)
{
    return k->bootstraps;
}

int kmock_topic(struct kmock *k, const char *topic, int partitions)
{
    return rd_kafka_mock_topic_create(k->mc, topic, partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR
               ? 0
               : -1;
}

int kmock_produce(struct kmock *k, const char *topic, int partition, const char *key,
                  const char *const *hdrs, const void *payload, size_t len)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    rd_kafka_resp_err_t err;
    size_t klen = key != NULL ? strlen(key) : 0;

    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL && hdrs[i + 1] != NULL; i += 2) {
        rd_kafka_header_add(h, hdrs[i], -1, hdrs[i + 1], -1);
    }
    for (;;) {
        err = rd_kafka_producev(
            k->producer, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
            RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            break;
        }
        rd_kafka_poll(k->producer, 10);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h); /* only kept by librdkafka on success */
        fprintf(stderr, "kmock: produce: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(k->producer, 0);
    return 0;
}

int kmock_flush(struct kmock *k, int timeout_ms)
{
    return rd_kafka_flush(k->producer, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

void kmock_broker_down(struct kmock *k, int id, int down)
{
    if (down) {
        rd_kafka_mock_broker_set_down(k->mc, id);
    } else {
        rd_kafka_mock_broker_set_up(k->mc, id);
    }
}

void kmock_stop(struct kmock *k)
{
    if (k == NULL) {
        return;
    }
    if (k->producer != NULL) {
        rd_kafka_flush(k->producer, 5000);
        rd_kafka_destroy(k->producer);
    }
    if (k->mc != NULL) {
        rd_kafka_mock_cluster_destroy(k->mc);
    }
    if (k->owner != NULL) {
        rd_kafka_destroy(k->owner);
    }
    free(k);
}
