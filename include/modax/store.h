/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h - the store interface: registry, time series, events, dead letters.
 *
 * One interface, several back ends (store_sqlite.c now, store_pgsql.c
 * next), chosen by "store.backend" from the table in store.c. A store
 * handle is used by one thread at a time; open one per thread.
 *
 * Points are logically (tenant, device, sensor, ts_ms) -> value, unique on
 * the key: writing a point that exists changes nothing and is counted as a
 * duplicate. mdx_store_write() applies a whole batch (points, events,
 * dead letters and the spool checkpoint) in one transaction, so a batch is
 * either stored completely or not at all.
 */
#ifndef MODAX_STORE_H
#define MODAX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "modax/conf.h"
#include "modax/msg.h"

struct mdx_store_conf {
    char *backend;            /* "sqlite" or "postgresql" */
    char *sqlite_path;        /* database file */
    int64_t busy_timeout_ms;  /* how long one statement waits for a lock */
    int64_t chunk_points;     /* points per stored chunk */
    int64_t cache_series;     /* series whose open chunk stays in memory */
    int64_t deadletter_max;   /* dead letters kept; oldest evicted */
    int synchronous_full;     /* fsync every commit (else at WAL checkpoints) */
    char *pgsql_url;          /* libpq conninfo, without the password */
    char *pgsql_password;     /* secret: environment or *_FILE only */
    char *pgsql_sslmode;      /* libpq sslmode: disable ... verify-full */
    int64_t pgsql_partition_days_ahead; /* daily partitions created ahead of today */
    int64_t pgsql_connect_timeout_s;    /* libpq connect_timeout */
};

/* Config keys of the store ("store.*"). */
extern const struct mdx_conf_key mdx_store_conf_keys[];

/* Where the store's batches have reached in the spool (see spool.h). */
struct mdx_spool_pos {
    uint64_t segment;
    uint64_t offset;
};

struct mdx_point_group {
    const char *tenant;
    const char *device;
    const struct mdx_point *points;
    size_t n;
};

struct mdx_event_rec {
    const char *tenant;
    const char *device;
    const struct mdx_event *event;
    int64_t recv_ms;
};

#define MDX_DEADLETTER_PAYLOAD_MAX 4096 /* bytes of payload kept per dead letter */

struct mdx_deadletter {
    int64_t id;               /* filled when listing */
    int64_t recv_ms;
    const char *reason;
    const char *topic;
    const uint8_t *payload;   /* the first min(len, 4 KiB) bytes */
    size_t payload_len;       /* bytes at 'payload' */
    size_t orig_len;          /* size of the refused payload */
};

struct mdx_batch {
    const struct mdx_point_group *groups;
    size_t n_groups;
    const struct mdx_event_rec *events;
    size_t n_events;
    const struct mdx_deadletter *dead;
    size_t n_dead;
    struct mdx_alert *alerts;       /* alert changes of this batch: id 0 = new (the store sets
                                       the id), else an update of that alert */
    size_t n_alerts;
    int has_checkpoint;
    const char *checkpoint_owner; /* the ingest worker whose spool this is */
    struct mdx_spool_pos checkpoint;
};

struct mdx_batch_result {
    uint64_t points_written;
    uint64_t points_duplicate;
};

struct mdx_device_info {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    char type[MDX_NAME_MAX + 1];   /* device type, "" if none (rules can target types) */
    int64_t created_ms;
    int64_t last_seen_ms;     /* 0 if never seen */
    int auto_registered;
    /* Kept by mdx_store_write() from the device's status and safety events (issue 5): */
    char status[16];          /* "online", "offline", "" if it never reported */
    int64_t status_ms;        /* time of that status event, 0 if none */
    int emergency_stop;       /* 1 while the newest safety event says emergency_stop: true */
    int64_t safety_ms;        /* time of that safety event, 0 if none */
};

#define MDX_DEVICE_JSON_MAX 4096  /* bytes of a device's metadata or limits JSON, with NUL */

/*
 * What operators set on a device (issue 5): free metadata, and the safety
 * limits commands are checked against (command.h), both compact JSON objects.
 */
