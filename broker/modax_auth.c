/* SPDX-License-Identifier: Apache-2.0 */
/*
 * modax_auth.c - the Mosquitto 2.0 auth plugin (API v5, modax_auth.so):
 * authenticates every client against the MODAX registry and authorizes
 * every publish, subscribe and delivery with the topic rules
 * (topic_rules.h).
 *
 * - BASIC_AUTH: username = device id or identity name, password checked
 *   with argon2id against the stored hash; a device's client id must be
 *   its id, an identity's its name or "name-...". A verified (username,
 *   SHA-256 of password) is trusted for plugin_opt_verify_cache_s so that
 *   reconnects do not pay argon2 on the broker's thread. Wrong secrets are
 *   throttled per source address (addr_fail_limit per addr_fail_window_s)
 *   and per (username, source address) (fail_limit per fail_window_s),
 *   token buckets that refill at that rate (auth_throttle.h): a throttled
 *   attempt is refused without verification, but the right secret from
 *   any other address is always checked, so guessing a device's id from
 *   one place does not lock the device out.
 * - ACL_CHECK: the user must still be valid (cache), then the topic rules.
 *   With mTLS and use_identity_as_username BASIC_AUTH is not called, so a
 *   client with a certificate is checked here: a device, not revoked, the
 *   certificate's SHA-256 the one issued, client id = CN.
 * - Legacy topics (issue 14 item 6, legacy_topics.h), for a device whose
 *   tenant has them on: ACL_CHECK lets it publish on modax/sensor/data and
 *   modax/sensor/safety and subscribe to modax/control/commands. The
 *   broker checks the ACL before MOSQ_EVT_MESSAGE (handle_publish.c), so
 *   MESSAGE then rewrites such a publish to modax/{tenant}/{device}/
 *   sensor_data|safety from the device's identity: the topic stays the
 *   authority and the ingest still refuses a payload naming another device.
 *   Plugin API v5 has no event for outgoing messages, so a command
 *   published on modax/{tenant}/{device}/commands is also sent to that
 *   device alone (mosquitto_broker_publish_copy with its client id) on
 *   modax/control/commands, if it subscribed to it (recorded at SUBSCRIBE,
 *   forgotten at UNSUBSCRIBE and at the end of a clean session).
 * - TICK (dispatched only with per_listener_settings false: one instance):
 *   disconnects users the cache worker found revoked or deleted, writes
 *   the counters to plugin_opt_stats_file.
 *
 * Callbacks run on the broker's single thread: they read the cache; a miss
 * waits at most plugin_opt_lookup_timeout_ms for the worker (auth_cache.c),
 * which refreshes every entry each plugin_opt_refresh_ms.
 *
 * Options: plugin_opt_config (a modax config file: its store.* keys),
 * plugin_opt_store_<key with '_' for '.'> (e.g. store_sqlite_path),
 * refresh_ms (1000), lookup_timeout_ms (2000), verify_cache_s (300),
 * fail_limit (5), fail_window_s (10), addr_fail_limit (10),
 * addr_fail_window_s (10), stats_file. MODAX_STORE_* environment
 * variables apply as for `modax`.
 *
 * Memory: what the plugin keeps (options, the store config) is its own and
 * allocated with mdx_* (modax/alloc.h). It hands the broker no memory; what
 * the broker lends (client ids, usernames, topics) is only read during the
 * callback, and the certificate it returns is released with X509_free().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Order matters in 2.0.11: mosquitto_plugin.h needs mosquitto_broker.h's types. */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include "auth_cache.h"
#include "auth_stats.h"
#include "auth_throttle.h"
#include "legacy_topics.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/conf.h"
#include "modax/secret.h"
#include "modax/status.h"
#include "modax/store.h"
#include "modax/topic_rules.h"

#define KICK_IDS_MAX 64

static struct {
    mosquitto_plugin_id_t *id;
    struct mdx_store_conf store;
    struct auth_cache_conf cache;
    struct auth_throttle_conf throttle;
    char *stats_file;
    /* Client ids to disconnect at the next tick (bad certificates). */
    char kick_ids[KICK_IDS_MAX][MDX_NAME_MAX + 1];
    int nkick_ids;
} P;

static struct mdx_conf_section store_section(void)
{
    return (struct mdx_conf_section){"store", mdx_store_conf_keys, &P.store};
}

