/* SPDX-License-Identifier: Apache-2.0 */
/*
 * support_pub.c - a QoS 1 test publisher on a persistent session.
 *
 * libmosquitto resends unacknowledged messages after a reconnect, so a
 * broker restart in the middle of a stream loses nothing on this side.
 * The window bounds unacknowledged messages.
 */
#include <mosquitto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"
#include "modax/clock.h"

#define WINDOW 500

struct pub {
    struct mosquitto *mosq;
    pthread_mutex_t lock;
    uint64_t sent, acked;
};

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct pub *p = obj;

    (void)mosq;
    (void)mid;
    pthread_mutex_lock(&p->lock);
    p->acked++;
    pthread_mutex_unlock(&p->lock);
}

struct pub *pub_connect(int port, const char *client_id)
{
    struct pub *p = calloc(1, sizeof(*p));

    mosquitto_lib_init();
    pthread_mutex_init(&p->lock, NULL);
    p->mosq = mosquitto_new(client_id, false, p);
    mosquitto_publish_callback_set(p->mosq, on_publish);
    mosquitto_max_inflight_messages_set(p->mosq, 100);
    mosquitto_reconnect_delay_set(p->mosq, 1, 2, false);
    if (mosquitto_connect(p->mosq, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(p->mosq) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(p->mosq);
        free(p);
        return NULL;
    }
    return p;
}

int pub_send(struct pub *p, const char *topic, const void *payload, size_t len)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        uint64_t open = p->sent - p->acked;
        pthread_mutex_unlock(&p->lock);
        if (open < WINDOW) {
            break;
        }
        mdx_sleep_ms(1);
    }
    pthread_mutex_lock(&p->lock);
    p->sent++;
    pthread_mutex_unlock(&p->lock);
    return mosquitto_publish(p->mosq, NULL, topic, (int)len, payload, 1, false) ==
                   MOSQ_ERR_SUCCESS
               ? 0
               : -1;
}

uint64_t pub_acked(struct pub *p)
{
    uint64_t n;

    pthread_mutex_lock(&p->lock);
    n = p->acked;
    pthread_mutex_unlock(&p->lock);
    return n;
}

int pub_wait_acked(struct pub *p, int timeout_ms)
{
    int64_t deadline = mdx_mono_us() + (int64_t)timeout_ms * 1000;

    while (mdx_mono_us() < deadline) {
        pthread_mutex_lock(&p->lock);
        int done = p->acked >= p->sent;
        pthread_mutex_unlock(&p->lock);
        if (done) {
            return 0;
        }
        mdx_sleep_ms(10);
    }
    return -1;
}

void pub_close(struct pub *p)
{
    if (p == NULL) {
        return;
    }
    mosquitto_disconnect(p->mosq);
    mosquitto_loop_stop(p->mosq, false);
    mosquitto_destroy(p->mosq);
    pthread_mutex_destroy(&p->lock);
    free(p);
    mosquitto_lib_cleanup();
}
