/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c - the store interface: picks a back end by name and forwards
 * each call to that back end's table for the concern (store.h).
 *
 * A new back end is one folder implementing the concern tables, plus one
 * line in the table below. The store's config keys live here too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/status.h"
#include "modax/store.h"
#include "modax/validate.h"
#include "store/store_access_int.h"
#include "store/store_int.h"

static const struct mdx_store_backend *const backends[] = {
    &mdx_store_sqlite, /* embedded, one file, WAL */
    &mdx_store_pgsql,  /* libpq, COPY, daily partitions (TimescaleDB when present) */
};

const struct mdx_conf_key mdx_store_conf_keys[] = {
    MDX_CONF_STR("store.backend", "sqlite", struct mdx_store_conf, backend,
                 "Store back end: sqlite or postgresql"),
    MDX_CONF_STR("store.sqlite.path", "var/modax.db", struct mdx_store_conf, sqlite_path,
                 "SQLite database file (its folder must exist)"),
    MDX_CONF_INT("store.busy_timeout_ms", "5000", 0, 600000, struct mdx_store_conf,
                 busy_timeout_ms, "How long one statement waits for a database lock (ms)"),
    MDX_CONF_INT("store.chunk_points", "512", 16, 8192, struct mdx_store_conf, chunk_points,
                 "Points per stored chunk of a series"),
    MDX_CONF_INT("store.cache_series", "100000", 16, 10000000, struct mdx_store_conf,
                 cache_series, "Series whose newest chunk stays in memory (~3 KiB each at 512 points)"),
    MDX_CONF_INT("store.deadletter_max", "10000", 10, 10000000, struct mdx_store_conf,
                 deadletter_max, "Dead letters kept; the oldest are evicted"),
    MDX_CONF_BOOL("store.synchronous_full", "false", struct mdx_store_conf, synchronous_full,
                  "fsync every commit (else at WAL checkpoints: a power loss, not a process "
                  "crash, may lose the last commits)"),
    MDX_CONF_STR("store.pgsql.url", "host=127.0.0.1 port=5432 dbname=modax user=modax",
                 struct mdx_store_conf, pgsql_url,
                 "PostgreSQL libpq connection string, without the password"),
    MDX_CONF_SECRET("store.pgsql.password", struct mdx_store_conf, pgsql_password,
                    "PostgreSQL password; environment or *_FILE only, refused in the config file"),
    MDX_CONF_STR("store.pgsql.credentials", "password", struct mdx_store_conf, pgsql_credentials,
                 "PostgreSQL credentials: password (store.pgsql.password) or "
                 "azure-workload-identity (an Entra ID token from the pod's federated identity "
                 "at each connection; the user in store.pgsql.url is the identity's role)"),
    MDX_CONF_STR("store.pgsql.sslmode", "prefer", struct mdx_store_conf, pgsql_sslmode,
                 "libpq sslmode: disable, allow, prefer, require, verify-ca or verify-full"),
    MDX_CONF_INT("store.pgsql.partition_days_ahead", "7", 1, 366, struct mdx_store_conf,
                 pgsql_partition_days_ahead, "Daily partitions of raw points created ahead"),
    MDX_CONF_INT("store.pgsql.connect_timeout_s", "5", 1, 300, struct mdx_store_conf,
                 pgsql_connect_timeout_s, "Seconds one attempt to connect to PostgreSQL may take"),
    MDX_CONF_END};

/*
 * Calls 'op' of the back end's table for 'concern'. A back end that lacks
 * the table or the function answers MDX_EINVAL, so a half-built back end
 * fails loudly, not silently.
 */
#define FORWARD(concern, op, ...)                                                                  \
    (st->be->concern != NULL && st->be->concern->op != NULL                                        \
         ? st->be->concern->op(st->impl, __VA_ARGS__)                                              \
         : MDX_EINVAL)