struct mdx_device_config {
    char meta[MDX_DEVICE_JSON_MAX];    /* e.g. {"line":"L2","model":"P-400"}; "{}" if none */
    char limits[MDX_DEVICE_JSON_MAX];  /* {"speed_pct":{"min":0,"max":100},...}; "{}" if none */
};

/* An API key (issue 5). The secret is never stored, only its SHA-256. */
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

/* An operator's command to a device (issue 5; see command.h). */
enum mdx_command_state {
    MDX_COMMAND_SENT = 0,     /* published to modax/{tenant}/{device}/commands */
    MDX_COMMAND_ACKED,        /* the device answered ok on command_ack */
    MDX_COMMAND_REJECTED,     /* the device answered rejected (its own interlocks) */
    MDX_COMMAND_FAILED        /* could not be published */
};
/*
 * A device's broker credentials (issue 6). The broker knows a device by its
 * id alone (MQTT username = client id = device id), so a device id that has
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
};

/*
 * A broker identity that is not a device (issue 6): the service (`modax
 * serve`: all tenants' telemetry in, commands and alerts out) or an
 * operator/HMI of one tenant (its alerts and status only). Identity names
 * and device ids share the broker's username space: neither may take a
 * name the other has.
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

struct mdx_command {
    int64_t id;                     /* store id; 0 until stored */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    char name[MDX_NAME_MAX + 1];    /* the parameter, e.g. "speed_pct" */
    double value;
    int state;                      /* enum mdx_command_state */
    char detail[128];               /* the device's reason when rejected, else "" */
    char issued_by[MDX_APIKEY_ID_LEN + 1]; /* key id, "" from the CLI */
    int64_t created_ms;
    int64_t updated_ms;
};

struct mdx_query {
    const char *tenant;
    const char *device;
    const char *sensor;
    int64_t from_ms;          /* inclusive */
    int64_t to_ms;            /* inclusive */
    int64_t limit;            /* 0 = no limit */
};

/* Aggregates of a time bucket. Rollups keep min, max, sum and count per series. */
enum mdx_agg { MDX_AGG_AVG = 0, MDX_AGG_MIN, MDX_AGG_MAX, MDX_AGG_COUNT };

#define MDX_ROLLUP_MINUTE_MS 60000LL
#define MDX_ROLLUP_HOUR_MS 3600000LL
#define MDX_DAY_MS 86400000LL

struct mdx_bucket {
    int64_t start_ms;         /* floor(ts / step) * step */
    double min, max, sum;
    int64_t count;
};

/* Retention of a tenant's raw points (days); the store keeps per-tenant overrides. */
struct mdx_retention {
    int64_t archive_after_days; /* raw points older than this move to object storage */
    int64_t expire_after_days;  /* archived objects older than this are deleted */
};

enum mdx_archive_state {
    MDX_ARCHIVE_PENDING = 0,  /* key chosen, upload may or may not have happened */
    MDX_ARCHIVE_VERIFIED,     /* read back and checked; raw rows may now be deleted */
    MDX_ARCHIVE_DONE          /* raw rows deleted */
};

/* One archived object: the points of one device for one UTC day (one of possibly several). */
struct mdx_archive_obj {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    int64_t day_ms;           /* start of the UTC day */
    int64_t seq;              /* 1, 2, ... for later objects of the same day */
    char key[512];            /* object key */
    int64_t size;             /* bytes */
    char sha256[65];          /* hex */
    int64_t points;
    int state;                /* enum mdx_archive_state */
    int64_t created_ms;
};

typedef int (*mdx_name_fn)(void *arg, const char *name);
typedef int (*mdx_device_fn)(void *arg, const struct mdx_device_info *dev);
typedef int (*mdx_point_fn)(void *arg, int64_t ts_ms, double value, unsigned flags);
typedef int (*mdx_deadletter_fn)(void *arg, const struct mdx_deadletter *dl);
typedef int (*mdx_count_fn)(void *arg, const char *name, int64_t count);
typedef int (*mdx_bucket_fn)(void *arg, const struct mdx_bucket *b);
/* A point with its sensor: latest values, exports. */
typedef int (*mdx_sensor_point_fn)(void *arg, const char *sensor, int64_t ts_ms, double value,
                                   unsigned flags);
