/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub.h - one live-stream client of the hub (hub.c), below the HTTP route:
 * open, read the SSE text, free. The route uses these with a libmicrohttpd
 * connection; the unit test uses them without one (conn NULL), which
 * turns suspension into "nothing to read" (0).
 */
#ifndef MODAX_API_HUB_H
#define MODAX_API_HUB_H

#include <stddef.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "api/api_int.h"

/* An SSE frame ("event: ...\ndata: ...\n\n") larger than this is dropped and counted. */
#define API_HUB_EVENT_MAX 8192
/* Bytes queued for one client at most; beyond it the client is dropped like a full queue. */
#define API_HUB_CLIENT_BYTES_MAX (128 * 1024)
/* A comment line is sent to an idle stream this often. */
#define API_HUB_PING_MS 15000

struct api_hub_client;

/*
 * Registers a stream of 'tenant' ('device' "" or NULL: all its devices) on
 * connection 'conn' (socket 'fd', -1 if unknown; both unused when conn is
 * NULL). MDX_OK with *out; MDX_EFULL at stream_max_clients (counted);
 * MDX_ESTOPPED when the hub is shutting down; MDX_ENOMEM.
 */
int api_hub_client_open(struct api_hub *h, const char *tenant, const char *device,
                        struct MHD_Connection *conn, int fd, struct api_hub_client **out);
/*
 * MHD content reader: copies queued SSE text into buf. With nothing to send
 * it suspends the connection and returns 0 (resumed by the next event, a
 * ping or shutdown); a dropped client or a stopping hub ends the stream
 * (MHD_CONTENT_READER_END_WITH_ERROR).
 */
ssize_t api_hub_client_read(void *client, uint64_t pos, char *buf, size_t max);
/* MHD free callback: unregisters and frees the client. */
void api_hub_client_free(void *client);

/*
 * Keeps 'h' allocated for a user outside the server's ownership (the MQTT
 * link, which may deliver after api_hub_destroy(): publishing to a stopped
 * hub does nothing). Each hold is ended by one release.
 */
void api_hub_hold(struct api_hub *h);
void api_hub_release(struct api_hub *h);

/*
 * Non-zero if a stream may want the events of 'tenant' / 'device' now: a
 * few atomic loads, no lock (watch.h), for callers that would otherwise
 * format events nobody reads. Can say yes in vain, never no to a stream
 * opened before the call.
 */
int api_hub_watched(const struct api_hub *h, const char *tenant, const char *device);
/* The hub's viewer counts (watch.h). Borrowed: valid while the hub is held. */
struct api_watch *api_hub_watch(struct api_hub *h);

/* Sends the ping comment to every idle stream now (the timer does so every API_HUB_PING_MS). */
void api_hub_ping(struct api_hub *h);

#endif