/* Sets store key 'name' (dotted) to 'value'; MDX_EINVAL for an unknown key or bad value. */
static int set_store_key(const char *name, const char *value)
{
    for (const struct mdx_conf_key *k = mdx_store_conf_keys; k->name != NULL; k++) {
        char *field = (char *)&P.store + k->offset;
        char *end;

        if (strcmp(k->name, name) != 0) {
            continue;
        }
        switch (k->type) {
        case MDX_CONF_T_STR:
        case MDX_CONF_T_SECRET: {
            char *copy = mdx_strdup(value);
            if (copy == NULL) {
                return MDX_ENOMEM;
            }
            mdx_free(*(char **)field);
            *(char **)field = copy;
            return MDX_OK;
        }
        case MDX_CONF_T_INT: {
            errno = 0;
            long long v = strtoll(value, &end, 10);
            if (errno != 0 || *end != '\0' || end == value || v < k->min || v > k->max) {
                return MDX_EINVAL;
            }
            *(int64_t *)field = v;
            return MDX_OK;
        }
        case MDX_CONF_T_BOOL:
            *(int *)field = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
            return MDX_OK;
        case MDX_CONF_T_DBL:
            *(double *)field = strtod(value, NULL);
            return MDX_OK;
        default:
            return MDX_EINVAL;
        }
    }
    return MDX_EINVAL;
}

/* Reads the store.* keys of a modax config file (other modules' keys are skipped). */
static int read_config(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int rc = MDX_OK;

    if (f == NULL) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "modax_auth: cannot read config %s: %s", path,
                             strerror(errno));
        return MDX_EIO;
    }
    while (rc == MDX_OK && fgets(line, sizeof(line), f) != NULL) {
        char *k = line, *eq, *v, *end;

        k += strspn(k, " \t");
        if (strncmp(k, "store.", 6) != 0 || (eq = strchr(k, '=')) == NULL) {
            continue;
        }
        for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t'); end--) {
        }
        *end = '\0';
        v = eq + 1 + strspn(eq + 1, " \t");
        v[strcspn(v, "\r\n#")] = '\0';
        for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t'); end--) {
        }
        *end = '\0';
        rc = set_store_key(k, v);
        if (rc != MDX_OK) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "modax_auth: %s: bad value for %s", path, k);
        }
    }
    fclose(f);
    return rc;
}

static int int_opt(const char *value, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(value, &end, 10);

    if (*end != '\0' || end == value || v < lo || v > hi) {
        return MDX_EINVAL;
    }
    *out = (int)v;
    return MDX_OK;
}

static int options(struct mosquitto_opt *opts, int n)
{
    struct mdx_conf_section s = store_section();
    char err[256];
    int rc = MDX_OK;
    int verify_s = 300, window_s = 10, addr_window_s = 10;

    P.cache = (struct auth_cache_conf){&P.store, 1000, 2000, 0};
    P.throttle = (struct auth_throttle_conf){10, 0, 5, 0};
    if (mdx_conf_load(&s, 1, NULL, err, sizeof(err)) != MDX_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "modax_auth: %s", err);
        return MDX_ECONF;
    }
    for (int i = 0; i < n && rc == MDX_OK; i++) {
        if (strcmp(opts[i].key, "config") == 0) {
            rc = read_config(opts[i].value);
        }
    }
    for (int i = 0; i < n && rc == MDX_OK; i++) {
        const char *k = opts[i].key, *v = opts[i].value;

        if (strcmp(k, "config") == 0) {
            continue;
        } else if (strncmp(k, "store_", 6) == 0) {
            char dotted[128];
            snprintf(dotted, sizeof(dotted), "store.%s", k + 6);
            /* store_sqlite_path -> store.sqlite.path, but busy_timeout_ms keeps its '_'. */
            rc = set_store_key(dotted, v);
            for (char *p = dotted + 6; rc != MDX_OK && *p != '\0'; p++) {
                if (*p == '_') {
                    *p = '.';
                    rc = set_store_key(dotted, v);
                }
            }
        } else if (strcmp(k, "refresh_ms") == 0) {
            rc = int_opt(v, 100, 60000, &P.cache.refresh_ms);
        } else if (strcmp(k, "lookup_timeout_ms") == 0) {
            rc = int_opt(v, 10, 30000, &P.cache.lookup_timeout_ms);
        } else if (strcmp(k, "verify_cache_s") == 0) {
            rc = int_opt(v, 0, 86400, &verify_s);
        } else if (strcmp(k, "fail_limit") == 0) {
            rc = int_opt(v, 1, 1000000, &P.throttle.pair_fail_limit);
        } else if (strcmp(k, "fail_window_s") == 0) {
            rc = int_opt(v, 1, 3600, &window_s);
        } else if (strcmp(k, "addr_fail_limit") == 0) {
            rc = int_opt(v, 1, 1000000, &P.throttle.addr_fail_limit);
        } else if (strcmp(k, "addr_fail_window_s") == 0) {
            rc = int_opt(v, 1, 3600, &addr_window_s);
        } else if (strcmp(k, "stats_file") == 0) {
            mdx_free(P.stats_file);
            P.stats_file = mdx_strdup(v);
            rc = P.stats_file != NULL ? MDX_OK : MDX_ENOMEM;
        } else {
            rc = MDX_EINVAL;
        }
        if (rc != MDX_OK) {
            mosquitto_log_printf(MOSQ_LOG_ERR, "modax_auth: bad option plugin_opt_%s", k);
        }
    }
    P.cache.verify_cache_ms = verify_s * 1000;
    P.throttle.pair_fail_window_ms = window_s * 1000;
    P.throttle.addr_fail_window_ms = addr_window_s * 1000;
    return rc;
}

