/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_conf.c - the configuration keys of broker authentication (auth.h).
 * The argon2id defaults are OWASP's minimum for argon2id (19 MiB, 2
 * iterations, 1 lane).
 */
#include <stddef.h>

#include "modax/auth.h"

const struct mdx_conf_key mdx_auth_conf_keys[] = {
    MDX_CONF_INT("auth.argon2_t_cost", "2", 1, 64, struct mdx_auth_conf, argon2_t_cost,
                 "argon2id iterations of new device and identity secrets"),
    MDX_CONF_INT("auth.argon2_m_cost_kib", "19456", 128, 4194304, struct mdx_auth_conf,
                 argon2_m_cost_kib, "argon2id memory of new secrets (KiB)"),
    MDX_CONF_INT("auth.argon2_parallelism", "1", 1, 16, struct mdx_auth_conf,
                 argon2_parallelism, "argon2id lanes of new secrets"),
    MDX_CONF_STR("auth.ca_dir", "var/ca", struct mdx_auth_conf, ca_dir,
                 "Folder of the device CA (ca.key, ca.crt) made by 'modax ca init'"),
    MDX_CONF_STR("auth.broker_host", "127.0.0.1", struct mdx_auth_conf, broker_host,
                 "Broker host that 'modax device add' tells devices to connect to"),
    MDX_CONF_INT("auth.broker_port", "1883", 1, 65535, struct mdx_auth_conf, broker_port,
                 "Broker port for devices with a secret (user name = device id)"),
    MDX_CONF_INT("auth.broker_tls_port", "8883", 1, 65535, struct mdx_auth_conf,
                 broker_tls_port, "Broker TLS port for devices with a client certificate"),
    MDX_CONF_END,
};

struct mdx_argon2_cost mdx_auth_cost(const struct mdx_auth_conf *c)
{
    struct mdx_argon2_cost cost = {(uint32_t)c->argon2_t_cost, (uint32_t)c->argon2_m_cost_kib,
                                   (uint32_t)c->argon2_parallelism};

    return cost;
}