struct mdx_store *mdx_store_open(const struct mdx_store_conf *conf, int *err)
{
    const char *name = conf->backend != NULL ? conf->backend : "sqlite";
    const struct mdx_store_backend *be = NULL;
    struct mdx_store *st;
    int rc;

    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strcmp(backends[i]->name, name) == 0) {
            be = backends[i];
        }
    }
    if (be == NULL) {
        *err = MDX_ECONF;
        return NULL;
    }
    st = mdx_calloc(1, sizeof(*st));
    if (st == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    st->be = be;
    rc = be->open(conf, &st->impl);
    if (rc != MDX_OK) {
        mdx_free(st);
        *err = rc;
        return NULL;
    }
    *err = MDX_OK;
    return st;
}

void mdx_store_close(struct mdx_store *st)
{
    if (st == NULL) {
        return;
    }
    st->be->close(st->impl);
    mdx_free(st);
}

/* Series (store_series.h). */

int mdx_store_sensor_list(struct mdx_store *st, const char *tenant, const char *device,
                          mdx_name_fn fn, void *arg)
{
    return FORWARD(series, sensor_list, tenant, device, fn, arg);
}

int mdx_store_write(struct mdx_store *st, const struct mdx_batch *batch,
                    struct mdx_batch_result *res)
{
    return FORWARD(series, write, batch, res);
}

int mdx_store_checkpoint_get(struct mdx_store *st, const char *owner, struct mdx_spool_pos *pos)
{
    return FORWARD(series, checkpoint_get, owner, pos);
}

int mdx_store_query_points(struct mdx_store *st, const struct mdx_query *q, mdx_point_fn fn,
                           void *arg)
{
    return FORWARD(series, query_points, q, fn, arg);
}

int mdx_store_point_count(struct mdx_store *st, const char *tenant, int64_t *count)
{
    return FORWARD(series, point_count, tenant, count);
}

int mdx_store_deadletter_list(struct mdx_store *st, int64_t limit, mdx_deadletter_fn fn,
                              void *arg)
{
    return FORWARD(series, deadletter_list, limit, fn, arg);
}

int mdx_store_deadletter_counts(struct mdx_store *st, mdx_count_fn fn, void *arg)
{
    return FORWARD(series, deadletter_counts, fn, arg);
}

int mdx_store_event_list(struct mdx_store *st, const char *tenant, const char *device,
                         int64_t limit, mdx_event_fn fn,
                         void *arg)
{
    return FORWARD(series, event_list, tenant, device, limit, fn, arg);
}

int mdx_store_query_buckets(struct mdx_store *st, const struct mdx_query *q, int64_t step_ms,
                            mdx_bucket_fn fn, void *arg)
{
    if (step_ms <= 0) {
        return MDX_EINVAL;
    }
    return FORWARD(series, query_buckets, q, step_ms, fn, arg);
}

int mdx_store_latest(struct mdx_store *st, const char *tenant, const char *device,
                     mdx_sensor_point_fn fn, void *arg)
{
    return FORWARD(series, latest, tenant, device, fn, arg);
}

/* Catalog (store_catalog.h). */

int mdx_store_tenant_add(struct mdx_store *st, const char *tenant)
{
    return FORWARD(catalog, tenant_add, tenant);
}

int mdx_store_tenant_list(struct mdx_store *st, mdx_name_fn fn, void *arg)
{
    return FORWARD(catalog, tenant_list, fn, arg);
}

int mdx_store_tenant_exists(struct mdx_store *st, const char *tenant)
{
    return FORWARD(catalog, tenant_exists, tenant);
}

int mdx_store_tenant_legacy_get(struct mdx_store *st, const char *tenant, int *on)
{
    *on = 0;
    return FORWARD(catalog, tenant_legacy_get, tenant, on);
}

int mdx_store_tenant_legacy_set(struct mdx_store *st, const char *tenant, int on)
{
    return FORWARD(catalog, tenant_legacy_set, tenant, on != 0);
}

int mdx_store_device_add(struct mdx_store *st, const char *tenant, const char *device,
                         int auto_registered)
{
    return FORWARD(catalog, device_add, tenant, device, auto_registered);
}

