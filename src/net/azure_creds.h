/* SPDX-License-Identifier: Apache-2.0 */
/*
 * azure_creds.h - Entra ID access tokens from Azure Workload Identity
 * (azure_creds.c), for every client of an Azure resource in the service:
 * the archive's Blob Storage (a bearer token) and the PostgreSQL store on
 * Azure Database for PostgreSQL flexible server (the token is the
 * password), so that a pod in AKS needs neither an account key nor a
 * database password.
 *
 * The pod's federated token ($AZURE_FEDERATED_TOKEN_FILE, projected and
 * rotated by the kubelet; read again at each refresh) is exchanged at
 * $AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token (the OAuth
 * client-credentials grant with a jwt-bearer client assertion) for client
 * $AZURE_CLIENT_ID and the configured scope. A token is fetched again at
 * half its life or five minutes before expiry, whichever comes first.
 * Tokens are secrets: never logged, wiped before they are freed.
 *
 * Not thread-safe: one provider per client object (one per thread).
 */
#ifndef MODAX_NET_AZURE_CREDS_H
#define MODAX_NET_AZURE_CREDS_H

#include <stddef.h>
#include <stdint.h>

/* The scopes the service asks tokens for. */
#define MDX_AZURE_SCOPE_STORAGE "https://storage.azure.com/.default"
#define MDX_AZURE_SCOPE_PGSQL "https://ossrdbms-aad.database.windows.net/.default"

/* What a provider is made from. Borrowed strings; NULL or "" means not set. */
struct mdx_azure_creds_conf {
    const char *what;     /* log module of the client, e.g. "archive", "store" */
    const char *scope;    /* the scope asked for, e.g. MDX_AZURE_SCOPE_STORAGE */
    const char *ca_file;  /* CA bundle (PEM) for the token endpoint; NULL: the system's */
    int64_t timeout_ms;   /* one HTTP request; <= 0: 30 s */
};

struct mdx_azure_creds;

/* Non-zero when the environment describes a workload identity (the webhook's variables). */
int mdx_azure_creds_in_env(void);
/*
 * A token source for 'conf' from the environment (nothing is fetched
 * yet). NULL with *err MDX_ECONF and the reason in 'why' when a variable
 * or the scope is missing; MDX_ENOMEM.
 */
struct mdx_azure_creds *mdx_azure_creds_create(const struct mdx_azure_creds_conf *conf, int *err,
                                               char *why, size_t why_len);
/* Wipes the token and frees 'c'; NULL is fine. */
void mdx_azure_creds_destroy(struct mdx_azure_creds *c);
/*
 * The access token to send at wall time 'now_ms' (borrowed until the next
 * call), fetched again when due. A failed refresh keeps a valid token
 * (tries again after 10 s); without one it is MDX_EAGAIN (endpoint
 * unreachable or failing, token file unreadable) or MDX_EDENIED (the
 * endpoint refused the grant) with the reason in 'why' (never a secret).
 */
int mdx_azure_creds_get(struct mdx_azure_creds *c, int64_t now_ms, const char **token,
                        char *why, size_t why_len);

#endif
