/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aws_creds.h - where the S3 store's keys come from (aws_creds.c): the
 * configured keys, or short-lived ones that a pod in EKS is given and that
 * must be fetched again before they expire:
 *
 *   aws-container     EKS Pod Identity (or ECS): GET of
 *                     $AWS_CONTAINER_CREDENTIALS_FULL_URI with the token of
 *                     $AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or _TOKEN)
 *   aws-web-identity  IRSA: STS AssumeRoleWithWebIdentity with
 *                     $AWS_ROLE_ARN and the token of $AWS_WEB_IDENTITY_TOKEN_FILE
 *                     (read again at every refresh: the kubelet rotates it)
 *
 * archive.store.credentials names one; "auto" takes the configured keys if
 * there are any, else whichever of the two the environment describes, as
 * the AWS SDKs do. Internal to src/archive.
 */
#ifndef MODAX_ARCHIVE_AWS_CREDS_H
#define MODAX_ARCHIVE_AWS_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "modax/objstore.h"

struct mdx_aws_creds;

/* The keys of one request; borrowed from the provider until its next refresh. */
struct mdx_aws_keys {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL when none */
};

/*
 * A provider for 'conf' (its credentials, access_key, secret_key,
 * session_token, region and timeout_ms). NULL with *err MDX_ECONF and a
 * reason in 'why' when nothing usable is configured; MDX_ENOMEM.
 */
struct mdx_aws_creds *mdx_aws_creds_create(const struct mdx_objstore_conf *conf, int *err,
                                           char *why, size_t why_len);
void mdx_aws_creds_destroy(struct mdx_aws_creds *c);

/*
 * The keys to sign with at 'now_ms', fetched again when half their life or
 * five minutes before expiry has come. A failed refresh keeps the old keys
 * while they are valid (and tries again after 10 s); once they have
 * expired it is MDX_EAGAIN (endpoint down) or MDX_EDENIED (refused), with
 * the reason in 'why' (never a secret).
 */
int mdx_aws_creds_get(struct mdx_aws_creds *c, int64_t now_ms, struct mdx_aws_keys *keys,
                      char *why, size_t why_len);

#endif
