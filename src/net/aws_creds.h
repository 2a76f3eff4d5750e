/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aws_creds.h - where an AWS client's keys come from (aws_creds.c): the
 * archive's S3 store, the RUL stage's SageMaker endpoint. The configured
 * keys, or short-lived ones that a pod in EKS is given and that must be
 * fetched again before they expire:
 *
 *   aws-container     EKS Pod Identity (or ECS): GET of
 *                     $AWS_CONTAINER_CREDENTIALS_FULL_URI with the token of
 *                     $AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or _TOKEN)
 *   aws-web-identity  IRSA: STS AssumeRoleWithWebIdentity with
 *                     $AWS_ROLE_ARN and the token of $AWS_WEB_IDENTITY_TOKEN_FILE
 *                     (read again at every refresh: the kubelet rotates it)
 *
 * The client's credentials setting names one; "auto" takes the configured
 * keys if there are any, else whichever of the two the environment
 * describes, as the AWS SDKs do.
 */
#ifndef MODAX_NET_AWS_CREDS_H
#define MODAX_NET_AWS_CREDS_H

#include <stddef.h>
#include <stdint.h>

struct mdx_aws_creds;

/* What a provider is made from. Borrowed strings; NULL or "" means not set. */
struct mdx_aws_creds_conf {
    const char *what;          /* the client's config prefix, named in reasons: "archive.store" */
    const char *credentials;   /* auto, keys, aws-container, aws-web-identity */
    const char *access_key;    /* keys: secrets */
    const char *secret_key;
    const char *session_token;
    const char *region;        /* of STS for aws-web-identity; "": us-east-1 */
    const char *session_name;  /* aws-web-identity; $AWS_ROLE_SESSION_NAME wins */
    const char *ca_file;       /* CA bundle (PEM) for the credential endpoints; NULL: the system's */
    int64_t timeout_ms;        /* one HTTP request; <= 0: 30 s */
};

/* The keys of one request; borrowed from the provider until its next refresh. */
struct mdx_aws_keys {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL when none */
};

/*
 * A provider for 'conf'. NULL with *err MDX_ECONF and a reason in 'why'
 * when nothing usable is configured; MDX_ENOMEM.
 */
struct mdx_aws_creds *mdx_aws_creds_create(const struct mdx_aws_creds_conf *conf, int *err,
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
