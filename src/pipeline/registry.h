/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h - the ingest's cache of which (tenant, device) pairs may send,
 * and what the stages need to know of each device (stage.h's struct
 * mdx_device_ref: its type).
 *
 * Answers from memory for known devices; asks the store on a miss and
 * remembers refusals for MDX_REGISTRY_REFUSAL_TTL_MS, so a flood from an
 * unregistered device costs one store lookup per interval, not one per
 * message. Bounded: when full, the cache is emptied and refilled from the
 * store.
 *
 * Freshness: a known device's entry is re-read from the store when it is
 * older than MDX_REGISTRY_REFRESH_MS (on the first message after that), so
 * an operator's change of a device's type reaches the stages, and the
 * rules of the new type apply, within that time. A device deleted
 * meanwhile is then refused (or registered again with auto-register). If
 * the store fails during such a re-read, the cached answer stands and the
 * re-read is tried again after MDX_REGISTRY_REFUSAL_TTL_MS.
 */
#ifndef MODAX_PIPELINE_REGISTRY_H
#define MODAX_PIPELINE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "modax/stage.h"
#include "modax/store.h"

#define MDX_REGISTRY_REFUSAL_TTL_MS 5000  /* a refusal is re-checked against the store after this */
#define MDX_REGISTRY_REFRESH_MS 60000     /* a known device is re-read from the store after this */

struct mdx_registry;

/*
 * 'store' is borrowed. 'max_entries' bounds memory (entries are allocated
 * at creation); 'auto_register' adds unknown devices of known tenants.
 * NULL when out of memory.
 */
struct mdx_registry *mdx_registry_create(struct mdx_store *store, size_t max_entries,
                                         int auto_register);
void mdx_registry_destroy(struct mdx_registry *reg);

/*
 * MDX_OK if (tenant, device) may send (registering it when auto-register
 * is on and the tenant exists), with 'out' filled: its tenant and device
 * are the arguments, its type is borrowed from the cache and valid until
 * the next call. MDX_EINVAL with *why "unknown tenant" or "unknown device"
 * if not; another code if the store failed (retry). 'now_ms' is the
 * caller's clock, which the TTLs above are measured on.
 */
int mdx_registry_check(struct mdx_registry *reg, const char *tenant, const char *device,
                       int64_t now_ms, struct mdx_device_ref *out, const char **why);

#endif