/* A (tenant, device, UTC day) partition of raw points. */
typedef int (*mdx_partition_fn)(void *arg, const char *tenant, const char *device, int64_t day_ms);
typedef int (*mdx_archive_obj_fn)(void *arg, const struct mdx_archive_obj *obj);

struct mdx_rule;
struct mdx_alert;
struct mdx_alert_filter;
typedef int (*mdx_rule_fn)(void *arg, const struct mdx_rule *rule);
typedef int (*mdx_alert_fn)(void *arg, const struct mdx_alert *alert);
typedef int (*mdx_apikey_fn)(void *arg, const struct mdx_apikey *key);
typedef int (*mdx_command_fn)(void *arg, const struct mdx_command *cmd);
struct mdx_broker_identity;
typedef int (*mdx_identity_fn)(void *arg, const struct mdx_broker_identity *id);
/* Callbacks return MDX_OK to go on, anything else stops the walk and is returned. */

/* What each back end implements. 'impl' is the back end's own handle. */
struct mdx_store_ops {
    const char *name;
    int (*open)(const struct mdx_store_conf *conf, void **impl);
    void (*close)(void *impl);
    int (*tenant_add)(void *impl, const char *tenant);
    int (*tenant_list)(void *impl, mdx_name_fn fn, void *arg);
    int (*tenant_exists)(void *impl, const char *tenant);
    int (*device_add)(void *impl, const char *tenant, const char *device, int auto_registered);
    int (*device_get)(void *impl, const char *tenant, const char *device,
                      struct mdx_device_info *out);
    int (*device_list)(void *impl, const char *tenant, mdx_device_fn fn, void *arg);
    int (*sensor_list)(void *impl, const char *tenant, const char *device, mdx_name_fn fn,
                       void *arg);
    int (*write)(void *impl, const struct mdx_batch *batch, struct mdx_batch_result *res);
    int (*checkpoint_get)(void *impl, const char *owner, struct mdx_spool_pos *pos);
    int (*query_points)(void *impl, const struct mdx_query *q, mdx_point_fn fn, void *arg);
    int (*point_count)(void *impl, const char *tenant, int64_t *count);
    int (*deadletter_list)(void *impl, int64_t limit, mdx_deadletter_fn fn, void *arg);
    int (*deadletter_counts)(void *impl, mdx_count_fn fn, void *arg);
    int (*event_list)(void *impl, const char *tenant, const char *device, int64_t limit,
                      int (*fn)(void *arg, const struct mdx_event *ev), void *arg);
    /* Rollups and latest values (issue 3). */
    int (*query_buckets)(void *impl, const struct mdx_query *q, int64_t step_ms, mdx_bucket_fn fn,
                         void *arg);
    int (*latest)(void *impl, const char *tenant, const char *device, mdx_sensor_point_fn fn,
                  void *arg);
    /* Retention and archive (issue 3). */
    int (*retention_get)(void *impl, const char *tenant, struct mdx_retention *out);
    int (*retention_set)(void *impl, const char *tenant, const struct mdx_retention *r);
    int (*archive_partitions)(void *impl, const char *tenant, int64_t before_ms,
                              mdx_partition_fn fn, void *arg);
    int (*export_points)(void *impl, const char *tenant, const char *device, int64_t from_ms,
                         int64_t to_ms, mdx_sensor_point_fn fn, void *arg);
    int (*delete_points)(void *impl, const char *tenant, const char *device, int64_t from_ms,
                         int64_t to_ms, int64_t expect, int64_t *deleted);
    int (*archive_obj_put)(void *impl, const struct mdx_archive_obj *obj);
    int (*archive_obj_list)(void *impl, const char *tenant, int state, int64_t before_day_ms,
                            mdx_archive_obj_fn fn, void *arg);
    int (*archive_obj_delete)(void *impl, const char *key);
    /* Devices' types, rules and alerts (issue 4). */
    int (*device_set_type)(void *impl, const char *tenant, const char *device, const char *type);
    int (*rule_put)(void *impl, struct mdx_rule *rule);
    int (*rule_list)(void *impl, const char *tenant, mdx_rule_fn fn, void *arg);
    int (*rule_delete)(void *impl, const char *tenant, int64_t id);
    int (*alert_put)(void *impl, struct mdx_alert *alert);
    int (*alert_get)(void *impl, const char *tenant, int64_t id, struct mdx_alert *out);
    int (*alert_list)(void *impl, const struct mdx_alert_filter *f, mdx_alert_fn fn, void *arg);
    /* Device configuration, API keys and commands (issue 5). */
    int (*device_config_get)(void *impl, const char *tenant, const char *device,
                             struct mdx_device_config *out);
    int (*device_config_set)(void *impl, const char *tenant, const char *device,
                             const char *meta, const char *limits);
    int (*device_delete)(void *impl, const char *tenant, const char *device);
    int (*apikey_add)(void *impl, const struct mdx_apikey *key);
    int (*apikey_get)(void *impl, const char *id, struct mdx_apikey *out);
    int (*apikey_list)(void *impl, const char *tenant, mdx_apikey_fn fn, void *arg);
    int (*apikey_revoke)(void *impl, const char *id, int64_t now_ms);
    int (*command_put)(void *impl, struct mdx_command *cmd);
    int (*command_get)(void *impl, const char *tenant, int64_t id, struct mdx_command *out);
    int (*command_list)(void *impl, const char *tenant, const char *device, int64_t limit,
                        mdx_command_fn fn, void *arg);
    /* Broker credentials (issue 6). */
    int (*device_cred_set)(void *impl, const char *tenant, const char *device,
                           const char *secret_hash, const char *cert_fingerprint, int64_t now_ms);
    int (*device_cred_get)(void *impl, const char *device, struct mdx_device_cred *out);
    int (*device_revoke)(void *impl, const char *tenant, const char *device, int64_t now_ms);
    int (*identity_add)(void *impl, const struct mdx_broker_identity *id);
    int (*identity_get)(void *impl, const char *name, struct mdx_broker_identity *out);
    int (*identity_list)(void *impl, mdx_identity_fn fn, void *arg);
    int (*identity_revoke)(void *impl, const char *name, int64_t now_ms);
    /* RUL models and predictions (issue 7; see the end of this file). */
    const struct mdx_store_rul_ops *rul;
};

