/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watch.h - who watches the live stream now: viewer counts per tenant (a
 * stream of all its devices) and per (tenant, device) (a ?device= stream).
 *
 * The hub (hub.c) counts each client in when it opens and out when it
 * goes. Two readers use the counts:
 *  - the in-process live stage (live_stage.c), on the ingest's writer
 *    thread, asks api_watch_any() before it formats anything: a few atomic
 *    loads, no lock, so a message nobody watches costs next to nothing;
 *  - the MQTT link of an API running alone (link.c) subscribes to the
 *    sensor_data of what is watched: its listener hears when a topic filter
 *    becomes wanted or unwanted.
 * Memory is bounded by the hub's client cap: one entry per watched key.
 */
#ifndef MODAX_API_WATCH_H
#define MODAX_API_WATCH_H

#include <stddef.h>

struct api_watch;

/*
 * Told that the sensor_data of 'tenant' / 'device' is wanted (on = 1) or
 * no longer (on = 0); 'device' "" means every device of the tenant (then
 * no filter of a single device of that tenant is wanted beside it, so the
 * broker never delivers one message twice). Called under the watch's
 * lock, in the order of the changes: it must not call back into the watch
 * and must not block (queueing an MQTT (un)subscribe is fine).
 */
typedef void (*api_watch_fn)(void *arg, const char *tenant, const char *device, int on);

/* An empty watch. NULL when out of memory. */
struct api_watch *api_watch_create(void);
/* Frees; the listener must be gone. NULL is fine. */
void api_watch_destroy(struct api_watch *w);

/*
 * Counts one viewer of 'tenant' in ('device' "" or NULL: all its devices).
 * MDX_OK, or MDX_ENOMEM (then nothing was counted).
 */
int api_watch_add(struct api_watch *w, const char *tenant, const char *device);
/* Counts one viewer out; each successful api_watch_add() is ended by one call. */
void api_watch_remove(struct api_watch *w, const char *tenant, const char *device);

/*
 * Non-zero if a viewer may want the events of 'tenant' / 'device' now.
 * Lock-free; can answer yes for a key nobody watches (two keys sharing a
 * counter), never no for a viewer counted in before the call.
 */
int api_watch_any(const struct api_watch *w, const char *tenant, const char *device);

/*
 * Sets the listener ('fn' NULL: none) and calls it with on = 1 for every
 * filter wanted now. Once it returns with fn NULL, the old listener is not
 * called any more.
 */
void api_watch_listen(struct api_watch *w, api_watch_fn fn, void *arg);
/* Calls 'fn' with on = 1 for every filter wanted now (a reconnected link resubscribes). */
void api_watch_each(struct api_watch *w, api_watch_fn fn, void *arg);

#endif
