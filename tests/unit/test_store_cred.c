/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_cred.c - the broker credentials of issue 6 through the store
 * interface, run against SQLite (a fresh temp file per case) and against
 * PostgreSQL 15 (a fresh database per case in a throwaway cluster started
 * by the test; a missing PostgreSQL fails it): a device's secret hash and
 * certificate fingerprint (set, keep, clear, revoke, lifted by a new set),
 * a device id with credentials unique across tenants, identity names and
 * device ids kept apart, identities of both kinds, and a deleted device's
 * credentials gone; a tenant's legacy-topics flag (issue 14 item 6), off by
 * default, read with a device's credentials.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store_util.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define T0 1760000000000LL
#define HASH_A "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
#define HASH_B "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0b3RoZXJzYQ$b3RoZXJoYXNob3RoZXJoYXNob3RoZXJoYXNob3RoZXI"
#define FP_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define FP_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

/* A fresh store with the tenants and devices the cases use. */
static struct mdx_store *open_fresh(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);

    if (st != NULL) {
        add_tenant_device(st, "acme", "press-1");
        add_tenant_device(st, "acme", "press-2");
        add_tenant_device(st, "globex", "press-1");
        add_tenant_device(st, "globex", "mill-9");
    }
    return st;
}

static struct mdx_broker_identity identity(const char *name, int kind, const char *tenant)
{
    struct mdx_broker_identity id;

    memset(&id, 0, sizeof(id));
    snprintf(id.name, sizeof(id.name), "%s", name);
    id.kind = kind;
    snprintf(id.tenant, sizeof(id.tenant), "%s", tenant);
    snprintf(id.secret_hash, sizeof(id.secret_hash), "%s", HASH_A);
    id.created_ms = T0;
    return id;
}

struct names {
    char name[8][MDX_NAME_MAX + 1];
    int kind[8];
    int64_t revoked[8];
    int n;
};

static int collect_identity(void *arg, const struct mdx_broker_identity *id)
{
    struct names *l = arg;

    if (l->n < 8) {
        snprintf(l->name[l->n], sizeof(l->name[0]), "%s", id->name);
        l->kind[l->n] = id->kind;
        l->revoked[l->n] = id->revoked_ms;
    }
    l->n++;
    return MDX_OK;
}

/* ---- cases ---- */

static void sets_keeps_and_clears_device_credentials(const struct store_backend *be)
{
    struct mdx_store *st = open_fresh(be);
    struct mdx_device_cred c;

    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", HASH_A, NULL, T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_STR(c.tenant, "acme");
    CHECK_STR(c.device, "press-1");
    CHECK_STR(c.secret_hash, HASH_A);
    CHECK_STR(c.cert_fingerprint, "");
    CHECK_EQ_INT(c.revoked_ms, 0);
    CHECK_EQ_INT(c.updated_ms, T0);

    /* NULL keeps, a value replaces, "" clears. */
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", NULL, FP_A, T0 + 1), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_STR(c.secret_hash, HASH_A);
    CHECK_STR(c.cert_fingerprint, FP_A);
    CHECK_EQ_INT(c.updated_ms, T0 + 1);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", HASH_B, "", T0 + 2), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_STR(c.secret_hash, HASH_B);
    CHECK_STR(c.cert_fingerprint, "");

    /* Bad values, unknown devices and tenants. */
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", "plain-text", NULL, T0),
                 MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", "$argon2i$v=19$m=8,t=1,p=1$x$y",
                                           NULL, T0),
                 MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", NULL, "ABCD", T0), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", NULL,
                                           "00112233445566778899AABBCCDDEEFF00112233445566778899"
                                           "aabbccddeeff",
                                           T0),
                 MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "nope", HASH_A, NULL, T0), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "initech", "press-1", HASH_A, NULL, T0),
                 MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "bad/name", HASH_A, NULL, T0),
                 MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "bad/name", &c), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_STR(c.secret_hash, HASH_B); /* the refused calls changed nothing */
    store_close_fresh(st);
}