struct mdx_store {
    const struct mdx_store_ops *ops;
    void *impl;
};

/*
 * Opens the back end named by conf->backend and migrates its schema to the
 * newest version. Returns the handle, or NULL (the reason in *err).
 */
struct mdx_store *mdx_store_open(const struct mdx_store_conf *conf, int *err);
void mdx_store_close(struct mdx_store *st);

/* The functions below forward to the back end; see struct mdx_store_ops. */
/* MDX_EEXIST if the tenant exists; MDX_EINVAL for an invalid name. */
int mdx_store_tenant_add(struct mdx_store *st, const char *tenant);
int mdx_store_tenant_list(struct mdx_store *st, mdx_name_fn fn, void *arg);
/* MDX_OK if it exists, MDX_ENOTFOUND if not. */
int mdx_store_tenant_exists(struct mdx_store *st, const char *tenant);
/* MDX_ENOTFOUND if the tenant does not exist, MDX_EEXIST if the device does. */
int mdx_store_device_add(struct mdx_store *st, const char *tenant, const char *device,
                         int auto_registered);
/* MDX_ENOTFOUND if unknown. */
int mdx_store_device_get(struct mdx_store *st, const char *tenant, const char *device,
                         struct mdx_device_info *out);
int mdx_store_device_list(struct mdx_store *st, const char *tenant, mdx_device_fn fn, void *arg);
int mdx_store_sensor_list(struct mdx_store *st, const char *tenant, const char *device,
                          mdx_name_fn fn, void *arg);
