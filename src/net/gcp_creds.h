/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcp_creds.h - Google Cloud OAuth 2.0 access tokens that rotate
 * (gcp_creds.c), for every client of a Google API in the service: the
 * Pub/Sub source and the archive's object store on Cloud Storage.
 *
 * Where a token comes from (mode):
 *   service_account  a service-account key file (JSON): a JWT signed with its
 *                    RSA key (RS256) is exchanged at its token_uri for a token
 *                    (the OAuth "jwt-bearer" grant); the file is read again
 *                    at each refresh, so a rotated key is picked up
 *   metadata         the GKE/GCE metadata server: the token of the workload's
 *                    service account (GKE Workload Identity)
 *   token_file       a file holding an access token kept fresh by another
 *                    process; read again every minute and after a refusal
 *   auto             the key file if one is configured, else the token file
 *                    if one is configured, else $GOOGLE_APPLICATION_CREDENTIALS
 *                    (a key file, as Google's client libraries take it), else
 *                    the metadata server
 * Tokens with a lifetime are fetched again at half of it or five minutes
 * before expiry, whichever comes first. Tokens and the private key are
 * secrets: never logged, wiped before they are freed.
 *
 * Not thread-safe: one provider per client object (one per thread).
 */
#ifndef MODAX_NET_GCP_CREDS_H
#define MODAX_NET_GCP_CREDS_H

#include <stddef.h>
#include <stdint.h>

/* The OAuth scopes the service asks service-account tokens for. */
#define MDX_GCP_SCOPE_PUBSUB "https://www.googleapis.com/auth/pubsub"
#define MDX_GCP_SCOPE_STORAGE "https://www.googleapis.com/auth/devstorage.read_write"

/* What a provider is made from. Borrowed strings; NULL or "" means not set. */
struct mdx_gcp_creds_conf {
    const char *what;          /* config prefix named in reasons, e.g. "pubsub" */
    const char *mode;          /* auto, service_account, metadata, token_file */
    const char *key_file;      /* service_account: the JSON key */
    const char *token_file;    /* token_file: the access token */
    const char *metadata_host; /* metadata: host[:port]; $GCE_METADATA_HOST wins */
    const char *scope;         /* service_account: the scope asked for */
    const char *ca_file;       /* CA bundle (PEM) for https token endpoints; NULL: the system's */
    int64_t timeout_ms;        /* one HTTP request */
};

struct mdx_gcp_creds;

/*
 * A provider for 'conf'. A key file is read and checked here (JSON with
 * client_email and an RSA private_key in PEM), so a wrong one stops the
 * start. NULL with *err MDX_ECONF and the reason in 'why' (never a
 * secret) when the configuration is unusable; MDX_ENOMEM.
 */
struct mdx_gcp_creds *mdx_gcp_creds_create(const struct mdx_gcp_creds_conf *conf, int *err,
                                           char *why, size_t why_len);
/* Wipes the token and frees 'c'; NULL is fine. */
void mdx_gcp_creds_destroy(struct mdx_gcp_creds *c);

/* "service_account", "metadata" or "token_file": where the tokens come from. Static. */
const char *mdx_gcp_creds_source(const struct mdx_gcp_creds *c);

/*
 * The access token to send at wall time 'now_ms' (borrowed until the next
 * call), fetched again when due. A failed refresh keeps a token that is
 * still valid (and tries again after 10 s); without one it is MDX_EAGAIN
 * (endpoint unreachable or failing, file unreadable) or MDX_EDENIED (the
 * token endpoint refused the grant), with the reason in 'why'.
 */
int mdx_gcp_creds_get(struct mdx_gcp_creds *c, int64_t now_ms, const char **token, char *why,
                      size_t why_len);

/* The server refused the token (401): the next get fetches a new one. */
void mdx_gcp_creds_invalidate(struct mdx_gcp_creds *c);

#endif