static void a_device_id_with_credentials_is_unique_across_tenants(const struct store_backend *be)
{
    struct mdx_store *st = open_fresh(be);
    struct mdx_device_cred c;

    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", HASH_A, NULL, T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "globex", "press-1", HASH_B, NULL, T0),
                 MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "globex", "press-1", NULL, FP_B, T0), MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_STR(c.tenant, "acme");
    CHECK_STR(c.secret_hash, HASH_A);
    /* Another id of the other tenant is fine. */
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "globex", "mill-9", NULL, FP_B, T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "mill-9", &c), MDX_OK);
    CHECK_STR(c.tenant, "globex");
    CHECK_STR(c.cert_fingerprint, FP_B);
    CHECK_STR(c.secret_hash, "");

    /* Once acme's device is deleted, its id (and credentials) are free again. */
    CHECK_EQ_INT(mdx_store_device_delete(st, "acme", "press-1"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "globex", "press-1", HASH_B, NULL, T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_STR(c.tenant, "globex");
    CHECK_STR(c.secret_hash, HASH_B);
    store_close_fresh(st);
}

static void revokes_a_device_and_a_new_credential_lifts_it(const struct store_backend *be)
{
    struct mdx_store *st = open_fresh(be);
    struct mdx_device_cred c;

    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", HASH_A, FP_A, T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_revoke(st, "acme", "press-1", T0 + 10), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_EQ_INT(c.revoked_ms, T0 + 10);
    CHECK_EQ_INT(c.updated_ms, T0 + 10);
    CHECK_STR(c.secret_hash, HASH_A); /* kept: the record of what was revoked */
    /* Revoking again keeps the first time. */
    CHECK_EQ_INT(mdx_store_device_revoke(st, "acme", "press-1", T0 + 20), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_EQ_INT(c.revoked_ms, T0 + 10);
    CHECK_EQ_INT(mdx_store_device_revoke(st, "acme", "nope", T0), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_revoke(st, "globex", "press-2", T0), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_revoke(st, "acme", "press-1", 0), MDX_EINVAL);
    /* A device without credentials: nothing to revoke, nothing created. */
    CHECK_EQ_INT(mdx_store_device_revoke(st, "acme", "press-2", T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-2", &c), MDX_ENOTFOUND);
    /* New credentials lift the revocation. */
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", HASH_B, NULL, T0 + 30), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_EQ_INT(c.revoked_ms, 0);
    CHECK_STR(c.secret_hash, HASH_B);
    CHECK_STR(c.cert_fingerprint, FP_A);
    store_close_fresh(st);
}

static void deleting_a_device_deletes_its_credentials(const struct store_backend *be)
{
    struct mdx_store *st = open_fresh(be);
    struct mdx_device_cred c;

    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", HASH_A, FP_A, T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-2", HASH_B, NULL, T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_delete(st, "acme", "press-1"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-2", &c), MDX_OK);
    CHECK_STR(c.secret_hash, HASH_B);
    /* Registered again, it has no credentials until it is given some. */
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "press-1", 0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_ENOTFOUND);
    store_close_fresh(st);
}

static void adds_gets_lists_and_revokes_identities(const struct store_backend *be)
{
    struct mdx_store *st = open_fresh(be);
    struct mdx_broker_identity id, got;
    struct names l;

    if (st == NULL) {
        return;
    }
    id = identity("modax-svc", MDX_IDENTITY_SERVICE, "");
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_OK);
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_EEXIST);
    id = identity("hmi-1", MDX_IDENTITY_OPERATOR, "acme");
    id.created_ms = T0 + 5;
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_OK);
    CHECK_EQ_INT(mdx_store_identity_get(st, "hmi-1", &got), MDX_OK);
    CHECK_STR(got.name, "hmi-1");
    CHECK_EQ_INT(got.kind, MDX_IDENTITY_OPERATOR);
    CHECK_STR(got.tenant, "acme");
    CHECK_STR(got.secret_hash, HASH_A);
    CHECK_EQ_INT(got.created_ms, T0 + 5);
    CHECK_EQ_INT(got.revoked_ms, 0);
    CHECK_EQ_INT(mdx_store_identity_get(st, "modax-svc", &got), MDX_OK);
    CHECK_EQ_INT(got.kind, MDX_IDENTITY_SERVICE);
    CHECK_STR(got.tenant, "");
    CHECK_EQ_INT(mdx_store_identity_get(st, "nobody", &got), MDX_ENOTFOUND);

    /* Refused: unknown tenant, bad kind/tenant pairs, bad names and hashes. */
    id = identity("hmi-2", MDX_IDENTITY_OPERATOR, "initech");
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_ENOTFOUND);
    id = identity("hmi-2", MDX_IDENTITY_OPERATOR, "");
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_EINVAL);
    id = identity("svc-2", MDX_IDENTITY_SERVICE, "acme");
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_EINVAL);
    id = identity("svc-2", 7, "");
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_EINVAL);
    id = identity("bad name", MDX_IDENTITY_SERVICE, "");
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_EINVAL);
    id = identity("svc-2", MDX_IDENTITY_SERVICE, "");
    id.secret_hash[0] = '\0';
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_EINVAL);

    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_identity_list(st, collect_identity, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 2);
    CHECK_STR(l.name[0], "hmi-1");
    CHECK_STR(l.name[1], "modax-svc");

    CHECK_EQ_INT(mdx_store_identity_revoke(st, "hmi-1", T0 + 50), MDX_OK);
    CHECK_EQ_INT(mdx_store_identity_revoke(st, "hmi-1", T0 + 60), MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_identity_revoke(st, "nobody", T0), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_identity_revoke(st, "modax-svc", 0), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_identity_get(st, "hmi-1", &got), MDX_OK);
    CHECK_EQ_INT(got.revoked_ms, T0 + 50);
    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_identity_list(st, collect_identity, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 2);
    CHECK_EQ_INT(l.revoked[0], T0 + 50);
    CHECK_EQ_INT(l.revoked[1], 0);
    store_close_fresh(st);
}