int mdx_store_device_get(struct mdx_store *st, const char *tenant, const char *device,
                         struct mdx_device_info *out)
{
    return FORWARD(catalog, device_get, tenant, device, out);
}

int mdx_store_device_list(struct mdx_store *st, const char *tenant, mdx_device_fn fn, void *arg)
{
    return FORWARD(catalog, device_list, tenant, fn, arg);
}

int mdx_store_device_set_type(struct mdx_store *st, const char *tenant, const char *device,
                              const char *type)
{
    return FORWARD(catalog, device_set_type, tenant, device, type);
}

int mdx_store_device_config_get(struct mdx_store *st, const char *tenant, const char *device,
                                struct mdx_device_config *out)
{
    return FORWARD(catalog, device_config_get, tenant, device, out);
}

int mdx_store_device_config_set(struct mdx_store *st, const char *tenant, const char *device,
                                const char *meta, const char *limits)
{
    return FORWARD(catalog, device_config_set, tenant, device, meta, limits);
}

int mdx_store_device_delete(struct mdx_store *st, const char *tenant, const char *device)
{
    return FORWARD(catalog, device_delete, tenant, device);
}

/* Rules and alerts (store_alerts.h). */

int mdx_store_rule_put(struct mdx_store *st, struct mdx_rule *rule)
{
    return FORWARD(alerts, rule_put, rule);
}

int mdx_store_rule_list(struct mdx_store *st, const char *tenant, mdx_rule_fn fn, void *arg)
{
    return FORWARD(alerts, rule_list, tenant, fn, arg);
}

int mdx_store_rule_delete(struct mdx_store *st, const char *tenant, int64_t id)
{
    return FORWARD(alerts, rule_delete, tenant, id);
}

int mdx_store_alert_put(struct mdx_store *st, struct mdx_alert *alert)
{
    return FORWARD(alerts, alert_put, alert);
}

int mdx_store_alert_get(struct mdx_store *st, const char *tenant, int64_t id,
                        struct mdx_alert *out)
{
    return FORWARD(alerts, alert_get, tenant, id, out);
}

int mdx_store_alert_list(struct mdx_store *st, const struct mdx_alert_filter *f, mdx_alert_fn fn,
                         void *arg)
{
    return FORWARD(alerts, alert_list, f, fn, arg);
}

/* Access (store_access.h). */

int mdx_store_apikey_add(struct mdx_store *st, const struct mdx_apikey *key)
{
    return FORWARD(access, apikey_add, key);
}

int mdx_store_apikey_get(struct mdx_store *st, const char *id, struct mdx_apikey *out)
{
    return FORWARD(access, apikey_get, id, out);
}

int mdx_store_apikey_list(struct mdx_store *st, const char *tenant, mdx_apikey_fn fn, void *arg)
{
    return FORWARD(access, apikey_list, tenant, fn, arg);
}

/*
 * The back ends revoke only a valid key or identity (MDX_ENOTFOUND when
 * none changed); which of "revoked already" and "none" it was is told
 * here, for both.
 */
int mdx_store_apikey_revoke(struct mdx_store *st, const char *id, int64_t now_ms)
{
    struct mdx_apikey key;
    int rc;

    if (now_ms <= 0) {
        return MDX_EINVAL; /* revoked_ms 0 means valid */
    }
    if (!mdx_store_apikey_id_valid(id)) {
        return MDX_ENOTFOUND;
    }
    rc = FORWARD(access, apikey_revoke, id, now_ms);
    if (rc != MDX_ENOTFOUND) {
        return rc;
    }
    rc = mdx_store_apikey_get(st, id, &key);
    return rc == MDX_OK ? MDX_EEXIST : rc; /* revoked already, or no such key */
}

int mdx_store_device_cred_set(struct mdx_store *st, const char *tenant, const char *device,
                              const char *secret_hash, const char *cert_fingerprint,
                              int64_t now_ms)
{
    return FORWARD(access, device_cred_set, tenant, device, secret_hash, cert_fingerprint, now_ms);
}

int mdx_store_device_cred_get(struct mdx_store *st, const char *device,
                              struct mdx_device_cred *out)
{
    return FORWARD(access, device_cred_get, device, out);
}