/* A client id that belongs to 'w': a device's own id, an identity's name or "name-...". */
static int client_id_ok(const struct auth_who *w, const char *cid)
{
    size_t n = strlen(w->name);

    if (cid == NULL) {
        return 0;
    }
    if (w->role == MDX_TOPIC_DEVICE) {
        return strcmp(cid, w->name) == 0;
    }
    return strncmp(cid, w->name, n) == 0 && (cid[n] == '\0' || cid[n] == '-');
}

static int on_basic_auth(int event, void *data, void *userdata)
{
    struct mosquitto_evt_basic_auth *a = data;
    struct auth_who w;
    unsigned char sha[SHA256_DIGEST_LENGTH];
    const char *addr;
    int64_t t0;
    int rc;

    (void)event;
    (void)userdata;
    if (a->username == NULL || a->password == NULL) {
        auth_deny(C_AUTH_DENY_NO_USER, a->client, a->username, NULL, "no username or password");
        return MOSQ_ERR_AUTH;
    }
    if (auth_cache_get(a->username, &w) != MDX_OK || w.state == AUTH_ABSENT) {
        auth_deny(C_AUTH_DENY_UNKNOWN, a->client, a->username, NULL, "unknown device or identity");
        return MOSQ_ERR_AUTH;
    }
    if (w.state != AUTH_DEVICE && w.state != AUTH_IDENTITY) {
        auth_deny(C_AUTH_DENY_UNAVAILABLE, a->client, a->username, NULL,
                  "registry not available in time");
        return MOSQ_ERR_AUTH;
    }
    if (w.revoked) {
        auth_deny(C_AUTH_DENY_REVOKED, a->client, a->username, NULL, "revoked");
        return MOSQ_ERR_AUTH;
    }
    if (!client_id_ok(&w, mosquitto_client_id(a->client))) {
        auth_deny(C_AUTH_DENY_CLIENT_ID, a->client, a->username, NULL,
                  w.role == MDX_TOPIC_DEVICE ? "client id is not the device id"
                                             : "client id is not the identity's name[-...]");
        return MOSQ_ERR_AUTH;
    }
    if (w.secret_hash[0] == '\0') {
        auth_deny(C_AUTH_DENY_NO_SECRET, a->client, a->username, NULL,
                  "no secret registered (certificate only)");
        return MOSQ_ERR_AUTH;
    }
    SHA256((const unsigned char *)a->password, strlen(a->password), sha);
    if (auth_cache_verified(a->username, sha)) {
        auth_stats_add(C_AUTH_OK, 1);
        return MOSQ_ERR_SUCCESS;
    }
    addr = mosquitto_client_address(a->client);
    switch (auth_throttle_check(a->username, addr)) {
    case AUTH_THROTTLE_ADDRESS:
        auth_deny(C_AUTH_DENY_ADDRESS, a->client, a->username, NULL,
                  "too many wrong secrets from this address; throttled");
        return MOSQ_ERR_AUTH;
    case AUTH_THROTTLE_PAIR:
        auth_deny(C_AUTH_DENY_BACKOFF, a->client, a->username, NULL,
                  "too many wrong secrets for this user from this address; throttled");
        return MOSQ_ERR_AUTH;
    default:
        break;
    }
    t0 = mdx_mono_us();
    rc = mdx_secret_verify(w.secret_hash, a->password);
    auth_stats_add(C_ARGON2_US, (uint64_t)(mdx_mono_us() - t0));
    auth_stats_add(C_ARGON2_CHECKS, 1);
    if (rc != MDX_OK) {
        auth_throttle_failed(a->username, addr);
        auth_deny(C_AUTH_DENY_PASSWORD, a->client, a->username, NULL, "wrong secret");
        return MOSQ_ERR_AUTH;
    }
    auth_cache_set_verified(a->username, sha);
    auth_stats_add(C_AUTH_OK, 1);
    return MOSQ_ERR_SUCCESS;
}

