/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_mock.h - librdkafka's built-in mock cluster for tests: real
 * brokers on loopback ports (consumer groups included) owned by the test
 * process, and a producer of records with headers and keys.
 */
#ifndef MODAX_TEST_KAFKA_MOCK_H
#define MODAX_TEST_KAFKA_MOCK_H

#include <stddef.h>

struct kmock;

/* Starts a cluster of 'brokers' brokers; NULL on failure. */
struct kmock *kmock_start(int brokers);
/* host:port,... of its brokers, for kafka.brokers (owned by k). */
const char *kmock_bootstraps(const struct kmock *k);
/* Creates 'topic' with 'partitions' partitions. 0 on success. */
int kmock_topic(struct kmock *k, const char *topic, int partitions);
/*
 * Queues one record: partition chosen from the key when partition < 0;
 * 'hdrs' is NULL or name, value, name, value, ..., NULL. 0 on success.
 */
int kmock_produce(struct kmock *k, const char *topic, int partition, const char *key,
                  const char *const *hdrs, const void *payload, size_t len);
/* Waits until everything queued is acknowledged. 0 on success. */
int kmock_flush(struct kmock *k, int timeout_ms);
/* Takes broker 'id' (1..brokers) down or back up. */
void kmock_broker_down(struct kmock *k, int id, int down);
void kmock_stop(struct kmock *k);

#endif