/*
 * Applies 'batch' atomically. Tenants and devices of its groups and events
 * must be registered (the engine checks). Returns MDX_OK, or MDX_EBUSY /
 * MDX_EFULL / MDX_EIO for failures the caller retries (nothing was
 * stored), or another code.
 */
int mdx_store_write(struct mdx_store *st, const struct mdx_batch *batch,
                    struct mdx_batch_result *res);
/* Spool position of the last batch 'owner' (an ingest worker) wrote; {0,0} if none. */
int mdx_store_checkpoint_get(struct mdx_store *st, const char *owner, struct mdx_spool_pos *pos);
/* Calls fn for each point of q, in time order. */
int mdx_store_query_points(struct mdx_store *st, const struct mdx_query *q, mdx_point_fn fn,
                           void *arg);
/* Total points stored for 'tenant' (NULL: all tenants). */
int mdx_store_point_count(struct mdx_store *st, const char *tenant, int64_t *count);
/* Newest dead letters first. */
int mdx_store_deadletter_list(struct mdx_store *st, int64_t limit, mdx_deadletter_fn fn,
                              void *arg);
/* Refusals counted per reason since the store was created. */
int mdx_store_deadletter_counts(struct mdx_store *st, mdx_count_fn fn, void *arg);
/* Newest events of a device first. */
int mdx_store_event_list(struct mdx_store *st, const char *tenant, const char *device,
                         int64_t limit, int (*fn)(void *arg, const struct mdx_event *ev),
                         void *arg);

/*
 * Aggregates of q's series in buckets of 'step_ms' aligned to the epoch,
 * oldest first, only buckets that have points. Served from the hour rollup
 * when step_ms is a multiple of an hour, from the minute rollup when it is
 * a multiple of a minute, else from raw points. q->limit bounds buckets.
 * MDX_EINVAL for step_ms <= 0.
 */
int mdx_store_query_buckets(struct mdx_store *st, const struct mdx_query *q, int64_t step_ms,
                            mdx_bucket_fn fn, void *arg);
/* The newest point of each sensor of a device, sensors in name order. */
int mdx_store_latest(struct mdx_store *st, const char *tenant, const char *device,
                     mdx_sensor_point_fn fn, void *arg);
/* The tenant's override, MDX_ENOTFOUND if it has none (the archiver then uses its config). */
int mdx_store_retention_get(struct mdx_store *st, const char *tenant, struct mdx_retention *out);
/* Sets the tenant's override; MDX_ENOTFOUND for an unknown tenant. */
int mdx_store_retention_set(struct mdx_store *st, const char *tenant,
                            const struct mdx_retention *r);
/*
 * Calls fn for each (device, UTC day) of 'tenant' that holds raw points
 * and ends at or before 'before_ms', oldest day first.
 */
int mdx_store_archive_partitions(struct mdx_store *st, const char *tenant, int64_t before_ms,
                                 mdx_partition_fn fn, void *arg);
/* Raw points of a device in [from_ms, to_ms), ordered by sensor name, then time. */
int mdx_store_export_points(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t from_ms, int64_t to_ms, mdx_sensor_point_fn fn, void *arg);
/*
 * Deletes raw points of a device in [from_ms, to_ms) (rollups stay); *deleted
 * counts them. With expect >= 0 the delete happens only if the range holds
 * exactly 'expect' points at that moment (atomically); otherwise nothing is
 * deleted and MDX_EAGAIN returned: a point arrived after they were counted.
 */
int mdx_store_delete_points(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t from_ms, int64_t to_ms, int64_t expect, int64_t *deleted);
/* Inserts or replaces the record of obj->key. */
int mdx_store_archive_obj_put(struct mdx_store *st, const struct mdx_archive_obj *obj);
/*
 * Archive records of 'tenant' (NULL: all) in 'state' (-1: any) whose day is
 * before 'before_day_ms' (<= 0: any), oldest day first, then seq.
 */
int mdx_store_archive_obj_list(struct mdx_store *st, const char *tenant, int state,
                               int64_t before_day_ms, mdx_archive_obj_fn fn, void *arg);
int mdx_store_archive_obj_delete(struct mdx_store *st, const char *key);