static void kick_later(const char *client_id)
{
    if (client_id != NULL && P.nkick_ids < KICK_IDS_MAX) {
        snprintf(P.kick_ids[P.nkick_ids++], MDX_NAME_MAX + 1, "%s", client_id);
    }
}

/* mTLS: the certificate must be the one issued to this device. 1 if so. */
static int cert_ok(struct mosquitto *client, const struct auth_who *w, X509 *cert)
{
    unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    int len = i2d_X509(cert, &der);

    if (len <= 0) {
        return 0;
    }
    SHA256(der, (size_t)len, md);
    OPENSSL_free(der);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    (void)client;
    return w->role == MDX_TOPIC_DEVICE && w->cert_fp[0] != '\0' &&
           strcasecmp(hex, w->cert_fp) == 0;
}

/*
 * A device's access to a legacy topic: publishing on the two legacy
 * telemetry topics, subscribing to the legacy command topic (recorded), and
 * nothing else; only while its tenant has legacy topics on.
 */
static int legacy_acl(const struct mosquitto_evt_acl_check *a, const struct auth_who *w,
                      unsigned access)
{
    const char *user = w->name;

    if (!w->legacy) {
        auth_deny(C_ACL_DENY_LEGACY, a->client, user, a->topic,
                  "legacy topics are off for this tenant (modax tenant legacy-topics)");
        return MOSQ_ERR_ACL_DENIED;
    }
    if (access == MDX_ACCESS_PUBLISH && legacy_publish_leaf(a->topic) != NULL) {
        auth_stats_add(C_ACL_ALLOW, 1);
        return MOSQ_ERR_SUCCESS;
    }
    if (access == MDX_ACCESS_SUBSCRIBE && legacy_is_commands(a->topic)) {
        if (legacy_subs_add(w->name, w->tenant, a->qos) != MDX_OK) {
            auth_deny(C_ACL_DENY_LEGACY, a->client, user, a->topic,
                      "too many devices subscribed to the legacy command topic");
            return MOSQ_ERR_ACL_DENIED;
        }
        auth_stats_add(C_ACL_ALLOW, 1);
        return MOSQ_ERR_SUCCESS;
    }
    auth_deny(C_ACL_DENY_TOPIC, a->client, user, a->topic,
              "this legacy topic is not allowed with this access");
    return MOSQ_ERR_ACL_DENIED;
}

