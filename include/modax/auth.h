/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.h - configuration of broker authentication (issue 6): the argon2id
 * cost of new secrets, the folder of the device CA, and the broker address
 * that provisioning tells devices to connect to.
 */
#ifndef MODAX_AUTH_H
#define MODAX_AUTH_H

#include <stdint.h>

#include "modax/conf.h"
#include "modax/secret.h"

struct mdx_auth_conf {
    int64_t argon2_t_cost;        /* iterations */
    int64_t argon2_m_cost_kib;    /* memory, KiB */
    int64_t argon2_parallelism;   /* lanes */
    char *ca_dir;                 /* ca.key, ca.crt and the broker's server certificate */
    char *broker_host;            /* what devices connect to */
    int64_t broker_port;          /* plain listener (user name and secret) */
    int64_t broker_tls_port;      /* TLS listener with client certificates */
};

extern const struct mdx_conf_key mdx_auth_conf_keys[];

/* The argon2id cost of 'c'. */
struct mdx_argon2_cost mdx_auth_cost(const struct mdx_auth_conf *c);

#endif
