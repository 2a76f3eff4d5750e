/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h - the ingest's cache of which (tenant, device) pairs may send.
 *
 * Answers from memory for known devices; asks the store on a miss and
 * remembers refusals for a few seconds, so a flood from an unregistered
 * device costs one store lookup per interval, not one per message.
 * Bounded: when full, the cache is emptied and refilled from the store.
 */
#ifndef MODAX_PIPELINE_REGISTRY_H
#define MODAX_PIPELINE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "modax/store.h"

struct mdx_registry;

/* 'store' is borrowed. 'max_entries' bounds memory; 'auto_register' adds unknown devices. */
struct mdx_registry *mdx_registry_create(struct mdx_store *store, size_t max_entries,
                                         int auto_register);
void mdx_registry_destroy(struct mdx_registry *reg);

/*
 * MDX_OK if (tenant, device) may send (registering it when auto-register
 * is on and the tenant exists); MDX_EINVAL with *why "unknown tenant" or
 * "unknown device" if not; another code if the store failed (retry).
 */
int mdx_registry_check(struct mdx_registry *reg, const char *tenant, const char *device,
                       int64_t now_ms, const char **why);

#endif