static void identity_names_and_device_ids_stay_apart(const struct store_backend *be)
{
    struct mdx_store *st = open_fresh(be);
    struct mdx_broker_identity id, got;
    struct mdx_device_cred c;

    if (st == NULL) {
        return;
    }
    /* Any tenant's device id, with credentials or not, is taken for identities. */
    id = identity("mill-9", MDX_IDENTITY_SERVICE, "");
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_EEXIST);
    id = identity("press-2", MDX_IDENTITY_OPERATOR, "globex");
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_identity_get(st, "mill-9", &got), MDX_ENOTFOUND);

    /* An identity's name cannot get device credentials. */
    id = identity("gateway", MDX_IDENTITY_SERVICE, "");
    CHECK_EQ_INT(mdx_store_identity_add(st, &id), MDX_OK);
    add_tenant_device(st, "acme", "gateway");
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "gateway", HASH_A, NULL, T0), MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "gateway", &c), MDX_ENOTFOUND);
    store_close_fresh(st);
}

static void a_tenants_legacy_topics_flag_comes_with_its_devices_credentials(
    const struct store_backend *be)
{
    struct mdx_store *st = open_fresh(be);
    struct mdx_device_cred c;
    int on = -1;

    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "acme", "press-1", HASH_A, NULL, T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_set(st, "globex", "mill-9", HASH_B, NULL, T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_legacy_get(st, "acme", &on), MDX_OK);
    CHECK_EQ_INT(on, 0);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_EQ_INT(c.legacy_topics, 0);
    CHECK_EQ_INT(mdx_store_tenant_legacy_set(st, "acme", 1), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_legacy_set(st, "acme", 1), MDX_OK); /* again: no change, ok */
    CHECK_EQ_INT(mdx_store_tenant_legacy_get(st, "acme", &on), MDX_OK);
    CHECK_EQ_INT(on, 1);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_EQ_INT(c.legacy_topics, 1);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "mill-9", &c), MDX_OK); /* the other tenant */
    CHECK_EQ_INT(c.legacy_topics, 0);
    CHECK_EQ_INT(mdx_store_tenant_legacy_set(st, "acme", 0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_cred_get(st, "press-1", &c), MDX_OK);
    CHECK_EQ_INT(c.legacy_topics, 0);
    CHECK_EQ_INT(mdx_store_tenant_legacy_set(st, "nobody", 1), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_tenant_legacy_get(st, "nobody", &on), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_tenant_legacy_set(st, "bad/name", 1), MDX_ENOTFOUND);
    store_close_fresh(st);
}

STORE_ON_BOTH(sets_keeps_and_clears_device_credentials)
STORE_ON_BOTH(a_device_id_with_credentials_is_unique_across_tenants)
STORE_ON_BOTH(revokes_a_device_and_a_new_credential_lifts_it)
STORE_ON_BOTH(deleting_a_device_deletes_its_credentials)
STORE_ON_BOTH(adds_gets_lists_and_revokes_identities)
STORE_ON_BOTH(identity_names_and_device_ids_stay_apart)
STORE_ON_BOTH(a_tenants_legacy_topics_flag_comes_with_its_devices_credentials)

static const struct mdx_test tests[] = {
    STORE_CASE("store sets, keeps and clears device credentials",
               sets_keeps_and_clears_device_credentials),
    STORE_CASE("store keeps a device id with credentials unique across tenants",
               a_device_id_with_credentials_is_unique_across_tenants),
    STORE_CASE("store revokes a device; new credentials lift it",
               revokes_a_device_and_a_new_credential_lifts_it),
    STORE_CASE("store deletes a device's credentials with the device",
               deleting_a_device_deletes_its_credentials),
    STORE_CASE("store adds, gets, lists and revokes broker identities",
               adds_gets_lists_and_revokes_identities),
    STORE_CASE("store keeps identity names and device ids apart",
               identity_names_and_device_ids_stay_apart),
    STORE_CASE("issue 14: a tenant's legacy-topics flag comes with its devices' credentials",
               a_tenants_legacy_topics_flag_comes_with_its_devices_credentials),
    {NULL, NULL}};

int main(int argc, char **argv)
{
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    return mdx_test_run(tests, argc, argv);
}
