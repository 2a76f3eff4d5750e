/* SPDX-License-Identifier: Apache-2.0 */
/*
 * azure_creds.h - an Entra ID access token for Blob Storage from Azure
 * Workload Identity (azure_creds.c), so that an archiver in AKS needs no
 * account key: the pod's federated token ($AZURE_FEDERATED_TOKEN_FILE,
 * projected and rotated by the kubelet) is exchanged at
 * $AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token for client
 * $AZURE_CLIENT_ID and scope https://storage.azure.com/.default; the
 * answer is used as "Authorization: Bearer" until shortly before it
 * expires. Internal to src/archive.
 */
#ifndef MODAX_ARCHIVE_AZURE_CREDS_H
#define MODAX_ARCHIVE_AZURE_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "modax/objstore.h"

struct mdx_azure_creds;

/* Non-zero when the environment describes a workload identity (the webhook's variables). */
int mdx_azure_creds_in_env(void);
/*
 * A token source for 'conf' (timeout_ms, ca_file) from the environment.
 * NULL with *err MDX_ECONF and the reason in 'why' when a variable is
 * missing; MDX_ENOMEM.
 */
struct mdx_azure_creds *mdx_azure_creds_create(const struct mdx_objstore_conf *conf, int *err,
                                               char *why, size_t why_len);
void mdx_azure_creds_destroy(struct mdx_azure_creds *c);
/*
 * The access token to send at 'now_ms' (borrowed until the next call),
 * fetched again at half its life or five minutes before expiry. A failed
 * refresh keeps a valid token (tries again after 10 s); without one it is
 * MDX_EAGAIN or MDX_EDENIED with the reason in 'why' (never a secret).
 */
int mdx_azure_creds_get(struct mdx_azure_creds *c, int64_t now_ms, const char **token,
                        char *why, size_t why_len);

#endif