/* Sets a device's type ("" clears it); MDX_ENOTFOUND for an unknown device. */
int mdx_store_device_set_type(struct mdx_store *st, const char *tenant, const char *device,
                              const char *type);
/*
 * Stores a rule: inserts it (rule->id set) or, when the tenant already has a
 * rule with the same (name, device_type, device), replaces that one (its id
 * is kept and set). MDX_ENOTFOUND for an unknown tenant, MDX_EINVAL for bad
 * names. A new tenant gets the default rules (see struct mdx_rule).
 */
int mdx_store_rule_put(struct mdx_store *st, struct mdx_rule *rule);
/* The tenant's rules (NULL: all tenants), by name then specificity. */
int mdx_store_rule_list(struct mdx_store *st, const char *tenant, mdx_rule_fn fn, void *arg);
/* MDX_ENOTFOUND if the tenant has no rule 'id'. */
int mdx_store_rule_delete(struct mdx_store *st, const char *tenant, int64_t id);
/*
 * Inserts (alert->id == 0; the id is set) or updates an alert (state,
 * updated/resolved times, value, score, summary). Outside a batch: for
 * operators' acknowledge and resolve. MDX_ENOTFOUND for an unknown id.
 */
int mdx_store_alert_put(struct mdx_store *st, struct mdx_alert *alert);
/* Alert 'id' of 'tenant' (NULL: any tenant); MDX_ENOTFOUND otherwise, also for another tenant's. */
int mdx_store_alert_get(struct mdx_store *st, const char *tenant, int64_t id,
                        struct mdx_alert *out);
int mdx_store_alert_list(struct mdx_store *st, const struct mdx_alert_filter *f, mdx_alert_fn fn,
                         void *arg);

/*
 * A device's metadata and limits; MDX_ENOTFOUND for an unknown device. A
 * device that never had them set reads "{}" for both.
 */
int mdx_store_device_config_get(struct mdx_store *st, const char *tenant, const char *device,
                                struct mdx_device_config *out);
/*
 * Sets a device's metadata and/or limits (NULL keeps the stored one); the
 * caller has checked they are JSON objects under MDX_DEVICE_JSON_MAX bytes.
 * MDX_ENOTFOUND for an unknown device.
 */
int mdx_store_device_config_set(struct mdx_store *st, const char *tenant, const char *device,
                                const char *meta, const char *limits);
/*
 * Deletes a device with its points, rollups, events, alerts and commands.
 * MDX_ENOTFOUND for an unknown device. (Its dead letters stay: they are
 * the record of what was refused.)
 */
int mdx_store_device_delete(struct mdx_store *st, const char *tenant, const char *device);
/* MDX_EEXIST for a taken id; MDX_ENOTFOUND for an unknown tenant (tenant "" = platform key). */
int mdx_store_apikey_add(struct mdx_store *st, const struct mdx_apikey *key);
/* The key with this id, revoked or not; MDX_ENOTFOUND if none. */
int mdx_store_apikey_get(struct mdx_store *st, const char *id, struct mdx_apikey *out);
/* Keys of 'tenant' ("" = platform keys, NULL = all), oldest first. */
int mdx_store_apikey_list(struct mdx_store *st, const char *tenant, mdx_apikey_fn fn, void *arg);
/* Marks a key revoked at now_ms; MDX_ENOTFOUND if none, MDX_EEXIST if revoked already. */
int mdx_store_apikey_revoke(struct mdx_store *st, const char *id, int64_t now_ms);
/*
 * Inserts (cmd->id == 0; the id is set) or updates a command's state,
 * detail and updated time. MDX_ENOTFOUND for an unknown device or id.
 * The device's command_ack events update it too, inside mdx_store_write().
 */
int mdx_store_command_put(struct mdx_store *st, struct mdx_command *cmd);
/* Command 'id' of 'tenant'; MDX_ENOTFOUND otherwise, also for another tenant's. */
int mdx_store_command_get(struct mdx_store *st, const char *tenant, int64_t id,
                          struct mdx_command *out);
