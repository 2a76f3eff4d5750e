/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_auth.c - the cost of the broker plugin's two checks, in one line:
 * one argon2id password verification at the configured default cost
 * (auth.argon2_*), one topic-rules check (mdx_topic_check) for a device's
 * publish, and the whole of what the plugin's ACL_CHECK does per message
 * without the broker: the registry cache lookup (broker/auth_cache.c,
 * filled from a real SQLite store with a device added by `modax device
 * add --secret`) plus the topic rules.
 */
#include <stdio.h>
#include <string.h>

#include "auth_cache.h"
#include "bench_util.h"
#include "modax/conf.h"
#include "support/support.h"
#include "modax/secret.h"
#include "modax/status.h"
#include "modax/topic_rules.h"

/* µs of one cache lookup + topic check for a registered device; < 0 on failure. */
static double acl_with_cache_us(void)
{
    static struct mdx_store_conf store;
    const struct mdx_conf_section sec = {"store", mdx_store_conf_keys, &store};
    struct auth_cache_conf cc = {&store, 1000, 2000, 300000};
    const char *topic = "modax/acme/m-0001/sensor_data";
    const int n = 1000000;
    char dir[256], out[4096], err[256];
    struct auth_who w;
    int ok = 0;
    double t0, us = -1;

    tmp_make(dir, sizeof(dir), "bench-auth");
    modax_env(dir, 1883);
    if (modax_run(out, sizeof(out), "tenant", "add", "acme", NULL) != 0 ||
        modax_run(out, sizeof(out), "device", "add", "acme", "m-0001", "--secret", NULL) != 0 ||
        mdx_conf_load(&sec, 1, NULL, err, sizeof(err)) != MDX_OK ||
        auth_cache_start(&cc) != MDX_OK) {
        fprintf(stderr, "bench_auth: cannot set up the registry cache\n");
        tmp_remove(dir);
        return -1;
    }
    if (auth_cache_get("m-0001", &w) == MDX_OK && w.state == AUTH_DEVICE) {
        t0 = now_s();
        for (int i = 0; i < n; i++) {
            struct mdx_topic_who who;

            auth_cache_get("m-0001", &w);
            who = (struct mdx_topic_who){w.role, w.tenant, w.name};
            ok += mdx_topic_check(&who, MDX_ACCESS_PUBLISH, topic, strlen(topic)) ==
                  MDX_TOPIC_ALLOW;
        }
        us = ok == n ? (now_s() - t0) * 1e6 / n : -1;
    }
    auth_cache_stop();
    mdx_conf_fini(&sec);
    tmp_remove(dir);
    return us;
}

int main(void)
{
    struct mdx_argon2_cost cost = {2, 19456, 1}; /* auth.argon2_* defaults */
    char secret[MDX_SECRET_TEXT_MAX], hash[256];
    const struct mdx_topic_who dev = {MDX_TOPIC_DEVICE, "acme", "m-0001"};
    const char *topics[] = {"modax/acme/m-0001/sensor_data", "modax/acme/m-0002/sensor_data",
                            "modax/beta/m-0001/status", "modax/acme/m-0001/commands"};
    const int argon_n = 20, acl_n = 2000000;
    volatile int sink = 0;
    double t0, argon_us, acl_us;

    if (mdx_secret_generate(secret) != MDX_OK ||
        mdx_secret_hash(secret, &cost, hash, sizeof(hash)) != MDX_OK) {
        fprintf(stderr, "bench_auth: cannot make a secret\n");
        return 1;
    }
    t0 = now_s();
    for (int i = 0; i < argon_n; i++) {
        sink += mdx_secret_verify(hash, secret) == MDX_OK;
    }
    argon_us = (now_s() - t0) * 1e6 / argon_n;
    t0 = now_s();
    for (int i = 0; i < acl_n; i++) {
        const char *t = topics[i & 3];
        sink += mdx_topic_check(&dev, MDX_ACCESS_PUBLISH, t, strlen(t)) == MDX_TOPIC_ALLOW;
    }
    acl_us = (now_s() - t0) * 1e6 / acl_n;
    double cached_us = acl_with_cache_us();
    printf("auth: argon2id t=%u m=%uKiB p=%u verify_us=%.0f acl_check_us=%.3f "
           "acl_check_with_cache_us=%.3f (%d)\n",
           cost.t_cost, cost.m_cost_kib, cost.parallelism, argon_us, acl_us, cached_us, sink > 0);
    return cached_us > 0 ? 0 : 1;
}
