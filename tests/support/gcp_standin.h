/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcp_standin.h - a Google endpoint stand-in on loopback for the tests of
 * Google credentials (gcp_standin.c), one thread answering three roles:
 *
 *   POST /token   the OAuth token endpoint: takes the jwt-bearer grant, and
 *                 checks the JWT as Google does: RS256 signature verified
 *                 with the public key of the test's key pair, header kid,
 *                 claims iss, scope, aud = this endpoint, iat near now,
 *                 exp = iat + 3600
 *   GET /computeMetadata/v1/instance/service-accounts/default/token
 *                 the GKE metadata server (Metadata-Flavor: Google required)
 *   PUT/GET/HEAD /BUCKET/KEY
 *                 Cloud Storage's XML API, which takes only "Authorization:
 *                 Bearer" with a token issued here and not yet expired
 *
 * Tokens ("gtok-N") expire after life_ms. The socket is bound when the
 * stand-in is made and listens only from gcp_standin_listen(): until then
 * a client's connection is refused, as from a metadata server that is down.
 */
#ifndef MODAX_TEST_GCP_STANDIN_H
#define MODAX_TEST_GCP_STANDIN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <openssl/evp.h>

#define GCP_STANDIN_TOKENS 4096
#define GCP_STANDIN_OBJ_MAX (256 * 1024)

struct gcp_standin {
    int port;
    int fd;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int listening;
    EVP_PKEY *pub;             /* the public half of the test's key; owned */
    char kid[64];              /* the private_key_id the JWT header must name */
    char email[128];           /* its client_email: the JWT's iss */
    char scope[256];           /* the scope the JWT must ask for; "" = any */
    atomic_llong life_ms;      /* of the tokens issued */
    atomic_int token_status;   /* what /token answers: 200, or 400 / 500 to refuse */
    atomic_int issued;         /* tokens issued (both roles) */
    atomic_int revoked_upto;   /* tokens numbered up to this are refused (revoked) */
    atomic_int jwt_bad;        /* grants refused for a bad JWT */
    atomic_int meta_bad;       /* metadata requests without Metadata-Flavor: Google */
    atomic_int store_ok;       /* object requests with a valid bearer token */
    atomic_int store_refused;  /* object requests without one (answered 401) */
    atomic_llong expires[GCP_STANDIN_TOKENS]; /* wall ms, by token number */
    char obj_sha[65];          /* the one object kept: its x-goog-meta-modax-sha256 */
    char obj_key[512];
    unsigned char *obj;
    size_t obj_len;
    pthread_mutex_t lock;      /* obj* */
};

/*
 * Makes an RSA key pair (2048 bits), writes a service-account key file
 * (JSON: type, private_key_id, private_key in PEM, client_email, token_uri)
 * at 'path', and keeps the public half, kid and email in 'g'. 0 on success.
 */
int gcp_standin_key_file(struct gcp_standin *g, const char *path, const char *token_uri);
/* Binds 127.0.0.1 on a free port (g->port) and starts the thread; listening if 'listen_now'. */
int gcp_standin_start(struct gcp_standin *g, int listen_now);
/* Starts accepting connections. */
int gcp_standin_listen(struct gcp_standin *g);
void gcp_standin_stop(struct gcp_standin *g);

#endif
