/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_catalog.h - the store's catalog: tenants, devices, and what
 * operators set on a device (type, metadata, safety limits).
 *
 * Included by store.h; see there for the handle and the rules every store
 * function follows (returns, callbacks, ownership).
 */
#ifndef MODAX_STORE_CATALOG_H
#define MODAX_STORE_CATALOG_H

#include <stdint.h>

#include "modax/msg.h"

struct mdx_store;

struct mdx_device_info {
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    char type[MDX_NAME_MAX + 1];   /* device type, "" if none (rules can target types) */
    int64_t created_ms;
    int64_t last_seen_ms;     /* 0 if never seen */
    int auto_registered;
    /* Kept by mdx_store_write() from the device's status and safety events: */
    char status[16];          /* "online", "offline", "" if it never reported */
    int64_t status_ms;        /* time of that status event, 0 if none */
    int emergency_stop;       /* 1 while the newest safety event says emergency_stop: true */
    int64_t safety_ms;        /* time of that safety event, 0 if none */
    unsigned interlocks;      /* MDX_INTERLOCK_* that the safety events say hold now */
};

/*
 * The interlocks of the original MODAX control layer: while any holds, a
 * device takes no command (command.h). Each safety event sets or clears the
 * ones whose key it carries (emergency_stop true, door_closed false,
 * overload_detected true, temperature_ok false) and leaves the others.
 * One safety time is kept per device: a message older than the newest
 * applied one is ignored whole, even for keys the newer one did not carry
 * (the original firmware sends all four keys in every message).
 */
enum mdx_interlock {
    MDX_INTERLOCK_EMERGENCY_STOP = 1,
    MDX_INTERLOCK_DOOR_OPEN = 2,
    MDX_INTERLOCK_OVERLOAD = 4,
    MDX_INTERLOCK_TEMPERATURE = 8
};
/* Name of one interlock bit ("emergency_stop", "door_open", "overload", "temperature"). */
const char *mdx_interlock_name(unsigned bit);

#define MDX_DEVICE_JSON_MAX 4096  /* bytes of a device's metadata or limits JSON, with NUL */

/*
 * What operators set on a device: free metadata, and the safety limits
 * commands are checked against (command.h), both compact JSON objects.
 */
struct mdx_device_config {
    char meta[MDX_DEVICE_JSON_MAX];    /* e.g. {"line":"L2","model":"P-400"}; "{}" if none */
    char limits[MDX_DEVICE_JSON_MAX];  /* {"speed_pct":{"min":0,"max":100},...}; "{}" if none */
};

/* A name (tenant, sensor). 'name' is borrowed for the call only. */
typedef int (*mdx_name_fn)(void *arg, const char *name);
/* A device. 'dev' is borrowed for the call only: copy what you keep. */
typedef int (*mdx_device_fn)(void *arg, const struct mdx_device_info *dev);

/* MDX_OK; MDX_EEXIST if the tenant exists; MDX_EINVAL for an invalid name. */
int mdx_store_tenant_add(struct mdx_store *st, const char *tenant);
/* Calls fn for each tenant, by name. MDX_OK, fn's stop value, or an error. */
int mdx_store_tenant_list(struct mdx_store *st, mdx_name_fn fn, void *arg);
/* MDX_OK if it exists, MDX_ENOTFOUND if not, else an error. */
int mdx_store_tenant_exists(struct mdx_store *st, const char *tenant);
/*
 * A tenant's legacy-topics flag: 1 lets its devices use the original MODAX
 * firmware's topics (modax/sensor/data, modax/sensor/safety,
 * modax/control/commands), which the broker plugin maps to the device's own
 * modax/{tenant}/{device}/... topics; 0 (the default) refuses them.
 * get: *on; MDX_OK, MDX_ENOTFOUND for an unknown tenant. set: MDX_OK,
 * MDX_ENOTFOUND for an unknown tenant.
 */
int mdx_store_tenant_legacy_get(struct mdx_store *st, const char *tenant, int *on);
int mdx_store_tenant_legacy_set(struct mdx_store *st, const char *tenant, int on);
/* MDX_OK; MDX_ENOTFOUND if the tenant does not exist, MDX_EEXIST if the device does. */
int mdx_store_device_add(struct mdx_store *st, const char *tenant, const char *device,
                         int auto_registered);
/* Fills *out (owned by the caller). MDX_OK, MDX_ENOTFOUND if unknown, else an error. */
int mdx_store_device_get(struct mdx_store *st, const char *tenant, const char *device,
                         struct mdx_device_info *out);
/*
 * Calls fn for each device of 'tenant' (NULL: all tenants), by tenant then
 * device name. MDX_OK, fn's stop value, or an error.
 */
int mdx_store_device_list(struct mdx_store *st, const char *tenant, mdx_device_fn fn, void *arg);
/* Sets a device's type ("" clears it). MDX_OK; MDX_ENOTFOUND for an unknown device. */
int mdx_store_device_set_type(struct mdx_store *st, const char *tenant, const char *device,
                              const char *type);
/*
 * A device's metadata and limits into *out (owned by the caller); MDX_OK,
 * MDX_ENOTFOUND for an unknown device. A device that never had them set
 * reads "{}" for both.
 */
int mdx_store_device_config_get(struct mdx_store *st, const char *tenant, const char *device,
                                struct mdx_device_config *out);
/*
 * Sets a device's metadata and/or limits (NULL keeps the stored one); the
 * caller has checked they are JSON objects under MDX_DEVICE_JSON_MAX bytes.
 * MDX_OK; MDX_ENOTFOUND for an unknown device.
 */
int mdx_store_device_config_set(struct mdx_store *st, const char *tenant, const char *device,
                                const char *meta, const char *limits);
/*
 * Deletes a device with its points, rollups, events, alerts and commands.
 * MDX_OK; MDX_ENOTFOUND for an unknown device. (Its dead letters stay:
 * they are the record of what was refused.)
 */
int mdx_store_device_delete(struct mdx_store *st, const char *tenant, const char *device);

/* What a back end implements for the catalog. 'impl' is its own handle. */
struct mdx_store_catalog_ops {
    int (*tenant_add)(void *impl, const char *tenant);
    int (*tenant_list)(void *impl, mdx_name_fn fn, void *arg);
    int (*tenant_exists)(void *impl, const char *tenant);
    int (*tenant_legacy_get)(void *impl, const char *tenant, int *on);
    int (*tenant_legacy_set)(void *impl, const char *tenant, int on);
    int (*device_add)(void *impl, const char *tenant, const char *device, int auto_registered);
    int (*device_get)(void *impl, const char *tenant, const char *device,
                      struct mdx_device_info *out);
    int (*device_list)(void *impl, const char *tenant, mdx_device_fn fn, void *arg);
    int (*device_set_type)(void *impl, const char *tenant, const char *device, const char *type);
    int (*device_config_get)(void *impl, const char *tenant, const char *device,
                             struct mdx_device_config *out);
    int (*device_config_set)(void *impl, const char *tenant, const char *device,
                             const char *meta, const char *limits);
    int (*device_delete)(void *impl, const char *tenant, const char *device);
};

#endif