/* Newest first; device NULL = the whole tenant; limit 0 = all. */
int mdx_store_command_list(struct mdx_store *st, const char *tenant, const char *device,
                           int64_t limit, mdx_command_fn fn, void *arg);

/*
 * Sets a device's broker credentials (NULL keeps the stored value, "" clears
 * it) and clears a revocation. MDX_ENOTFOUND for an unknown device;
 * MDX_EEXIST if another tenant's device with the same id, or a broker
 * identity of that name, exists.
 */
int mdx_store_device_cred_set(struct mdx_store *st, const char *tenant, const char *device,
                              const char *secret_hash, const char *cert_fingerprint,
                              int64_t now_ms);
/* The credentials of device id 'device' (any tenant); MDX_ENOTFOUND if it has none. */
int mdx_store_device_cred_get(struct mdx_store *st, const char *device,
                              struct mdx_device_cred *out);
/* Revokes a device's broker access at now_ms; MDX_ENOTFOUND for an unknown device. */
int mdx_store_device_revoke(struct mdx_store *st, const char *tenant, const char *device,
                            int64_t now_ms);
/* MDX_EEXIST if the name is taken (by an identity or a device id); MDX_ENOTFOUND unknown tenant. */
int mdx_store_identity_add(struct mdx_store *st, const struct mdx_broker_identity *id);
/* MDX_ENOTFOUND if none. */
int mdx_store_identity_get(struct mdx_store *st, const char *name,
                           struct mdx_broker_identity *out);
int mdx_store_identity_list(struct mdx_store *st, mdx_identity_fn fn, void *arg);
/* MDX_ENOTFOUND if none, MDX_EEXIST if revoked already. */
int mdx_store_identity_revoke(struct mdx_store *st, const char *name, int64_t now_ms);

/* Parses "avg", "min", "max", "count"; MDX_EINVAL otherwise. */
int mdx_agg_parse(const char *name, enum mdx_agg *out);
/* The value of 'agg' for bucket 'b'. */
double mdx_bucket_value(const struct mdx_bucket *b, enum mdx_agg agg);

extern const struct mdx_store_ops mdx_store_sqlite;
extern const struct mdx_store_ops mdx_store_pgsql;

/*
 * Remaining-useful-life models and predictions (issue 7). A model version
 * is registered once (its file and manifest); each tenant may activate one
 * version, tenant "" being the platform default used by tenants without
 * their own. The live stage (rul_live.h) writes predictions: the latest
 * per device, and a bounded history.
 */
#define MDX_RUL_VERSION_MAX 64      /* bytes of a model version, with NUL */
#define MDX_RUL_PATH_MAX 1024       /* bytes of a model file path, with NUL */
#define MDX_RUL_MANIFEST_JSON_MAX 16384 /* bytes of a manifest's JSON, with NUL */
#define MDX_RUL_REASON_MAX 128      /* bytes of a "no prediction" reason, with NUL */

struct mdx_rul_model_rec {
    char version[MDX_RUL_VERSION_MAX];   /* [A-Za-z0-9_.:-]{1,63} */
    char path[MDX_RUL_PATH_MAX];         /* the XGBoost JSON file (manifest next to it) */
    char manifest[MDX_RUL_MANIFEST_JSON_MAX]; /* the manifest, as registered */
    int64_t created_ms;
};

struct mdx_rul_prediction {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    int64_t ts_ms;            /* point time of the newest row the prediction is for */
    double rul;               /* cycles (rows); NaN: no prediction, 'reason' says why */
    char model_version[MDX_RUL_VERSION_MAX];
    char reason[MDX_RUL_REASON_MAX]; /* e.g. "needs 12 more rows"; "" with a prediction */
    int64_t reason_ms;        /* when 'reason' was set (latest only) */
};

typedef int (*mdx_rul_model_fn)(void *arg, const struct mdx_rul_model_rec *m);
/* tenant "" = the platform default. */
typedef int (*mdx_rul_active_fn)(void *arg, const char *tenant, const char *version);
typedef int (*mdx_rul_prediction_fn)(void *arg, const struct mdx_rul_prediction *p);