static int on_acl(int event, void *data, void *userdata)
{
    struct mosquitto_evt_acl_check *a = data;
    const char *user = mosquitto_client_username(a->client);
    const char *cid = mosquitto_client_id(a->client);
    struct auth_who w;
    unsigned access;
    X509 *cert;
    enum mdx_topic_verdict v;

    (void)event;
    (void)userdata;
    switch (a->access) {
    case MOSQ_ACL_WRITE:
        access = MDX_ACCESS_PUBLISH;
        break;
    case MOSQ_ACL_SUBSCRIBE:
        access = MDX_ACCESS_SUBSCRIBE;
        break;
    case MOSQ_ACL_READ:
        access = MDX_ACCESS_RECEIVE;
        break;
    default:
        /* Unsubscribing takes nothing; from the legacy command topic it ends delivery there. */
        if (a->access == MOSQ_ACL_UNSUBSCRIBE && legacy_is_commands(a->topic) && cid != NULL) {
            legacy_subs_remove(cid);
        }
        return MOSQ_ERR_SUCCESS;
    }
    if (user == NULL || auth_cache_get(user, &w) != MDX_OK || w.state == AUTH_ABSENT) {
        auth_deny(C_ACL_DENY_UNKNOWN, a->client, user, a->topic, "unknown device or identity");
        kick_later(cid);
        return MOSQ_ERR_ACL_DENIED;
    }
    if (w.state != AUTH_DEVICE && w.state != AUTH_IDENTITY) {
        auth_deny(C_ACL_DENY_UNAVAILABLE, a->client, user, a->topic,
                  "registry not available in time");
        return MOSQ_ERR_ACL_DENIED;
    }
    if (w.revoked) {
        auth_deny(C_ACL_DENY_REVOKED, a->client, user, a->topic, "revoked");
        kick_later(cid);
        return MOSQ_ERR_ACL_DENIED;
    }
    cert = mosquitto_client_certificate(a->client);
    if (cert != NULL) {
        int ok = cert_ok(a->client, &w, cert);
        X509_free(cert);
        if (!ok) {
            auth_deny(C_ACL_DENY_CERT, a->client, user, a->topic,
                      "certificate is not the one issued to this device");
            kick_later(cid);
            return MOSQ_ERR_ACL_DENIED;
        }
        if (cid == NULL || strcmp(cid, user) != 0) {
            auth_deny(C_ACL_DENY_CLIENT_ID, a->client, user, a->topic,
                      "client id is not the certificate's CN");
            kick_later(cid);
            return MOSQ_ERR_ACL_DENIED;
        }
    }
    if (w.role == MDX_TOPIC_DEVICE && a->topic != NULL &&
        (legacy_publish_leaf(a->topic) != NULL || legacy_is_commands(a->topic))) {
        return legacy_acl(a, &w, access);
    }
    struct mdx_topic_who who = {w.role, w.tenant, w.name};
    v = mdx_topic_check(&who, access, a->topic, a->topic != NULL ? strlen(a->topic) : 0);
    if (v != MDX_TOPIC_ALLOW) {
        auth_deny(C_ACL_DENY_TOPIC, a->client, user, a->topic, mdx_topic_verdict_text(v));
        return MOSQ_ERR_ACL_DENIED;
    }
    auth_stats_add(C_ACL_ALLOW, 1);
    return MOSQ_ERR_SUCCESS;
}

/*
 * A device's publish on a legacy telemetry topic, moved to its own topic
 * modax/{tenant}/{device}/{leaf}. The broker gave us a topic it allocated;
 * before 2.0.15 it does not free the one a plugin replaces (fixed by
 * upstream commit 5f57de2), so the plugin does, for the headers it is built
 * with: build it against the broker's own version.
 */
static int legacy_rewrite(struct mosquitto_evt_message *m, const char *leaf)
{
    const char *user = mosquitto_client_username(m->client);
    char topic[MDX_TOPIC_MAX + 1];
    struct auth_who w;
    char *copy;

    if (user == NULL || auth_cache_get(user, &w) != MDX_OK || w.state != AUTH_DEVICE ||
        w.revoked || !w.legacy) {
        auth_deny(C_ACL_DENY_LEGACY, m->client, user, m->topic,
                  "legacy topic from a client that may not use it");
        return MOSQ_ERR_ACL_DENIED;
    }
    snprintf(topic, sizeof(topic), "modax/%s/%s/%s", w.tenant, w.name, leaf);
    copy = mosquitto_strdup(topic);
    if (copy == NULL) {
        return MOSQ_ERR_NOMEM;
    }
#if LIBMOSQUITTO_VERSION_NUMBER < 2000015
    mosquitto_free(m->topic);
#endif
    m->topic = copy;
    auth_stats_add(C_LEGACY_REWRITTEN, 1);
    return MOSQ_ERR_SUCCESS;
}

/*
 * A command on modax/{tenant}/{device}/commands (its publisher was allowed
 * by the ACL check) also goes to that device on the legacy command topic,
 * if the device subscribed there and its tenant still has legacy topics on.
 */
static void legacy_forward_command(const struct mosquitto_evt_message *m)
{
    char tenant[MDX_NAME_MAX + 1], device[MDX_NAME_MAX + 1];
    struct auth_who w;
    int qos;

    if (!legacy_command_target(m->topic, tenant, device) ||
        (qos = legacy_subs_qos(device, tenant)) < 0) {
        return;
    }
    if (auth_cache_get(device, &w) != MDX_OK || w.state != AUTH_DEVICE || w.revoked ||
        !w.legacy || strcmp(w.tenant, tenant) != 0) {
        return;
    }
    if (mosquitto_broker_publish_copy(device, LEGACY_COMMANDS, (int)m->payloadlen, m->payload,
                                      m->qos < qos ? m->qos : qos, false,
                                      NULL) == MOSQ_ERR_SUCCESS) {
        auth_stats_add(C_LEGACY_COMMANDS, 1);
    }
}

