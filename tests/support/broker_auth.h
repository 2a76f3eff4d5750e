/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker_auth.h - Mosquitto with the project's auth plugin (modax_auth.so)
 * for integration tests: the settings of conf/mosquitto.conf, a plain
 * listener and optionally a TLS listener with client certificates, the
 * plugin reading the store named by the MODAX_STORE_* environment
 * (modax_env()), and its counters in DIR/plugin-stats.
 */
#ifndef MODAX_TEST_BROKER_AUTH_H
#define MODAX_TEST_BROKER_AUTH_H

#include "support/support.h"

struct broker_auth_opts {
    int tls_port;             /* 0: no TLS listener */
    const char *cafile;       /* TLS: the device CA */
    const char *certfile;     /* TLS: the broker's certificate and key */
    const char *keyfile;
};

/* Starts it on b->port (or a free port when port is 0). 0 on success. */
int broker_start_auth(struct broker *b, const char *dir, int port,
                      const struct broker_auth_opts *o);
/* A counter of the plugin's stats file (DIR/plugin-stats); -1 if absent. */
long long broker_auth_stat(const struct broker *b, const char *name);

/*
 * The path of the ASan runtime this test process runs with, "" without one.
 * A broker that loads the instrumented plugin then needs ASAN_OPTIONS with
 * verify_asan_link_order=0 (and no leak check: mosquitto is not ours).
 */
void asan_runtime(char *buf, size_t len);

#endif
