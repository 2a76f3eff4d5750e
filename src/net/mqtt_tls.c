/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mqtt_tls.c - TLS for the MQTT clients (the source, the API link): our own SSL_CTX handed to
 * libmosquitto (MOSQ_OPT_SSL_CTX), so that the server certificate check
 * (chain to mqtt.tls_ca_file and the server name) is OpenSSL's own and
 * its verdict can be logged in words; libmosquitto's default context
 * only says "certificate verify failed". libmosquitto still sends SNI
 * (mqtt.host). ALPN x-amzn-mqtt-ca is what AWS IoT Core needs on port 443.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/log.h"
#include "modax/status.h"
#include "net/mqtt_tls.h"

#define MOD "mqtt"

struct mqtt_tls {
    SSL_CTX *ctx;
    atomic_int verify_error;      /* X509_V_* of the last refused server certificate; 0 none */
    atomic_int verify_depth;
    char name[256];               /* the name the server's certificate must carry */
};

static int ex_index = -1;

/* OpenSSL's check stands; we only remember why it failed. */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct mqtt_tls *t = ssl != NULL ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index) : NULL;

    if (!ok && t != NULL && atomic_load(&t->verify_error) == 0) {
        atomic_store(&t->verify_depth, X509_STORE_CTX_get_error_depth(xs));
        atomic_store(&t->verify_error, X509_STORE_CTX_get_error(xs));
    }
    return ok;
}

static void log_ssl_error(const char *what, const char *file)
{
    char buf[256];
    unsigned long e = ERR_get_error();

    ERR_error_string_n(e, buf, sizeof(buf));
    mdx_log_error(MOD, what, MDX_F_STR("file", file), MDX_F_STR("reason", e ? buf : NULL));
    ERR_clear_error();
}

/* Logs a client certificate that is outside its validity period now. */
static void check_validity(SSL_CTX *ctx, const char *file)
{
    X509 *crt = SSL_CTX_get0_certificate(ctx);

    if (crt == NULL) {
        return;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(crt)) < 0) {
        mdx_log_error(MOD, "client certificate expired; the broker will refuse it: renew "
                           "mqtt.tls_cert_file", MDX_F_STR("file", file));
    } else if (X509_cmp_current_time(X509_get0_notBefore(crt)) > 0) {
        mdx_log_error(MOD, "client certificate not valid yet (check the clock); the broker "
                           "will refuse it", MDX_F_STR("file", file));
    }
}

struct mqtt_tls *mqtt_tls_create(const struct mdx_mqtt_conf *conf, int *err)
{
    struct mqtt_tls *t = mdx_calloc(1, sizeof(*t));
    const char *name = conf->tls_server_name[0] != '\0' ? conf->tls_server_name : conf->host;

    *err = MDX_ENOMEM;
    if (t == NULL) {
        return NULL;
    }
    if (ex_index < 0) {
        ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    }
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        goto fail;
    }
    *err = MDX_ECONF;
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_ex_data(t->ctx, ex_index, t);
    if (conf->tls_ca_file[0] != '\0') {
        if (SSL_CTX_load_verify_locations(t->ctx, conf->tls_ca_file, NULL) != 1) {
            log_ssl_error("cannot load the CA file mqtt.tls_ca_file", conf->tls_ca_file);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
        log_ssl_error("cannot load the system's CA certificates", NULL);
        goto fail;
    }
    if (conf->tls_cert_file[0] != '\0') {
        if (SSL_CTX_use_certificate_chain_file(t->ctx, conf->tls_cert_file) != 1) {
            log_ssl_error("cannot load the client certificate mqtt.tls_cert_file",
                          conf->tls_cert_file);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(t->ctx, conf->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(t->ctx) != 1) {
            log_ssl_error("cannot load the client key mqtt.tls_key_file, or it does not match "
                          "the certificate", conf->tls_key_file);
            goto fail;
        }
        check_validity(t->ctx, conf->tls_cert_file);
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(t->ctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    /* An address is checked against the certificate's IP entries, a name against DNS ones. */
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1 &&
        X509_VERIFY_PARAM_set1_host(param, name, 0) != 1) {
        log_ssl_error("invalid server name for the certificate check", name);
        goto fail;
    }
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, verify_cb);
    if (conf->tls_alpn[0] != '\0') {
        unsigned char wire[256];
        size_t n = strlen(conf->tls_alpn);

        if (n > 255) {
            goto fail;
        }
        wire[0] = (unsigned char)n;
        memcpy(wire + 1, conf->tls_alpn, n);
        if (SSL_CTX_set_alpn_protos(t->ctx, wire, (unsigned)n + 1) != 0) {
            goto fail;
        }
    }
    *err = MDX_OK;
    return t;

fail:
    mqtt_tls_destroy(t);
    return NULL;
}

void *mqtt_tls_ctx(struct mqtt_tls *tls)
{
    return tls->ctx;
}

const char *mqtt_tls_take_refusal(struct mqtt_tls *t, char *buf, size_t len)
{
    int e = atomic_exchange(&t->verify_error, 0);
    const char *hint;

    if (e == 0) {
        return NULL;
    }
    switch (e) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        hint = "the server's certificate is not for this host name; check mqtt.host or "
               "mqtt.tls_server_name";
        break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        hint = "the server's certificate has expired";
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        hint = "the server's certificate is not signed by a CA we trust; check mqtt.tls_ca_file";
        break;
    default:
        hint = "the server's certificate was refused";
        break;
    }
    snprintf(buf, len, "%s (%s, expected name %s)", hint, X509_verify_cert_error_string(e),
             t->name);
    return buf;
}

void mqtt_tls_destroy(struct mqtt_tls *t)
{
    if (t == NULL) {
        return;
    }
    SSL_CTX_free(t->ctx);
    mdx_free(t);
}
