/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto_posix.c - the port's crypto for the edge core (port.h
 * hmac_sha256) through OpenSSL's libcrypto: the core signs Azure SAS
 * tokens with it and never hashes anything itself.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "modax/status.h"
#include "port_posix.h"

int mdx_posix_hmac_sha256(void *ctx, const void *key, size_t key_len, const void *msg, size_t len,
                          uint8_t mac[32])
{
    unsigned int out_len = 0;

    (void)ctx;
    if (key_len > (size_t)INT32_MAX ||
        HMAC(EVP_sha256(), key, (int)key_len, msg, len, mac, &out_len) == NULL || out_len != 32) {
        return MDX_EIO;
    }
    return MDX_OK;
}
