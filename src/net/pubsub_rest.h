/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pubsub_rest.h - what every client of Google Pub/Sub's REST API in the
 * service shares (the ingest's source, the command path): resource ids,
 * the URL of a topic or subscription, and when credentials are needed.
 * $PUBSUB_EMULATOR_HOST (host:port) wins over the endpoint and means plain
 * HTTP and no credentials, as for Google's client libraries.
 */
#ifndef MODAX_NET_PUBSUB_REST_H
#define MODAX_NET_PUBSUB_REST_H

/* Non-zero if 's' is a Pub/Sub resource id: letters, digits and - . _ ~ + %, not empty. */
int mdx_pubsub_id_ok(const char *s);
/*
 * The URL of resource 'kind' ("topics", "subscriptions") 'id' of 'project'
 * at 'endpoint' (or the emulator), followed by 'suffix' (e.g. ":publish",
 * or ""). A new string (mdx_free), NULL when out of memory.
 */
char *mdx_pubsub_url(const char *endpoint, const char *project, const char *kind,
                     const char *id, const char *suffix);
/* Non-zero when 'credentials' (a gcp_creds mode, or "none") asks for tokens here. */
int mdx_pubsub_wants_creds(const char *credentials);

#endif
