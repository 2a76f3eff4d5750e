/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_access.h - who may talk to MODAX: API keys (the REST API) and
 * broker credentials (devices and other broker identities). Secrets are
 * never stored, only their hashes.
 *
 * Included by store.h; see there for the handle and the rules every store
 * function follows (returns, callbacks, ownership).
 */
#ifndef MODAX_STORE_ACCESS_H
#define MODAX_STORE_ACCESS_H

#include <stdint.h>

#include "modax/msg.h"

struct mdx_store;

/* An API key. The secret is never stored, only its SHA-256. */
enum mdx_role { MDX_ROLE_VIEWER = 0, MDX_ROLE_OPERATOR, MDX_ROLE_ADMIN, MDX_ROLE_PLATFORM };
#define MDX_APIKEY_ID_LEN 16      /* hex characters of the public key id */
struct mdx_apikey {
    char id[MDX_APIKEY_ID_LEN + 1];
    char tenant[MDX_NAME_MAX + 1];  /* "" for a platform admin key (role MDX_ROLE_PLATFORM) */
    int role;                       /* enum mdx_role */
    uint8_t hash[32];               /* SHA-256 of the secret part */
    char label[MDX_NAME_MAX + 1];   /* free text for people, may be "" */
    int64_t created_ms;
    int64_t revoked_ms;             /* 0 while valid */
};

/*
 * A device's broker credentials. The broker knows a device by its id alone
 * (MQTT username = client id = device id), so a device id that has
 * credentials is unique across tenants.
 */
#define MDX_SECRET_HASH_MAX 192   /* an argon2id encoded hash, with NUL */
struct mdx_device_cred {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    char secret_hash[MDX_SECRET_HASH_MAX]; /* "$argon2id$v=19$m=...,t=...,p=...$salt$hash"; "" if none */
    char cert_fingerprint[65];    /* hex SHA-256 of the DER client certificate issued; "" if none */
    int64_t revoked_ms;           /* 0 while the device may connect */
    int64_t updated_ms;
    int legacy_topics;            /* the tenant's legacy-topics flag (store_catalog.h) */
};

/*
 * A broker identity that is not a device: the service (`modax serve`: all
 * tenants' telemetry in, commands and alerts out) or an operator/HMI of
 * one tenant (its alerts and status only). Identity names and device ids
 * share the broker's username space: neither may take a name the other
 * has.
 */
enum mdx_identity_kind { MDX_IDENTITY_SERVICE = 1, MDX_IDENTITY_OPERATOR = 2 };
struct mdx_broker_identity {
    char name[MDX_NAME_MAX + 1];
    int kind;                     /* enum mdx_identity_kind */
    char tenant[MDX_NAME_MAX + 1]; /* operator's tenant; "" for the service */
    char secret_hash[MDX_SECRET_HASH_MAX];
    int64_t created_ms;
    int64_t revoked_ms;           /* 0 while valid */
};

/* A key or an identity; borrowed for the call only: copy what you keep. */
typedef int (*mdx_apikey_fn)(void *arg, const struct mdx_apikey *key);
typedef int (*mdx_identity_fn)(void *arg, const struct mdx_broker_identity *id);

/*
 * MDX_OK; MDX_EEXIST for a taken id; MDX_ENOTFOUND for an unknown tenant
 * (tenant "" = platform key).
 */
int mdx_store_apikey_add(struct mdx_store *st, const struct mdx_apikey *key);
/* The key with this id, revoked or not, into *out: MDX_OK, or MDX_ENOTFOUND if none. */
int mdx_store_apikey_get(struct mdx_store *st, const char *id, struct mdx_apikey *out);
/*
 * Calls fn for the keys of 'tenant' ("" = platform keys, NULL = all),
 * oldest first. MDX_OK, fn's stop value, or an error.
 */
int mdx_store_apikey_list(struct mdx_store *st, const char *tenant, mdx_apikey_fn fn, void *arg);
/* Marks a key revoked at now_ms: MDX_OK; MDX_ENOTFOUND if none, MDX_EEXIST if revoked already. */
int mdx_store_apikey_revoke(struct mdx_store *st, const char *id, int64_t now_ms);

/*
 * Sets a device's broker credentials (NULL keeps the stored value, "" clears
 * it) and clears a revocation. MDX_OK; MDX_ENOTFOUND for an unknown device;
 * MDX_EEXIST if another tenant's device with the same id, or a broker
 * identity of that name, exists; MDX_EINVAL for values of the wrong form.
 */
int mdx_store_device_cred_set(struct mdx_store *st, const char *tenant, const char *device,
                              const char *secret_hash, const char *cert_fingerprint,
                              int64_t now_ms);
/*
 * The credentials of device id 'device' (any tenant) into *out: MDX_OK, or
 * MDX_ENOTFOUND if it has none.
 */
int mdx_store_device_cred_get(struct mdx_store *st, const char *device,
                              struct mdx_device_cred *out);
/* Revokes a device's broker access at now_ms: MDX_OK; MDX_ENOTFOUND for an unknown device. */
int mdx_store_device_revoke(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t now_ms);
/*
 * MDX_OK; MDX_EEXIST if the name is taken (by an identity or a device id);
 * MDX_ENOTFOUND for an unknown tenant; MDX_EINVAL for a bad identity.
 */
int mdx_store_identity_add(struct mdx_store *st, const struct mdx_broker_identity *id);
/* The identity 'name' into *out: MDX_OK, or MDX_ENOTFOUND if none. */
int mdx_store_identity_get(struct mdx_store *st, const char *name,
                           struct mdx_broker_identity *out);
/* Calls fn for each identity, by name. MDX_OK, fn's stop value, or an error. */
int mdx_store_identity_list(struct mdx_store *st, mdx_identity_fn fn, void *arg);
/* MDX_OK; MDX_ENOTFOUND if none, MDX_EEXIST if revoked already. */
int mdx_store_identity_revoke(struct mdx_store *st, const char *name, int64_t now_ms);

/* What a back end implements for access. 'impl' is its own handle. */
struct mdx_store_access_ops {
    int (*apikey_add)(void *impl, const struct mdx_apikey *key);
    int (*apikey_get)(void *impl, const char *id, struct mdx_apikey *out);
    int (*apikey_list)(void *impl, const char *tenant, mdx_apikey_fn fn, void *arg);
    /* Revokes a valid key (id and now_ms checked by store.c): MDX_ENOTFOUND if none changed. */
    int (*apikey_revoke)(void *impl, const char *id, int64_t now_ms);
    int (*device_cred_set)(void *impl, const char *tenant, const char *device,
                           const char *secret_hash, const char *cert_fingerprint, int64_t now_ms);
    int (*device_cred_get)(void *impl, const char *device, struct mdx_device_cred *out);
    int (*device_revoke)(void *impl, const char *tenant, const char *device, int64_t now_ms);
    int (*identity_add)(void *impl, const struct mdx_broker_identity *id);
    int (*identity_get)(void *impl, const char *name, struct mdx_broker_identity *out);
    int (*identity_list)(void *impl, mdx_identity_fn fn, void *arg);
    /* Like apikey_revoke, for a valid identity. */
    int (*identity_revoke)(void *impl, const char *name, int64_t now_ms);
};

#endif