/* What each back end implements for RUL (store_sqlite_rul.c, store_pgsql_rul.c). */
struct mdx_store_rul_ops {
    int (*model_put)(void *impl, const struct mdx_rul_model_rec *m);
    int (*model_get)(void *impl, const char *version, struct mdx_rul_model_rec *out);
    int (*model_list)(void *impl, mdx_rul_model_fn fn, void *arg);
    int (*model_activate)(void *impl, const char *tenant, const char *version, int64_t now_ms);
    int (*model_active)(void *impl, const char *tenant, char *version, size_t len);
    int (*active_list)(void *impl, mdx_rul_active_fn fn, void *arg);
    int (*threshold_get)(void *impl, const char *tenant, double *cycles);
    int (*threshold_set)(void *impl, const char *tenant, double cycles);
    int (*prediction_put)(void *impl, const struct mdx_rul_prediction *p, size_t n, int64_t keep);
    int (*prediction_latest)(void *impl, const char *tenant, const char *device,
                             struct mdx_rul_prediction *out);
    int (*prediction_list)(void *impl, const char *tenant, const char *device, int64_t limit,
                           mdx_rul_prediction_fn fn, void *arg);
};
extern const struct mdx_store_rul_ops mdx_store_sqlite_rul;
extern const struct mdx_store_rul_ops mdx_store_pgsql_rul;

/* Registers a model version; MDX_EEXIST if the version exists, MDX_EINVAL for a bad version. */
int mdx_store_rul_model_put(struct mdx_store *st, const struct mdx_rul_model_rec *m);
/* MDX_ENOTFOUND if unknown. */
int mdx_store_rul_model_get(struct mdx_store *st, const char *version,
                            struct mdx_rul_model_rec *out);
/* Oldest first. */
int mdx_store_rul_model_list(struct mdx_store *st, mdx_rul_model_fn fn, void *arg);
/*
 * Makes 'version' the active model of 'tenant' ("" = the platform default).
 * MDX_ENOTFOUND for an unknown version or tenant.
 */
int mdx_store_rul_model_activate(struct mdx_store *st, const char *tenant, const char *version,
                                 int64_t now_ms);
/*
 * The version that serves 'tenant': its own, else the platform default
 * (tenant "" asks for the default only). MDX_ENOTFOUND if none.
 */
int mdx_store_rul_model_active(struct mdx_store *st, const char *tenant, char *version,
                               size_t len);
/* Every activation (tenant "" first, then by tenant name). */
int mdx_store_rul_active_list(struct mdx_store *st, mdx_rul_active_fn fn, void *arg);
/* A tenant's alert threshold (cycles); MDX_ENOTFOUND if it has none (the config's applies). */
int mdx_store_rul_threshold_get(struct mdx_store *st, const char *tenant, double *cycles);
/* Sets it (NaN clears it); MDX_ENOTFOUND for an unknown tenant, MDX_EINVAL for cycles < 0. */
int mdx_store_rul_threshold_set(struct mdx_store *st, const char *tenant, double cycles);
/*
 * Stores n predictions in one transaction. One with a finite rul becomes
 * its device's latest and joins its history (which keeps the newest 'keep'
 * per device); one with rul NaN only sets the latest's reason (a previous
 * prediction stays readable). Unknown devices are skipped.
 */
int mdx_store_rul_prediction_put(struct mdx_store *st, const struct mdx_rul_prediction *p,
                                 size_t n, int64_t keep);
/*
 * A device's latest: its newest prediction (rul NaN if it never had one)
 * and the current reason. MDX_ENOTFOUND when nothing was ever stored for it.
 */
int mdx_store_rul_prediction_latest(struct mdx_store *st, const char *tenant,
                                    const char *device, struct mdx_rul_prediction *out);
/*
 * device NULL: the latest of each device of 'tenant', by device name;
 * else the device's history, newest first. limit 0 = all.
 */
int mdx_store_rul_prediction_list(struct mdx_store *st, const char *tenant, const char *device,
                                  int64_t limit, mdx_rul_prediction_fn fn, void *arg);

#endif