static int on_message(int event, void *data, void *userdata)
{
    struct mosquitto_evt_message *m = data;
    const char *leaf;

    (void)event;
    (void)userdata;
    if (m->topic == NULL) {
        return MOSQ_ERR_SUCCESS;
    }
    leaf = legacy_publish_leaf(m->topic);
    if (leaf != NULL) {
        return legacy_rewrite(m, leaf);
    }
    if (legacy_subs_count() > 0) {
        legacy_forward_command(m);
    }
    return MOSQ_ERR_SUCCESS;
}

/* The end of a clean session ends its subscription to the legacy command topic. */
static int on_disconnect(int event, void *data, void *userdata)
{
    struct mosquitto_evt_disconnect *d = data;
    const char *cid = mosquitto_client_id(d->client);

    (void)event;
    (void)userdata;
    if (cid != NULL && mosquitto_client_clean_session(d->client)) {
        legacy_subs_remove(cid);
    }
    return MOSQ_ERR_SUCCESS;
}

static int on_tick(int event, void *data, void *userdata)
{
    char name[MDX_NAME_MAX + 1];

    (void)event;
    (void)data;
    (void)userdata;
    while (auth_cache_next_kick(name, sizeof(name))) {
        if (mosquitto_kick_client_by_username(name, false) == MOSQ_ERR_SUCCESS) {
            mosquitto_log_printf(MOSQ_LOG_NOTICE,
                                 "modax_auth: disconnected user '%s': revoked or deleted", name);
            auth_stats_add(C_KICKED, 1);
        }
    }
    for (int i = 0; i < P.nkick_ids; i++) {
        if (mosquitto_kick_client_by_clientid(P.kick_ids[i], false) == MOSQ_ERR_SUCCESS) {
            auth_stats_add(C_KICKED, 1);
        }
    }
    P.nkick_ids = 0;
    auth_stats_tick(P.stats_file);
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++) {
        if (supported_versions[i] == 5) {
            return 5;
        }
    }
    return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *opts, int option_count)
{
    struct mdx_conf_section s;
    int rc;

    memset(&P, 0, sizeof(P));
    P.id = identifier;
    *userdata = NULL;
    if (options(opts, option_count) != MDX_OK || auth_cache_start(&P.cache) != MDX_OK ||
        auth_throttle_init(&P.throttle) != MDX_OK || legacy_subs_init() != MDX_OK) {
        auth_cache_stop();
        auth_throttle_fini();
        s = store_section();
        mdx_conf_fini(&s);
        mdx_free(P.stats_file);
        return MOSQ_ERR_INVAL;
    }
    rc = mosquitto_callback_register(P.id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_callback_register(P.id, MOSQ_EVT_ACL_CHECK, on_acl, NULL, NULL);
    }
    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_callback_register(P.id, MOSQ_EVT_TICK, on_tick, NULL, NULL);
    }
    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_callback_register(P.id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL);
    }
    if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_callback_register(P.id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL);
    }
    mosquitto_log_printf(MOSQ_LOG_INFO, "modax_auth: loaded (store %s, refresh %d ms)",
                         P.store.backend, P.cache.refresh_ms);
    return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int option_count)
{
    struct mdx_conf_section s = store_section();

    (void)userdata;
    (void)opts;
    (void)option_count;
    mosquitto_callback_unregister(P.id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
    mosquitto_callback_unregister(P.id, MOSQ_EVT_ACL_CHECK, on_acl, NULL);
    mosquitto_callback_unregister(P.id, MOSQ_EVT_TICK, on_tick, NULL);
    mosquitto_callback_unregister(P.id, MOSQ_EVT_MESSAGE, on_message, NULL);
    mosquitto_callback_unregister(P.id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
    auth_stats_tick(NULL);
    if (P.stats_file != NULL) {
        auth_stats_tick(P.stats_file);
    }
    auth_cache_stop();
    auth_throttle_fini();
    legacy_subs_fini();
    mdx_conf_fini(&s);
    mdx_free(P.stats_file);
    return MOSQ_ERR_SUCCESS;
}