int mdx_store_device_revoke(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t now_ms)
{
    return FORWARD(access, device_revoke, tenant, device, now_ms);
}

int mdx_store_identity_add(struct mdx_store *st, const struct mdx_broker_identity *id)
{
    return FORWARD(access, identity_add, id);
}

int mdx_store_identity_get(struct mdx_store *st, const char *name,
                           struct mdx_broker_identity *out)
{
    return FORWARD(access, identity_get, name, out);
}

int mdx_store_identity_list(struct mdx_store *st, mdx_identity_fn fn, void *arg)
{
    return FORWARD(access, identity_list, fn, arg);
}

int mdx_store_identity_revoke(struct mdx_store *st, const char *name, int64_t now_ms)
{
    struct mdx_broker_identity id;
    int rc;

    if (now_ms <= 0) {
        return MDX_EINVAL;
    }
    if (name == NULL || !mdx_valid_segment(name, strnlen(name, MDX_NAME_MAX + 1))) {
        return MDX_ENOTFOUND;
    }
    rc = FORWARD(access, identity_revoke, name, now_ms);
    if (rc != MDX_ENOTFOUND) {
        return rc;
    }
    rc = mdx_store_identity_get(st, name, &id);
    return rc == MDX_OK ? MDX_EEXIST : rc; /* revoked already, or no such identity */
}

/* Archive (store_archive.h). */

int mdx_store_retention_get(struct mdx_store *st, const char *tenant, struct mdx_retention *out)
{
    return FORWARD(archive, retention_get, tenant, out);
}

int mdx_store_retention_set(struct mdx_store *st, const char *tenant,
                            const struct mdx_retention *r)
{
    return FORWARD(archive, retention_set, tenant, r);
}

int mdx_store_archive_partitions(struct mdx_store *st, const char *tenant, int64_t before_ms,
                                 mdx_partition_fn fn, void *arg)
{
    return FORWARD(archive, archive_partitions, tenant, before_ms, fn, arg);
}

int mdx_store_export_points(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t from_ms, int64_t to_ms, mdx_sensor_point_fn fn, void *arg)
{
    return FORWARD(archive, export_points, tenant, device, from_ms, to_ms, fn, arg);
}

int mdx_store_delete_points(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t from_ms, int64_t to_ms, int64_t expect, int64_t *deleted)
{
    return FORWARD(archive, delete_points, tenant, device, from_ms, to_ms, expect, deleted);
}

int mdx_store_archive_obj_put(struct mdx_store *st, const struct mdx_archive_obj *obj)
{
    return FORWARD(archive, archive_obj_put, obj);
}

int mdx_store_archive_obj_list(struct mdx_store *st, const char *tenant, int state,
                               int64_t before_day_ms, mdx_archive_obj_fn fn, void *arg)
{
    return FORWARD(archive, archive_obj_list, tenant, state, before_day_ms, fn, arg);
}

int mdx_store_archive_obj_delete(struct mdx_store *st, const char *key)
{
    return FORWARD(archive, archive_obj_delete, key);
}

/* Commands (store_commands.h). */

int mdx_store_command_put(struct mdx_store *st, struct mdx_command *cmd)
{
    return FORWARD(commands, command_put, cmd);
}

int mdx_store_command_get(struct mdx_store *st, const char *tenant, int64_t id,
                          struct mdx_command *out)
{
    return FORWARD(commands, command_get, tenant, id, out);
}

int mdx_store_command_list(struct mdx_store *st, const char *tenant, const char *device,
                           int64_t limit, mdx_command_fn fn, void *arg)
{
    return FORWARD(commands, command_list, tenant, device, limit, fn, arg);
}

/* RUL (store_rul.h). */

int mdx_store_rul_model_put(struct mdx_store *st, const struct mdx_rul_model_rec *m)
{
    return FORWARD(rul, model_put, m);
}

int mdx_store_rul_model_get(struct mdx_store *st, const char *version,
                            struct mdx_rul_model_rec *out)
{
    return FORWARD(rul, model_get, version, out);
}

int mdx_store_rul_model_list(struct mdx_store *st, mdx_rul_model_fn fn, void *arg)
{
    return FORWARD(rul, model_list, fn, arg);
}

int mdx_store_rul_model_activate(struct mdx_store *st, const char *tenant, const char *version,
                                 int64_t now_ms)
{
    return FORWARD(rul, model_activate, tenant, version, now_ms);
}

int mdx_store_rul_model_active(struct mdx_store *st, const char *tenant, char *version,
                               size_t len)
{
    return FORWARD(rul, model_active, tenant, version, len);
}

int mdx_store_rul_active_list(struct mdx_store *st, mdx_rul_active_fn fn, void *arg)
{
    return FORWARD(rul, active_list, fn, arg);
}

int mdx_store_rul_threshold_get(struct mdx_store *st, const char *tenant, double *cycles)
{
    return FORWARD(rul, threshold_get, tenant, cycles);
}

int mdx_store_rul_threshold_set(struct mdx_store *st, const char *tenant, double cycles)
{
    return FORWARD(rul, threshold_set, tenant, cycles);
}

int mdx_store_rul_prediction_put(struct mdx_store *st, const struct mdx_rul_prediction *p,
                                 size_t n, int64_t keep)
{
    return FORWARD(rul, prediction_put, p, n, keep);
}

int mdx_store_rul_prediction_latest(struct mdx_store *st, const char *tenant,
                                    const char *device, struct mdx_rul_prediction *out)
{
    return FORWARD(rul, prediction_latest, tenant, device, out);
}

int mdx_store_rul_prediction_list(struct mdx_store *st, const char *tenant, const char *device,
                                  int64_t limit, mdx_rul_prediction_fn fn, void *arg)
{
    return FORWARD(rul, prediction_list, tenant, device, limit, fn, arg);
}

/* Aggregates of a bucket (store_series.h); no back end involved. */

int mdx_agg_parse(const char *name, enum mdx_agg *out)
{
    static const char *const names[] = {"avg", "min", "max", "count"};

    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum mdx_agg)i;
            return MDX_OK;
        }
    }
    return MDX_EINVAL;
}

double mdx_bucket_value(const struct mdx_bucket *b, enum mdx_agg agg)
{
    switch (agg) {
    case MDX_AGG_MIN: return b->min;
    case MDX_AGG_MAX: return b->max;
    case MDX_AGG_COUNT: return (double)b->count;
    default: return b->count > 0 ? b->sum / (double)b->count : 0.0;
    }
}

/* Leases (store_lease.h). */

static int lease_args_valid(const char *name, const char *holder)
{
    return name != NULL && holder != NULL && name[0] != '\0' && holder[0] != '\0' &&
           strlen(name) <= MDX_LEASE_NAME_MAX && strlen(holder) <= MDX_LEASE_HOLDER_MAX;
}

int mdx_store_lease_take(struct mdx_store *st, const char *name, const char *holder,
                         int64_t now_ms, int64_t ttl_ms, struct mdx_lease *current)
{
    struct mdx_lease ignored;

    if (!lease_args_valid(name, holder) || ttl_ms <= 0 || now_ms > INT64_MAX - ttl_ms) {
        return MDX_EINVAL;
    }
    return FORWARD(lease, lease_take, name, holder, now_ms, now_ms + ttl_ms,
                   current != NULL ? current : &ignored);
}

int mdx_store_lease_release(struct mdx_store *st, const char *name, const char *holder)
{
    if (!lease_args_valid(name, holder)) {
        return MDX_EINVAL;
    }
    return FORWARD(lease, lease_release, name, holder);
}

/* Saved detector states (store_detector.h). */

int mdx_store_detector_state_list(struct mdx_store *st, const char *tenant, const char *device,
                                  mdx_detector_state_fn fn, void *arg)
{
    if (tenant == NULL || device == NULL || fn == NULL) {
        return MDX_EINVAL;
    }
    return FORWARD(detector, state_list, tenant, device, fn, arg);
}
