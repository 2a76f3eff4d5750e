/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcp_standin.c - the Google token endpoint, metadata server and Cloud
 * Storage stand-in of the credential tests (gcp_standin.h). Decodes and
 * verifies with OpenSSL, not with the code under test.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "modax/clock.h"
#include "support/gcp_standin.h"

#define HEAD_MAX 65536
#define GRANT "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"

int gcp_standin_key_file(struct gcp_standin *g, const char *path, const char *token_uri)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
    char *pem = NULL, *json = NULL;
    long n;
    cJSON *o = cJSON_CreateObject();
    FILE *f;
    int rc = -1;

    snprintf(g->kid, sizeof(g->kid), "kid-%ld", (long)getpid());
    snprintf(g->email, sizeof(g->email), "archiver@modax-test.iam.gserviceaccount.com");
    if (k == NULL || priv == NULL || pub == NULL || o == NULL ||
        PEM_write_bio_PrivateKey(priv, k, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_PUBKEY(pub, k) != 1) {
        goto done;
    }
    /* The stand-in keeps only the public half, read back from its PEM. */
    EVP_PKEY_free(g->pub);
    g->pub = PEM_read_bio_PUBKEY(pub, NULL, NULL, NULL);
    n = BIO_get_mem_data(priv, &pem);
    pem = strndup(pem, (size_t)n);
    cJSON_AddStringToObject(o, "type", "service_account");
    cJSON_AddStringToObject(o, "project_id", "modax-test");
    cJSON_AddStringToObject(o, "private_key_id", g->kid);
    cJSON_AddStringToObject(o, "private_key", pem != NULL ? pem : "");
    cJSON_AddStringToObject(o, "client_email", g->email);
    cJSON_AddStringToObject(o, "token_uri", token_uri);
    json = cJSON_Print(o);
    f = fopen(path, "w");
    if (g->pub != NULL && pem != NULL && json != NULL && f != NULL) {
        rc = fputs(json, f) >= 0 ? 0 : -1;
    }
    if (f != NULL) {
        fclose(f);
    }

done:
    free(pem);
    cJSON_free(json);
    cJSON_Delete(o);
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(k);
    return rc;
}

/* Decodes base64url text (no padding) of 'len' chars into a new buffer; NULL if bad. */
static unsigned char *b64url(const char *s, size_t len, size_t *out_len)
{
    size_t padded = (len + 3) / 4 * 4;
    char *t = calloc(1, padded + 1);
    unsigned char *out = calloc(1, padded);
    int n;

    if (t == NULL || out == NULL) {
        free(t);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < padded; i++) {
        char c = i < len ? s[i] : '=';
        t[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    n = EVP_DecodeBlock(out, (unsigned char *)t, (int)padded);
    free(t);
    if (n < 0) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)n - (padded - len); /* DecodeBlock counts the padding as zero bytes */
    return out;
}

static int str_is(const cJSON *o, const char *name, const char *want)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));

    return v != NULL && strcmp(v, want) == 0;
}

/* Verifies the jwt-bearer assertion as Google's token endpoint would. 1 if good. */
static int jwt_good(struct gcp_standin *g, const char *jwt, size_t len, const char *aud)
{
    const char *d1 = memchr(jwt, '.', len), *d2;
    unsigned char *h = NULL, *c = NULL, *sig = NULL;
    size_t hn, cn, sn;
    cJSON *hj = NULL, *cj = NULL;
    EVP_MD_CTX *md = NULL;
    int ok = 0;

    d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt)) : NULL;
    if (d2 == NULL) {
        return 0;
    }
    h = b64url(jwt, (size_t)(d1 - jwt), &hn);
    c = b64url(d1 + 1, (size_t)(d2 - d1 - 1), &cn);
    sig = b64url(d2 + 1, len - (size_t)(d2 + 1 - jwt), &sn);
    hj = h != NULL ? cJSON_ParseWithLength((char *)h, hn) : NULL;
    cj = c != NULL ? cJSON_ParseWithLength((char *)c, cn) : NULL;
    if (hj != NULL && cj != NULL && sig != NULL && str_is(hj, "alg", "RS256") &&
        str_is(hj, "typ", "JWT") && str_is(hj, "kid", g->kid) && str_is(cj, "iss", g->email) &&
        str_is(cj, "aud", aud) && (g->scope[0] == '\0' || str_is(cj, "scope", g->scope))) {
        const cJSON *iat = cJSON_GetObjectItemCaseSensitive(cj, "iat");
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(cj, "exp");
        double now = (double)(mdx_now_ms() / 1000);
        md = EVP_MD_CTX_new();
        ok = cJSON_IsNumber(iat) && cJSON_IsNumber(exp) && iat->valuedouble > now - 60 &&
             iat->valuedouble < now + 60 && exp->valuedouble == iat->valuedouble + 3600 &&
             md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, g->pub) == 1 &&
             EVP_DigestVerify(md, sig, sn, (const unsigned char *)jwt, (size_t)(d2 - jwt)) == 1;
    }
    EVP_MD_CTX_free(md);
    cJSON_Delete(hj);
    cJSON_Delete(cj);
    free(h);
    free(c);
    free(sig);
    return ok;
}

static void reply(int fd, int status, const char *extra, const void *body, size_t len)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
                     status, len, extra != NULL ? extra : "");

    if (write(fd, head, (size_t)n) < 0 || (len > 0 && write(fd, body, len) < 0)) {
        return;
    }
}

/* A new token "gtok-N" valid life_ms, as a token answer; the stand-in remembers its expiry. */
static void issue(struct gcp_standin *g, int fd)
{
    char body[256];
    long long life = atomic_load(&g->life_ms);
    int n = atomic_fetch_add(&g->issued, 1) + 1;

    if (n < GCP_STANDIN_TOKENS) {
        atomic_store(&g->expires[n], mdx_now_ms() + life);
    }
    snprintf(body, sizeof(body),
             "{\"access_token\":\"gtok-%d\",\"expires_in\":%lld,\"token_type\":\"Bearer\"}", n,
             life / 1000);
    reply(fd, 200, "Content-Type: application/json\r\n", body, strlen(body));
}

/* The value of header 'name' in 'head' (copied into v), or NULL. */
static const char *header(const char *head, const char *name, char *v, size_t vlen)
{
    size_t nl = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *s = p + 3 + nl, *e = strstr(s, "\r\n");
            while (*s == ' ') {
                s++;
            }
            snprintf(v, vlen, "%.*s", (int)(e != NULL ? e - s : (long)strlen(s)), s);
            return v;
        }
    }
    return NULL;
}

/* Non-zero when the request bears a token issued here that has not expired. */
static int bearer_ok(struct gcp_standin *g, const char *head)
{
    char v[512];
    int n;

    if (header(head, "Authorization", v, sizeof(v)) == NULL ||
        sscanf(v, "Bearer gtok-%d", &n) != 1 || n < 1 || n >= GCP_STANDIN_TOKENS) {
        return 0;
    }
    return n > atomic_load(&g->revoked_upto) && mdx_now_ms() < atomic_load(&g->expires[n]);
}

static void object(struct gcp_standin *g, int fd, const char *method, const char *path,
                   const char *head, const char *body, size_t len)
{
    char sha[80], extra[256];

    if (!bearer_ok(g, head)) {
        atomic_fetch_add(&g->store_refused, 1);
        reply(fd, 401, NULL, "<Error><Code>AuthenticationRequired</Code></Error>", 50);
        return;
    }
    atomic_fetch_add(&g->store_ok, 1);
    pthread_mutex_lock(&g->lock);
    if (strcmp(method, "PUT") == 0 && len <= GCP_STANDIN_OBJ_MAX) {
        free(g->obj);
        g->obj = malloc(len + 1);
        if (g->obj != NULL) {
            memcpy(g->obj, body, len);
        }
        g->obj_len = len;
        snprintf(g->obj_key, sizeof(g->obj_key), "%s", path);
        if (header(head, "x-goog-meta-modax-sha256", sha, sizeof(sha)) == NULL) {
            sha[0] = '\0';
        }
        snprintf(g->obj_sha, sizeof(g->obj_sha), "%.64s", sha);
        reply(fd, 200, "ETag: \"e\"\r\n", NULL, 0);
    } else if (strcmp(path, g->obj_key) != 0 || g->obj == NULL) {
        reply(fd, 404, NULL, "<Error><Code>NoSuchKey</Code></Error>", 37);
    } else {
        snprintf(extra, sizeof(extra), "x-goog-meta-modax-sha256: %s\r\n", g->obj_sha);
        if (strcmp(method, "HEAD") == 0) {
            char h[512];
            int n = snprintf(h, sizeof(h),
                             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%sConnection: close\r\n"
                             "\r\n",
                             g->obj_len, extra);
            if (write(fd, h, (size_t)n) < 0) {
                /* the client went away */
            }
        } else {
            reply(fd, 200, extra, g->obj, g->obj_len);
        }
    }
    pthread_mutex_unlock(&g->lock);
}

static void answer(struct gcp_standin *g, int fd)
{
    static char buf[HEAD_MAX + GCP_STANDIN_OBJ_MAX];
    char method[16], path[512], v[64], aud[128];
    size_t got = 0, need = 0;
    const char *end = NULL;
    long clen = 0;

    while (got < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0) {
            return;
        }
        got += (size_t)n;
        buf[got] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            buf[end - buf] = '\0';
            clen = header(buf, "Content-Length", v, sizeof(v)) != NULL ? strtol(v, NULL, 10) : 0;
            buf[end - buf] = '\r';
            need = (size_t)(end - buf) + 4 + (size_t)clen;
        }
        if (end != NULL && got >= need) {
            break;
        }
    }
    if (end == NULL || sscanf(buf, "%15s %511s", method, path) != 2) {
        return;
    }
    buf[end - buf] = '\0';
    const char *body = end + 4;
    if (strcmp(method, "POST") == 0 && strcmp(path, "/token") == 0) {
        const char *a = strstr(body, "assertion=");
        int status = atomic_load(&g->token_status);
        snprintf(aud, sizeof(aud), "http://127.0.0.1:%d/token", g->port);
        if (status != 200) {
            const char *e = status == 400 ? "{\"error\":\"invalid_grant\",\"error_description\":"
                                            "\"Invalid JWT Signature.\"}"
                                          : "{\"error\":\"internal_failure\"}";
            reply(fd, status, "Content-Type: application/json\r\n", e, strlen(e));
        } else if (strncmp(body, "grant_type=" GRANT "&", strlen("grant_type=" GRANT "&")) != 0 ||
                   a == NULL || !jwt_good(g, a + 10, strcspn(a + 10, "&"), aud)) {
            atomic_fetch_add(&g->jwt_bad, 1);
            reply(fd, 400, NULL, "{\"error\":\"invalid_grant\"}", 25);
        } else {
            issue(g, fd);
        }
    } else if (strcmp(method, "GET") == 0 &&
               strcmp(path, "/computeMetadata/v1/instance/service-accounts/default/token") ==
                   0) {
        if (header(buf, "Metadata-Flavor", v, sizeof(v)) == NULL || strcmp(v, "Google") != 0) {
            atomic_fetch_add(&g->meta_bad, 1);
            reply(fd, 403, NULL, "Missing Metadata-Flavor:Google header.", 38);
        } else {
            issue(g, fd);
        }
    } else {
        object(g, fd, method, path, buf, body, (size_t)clen);
    }
}

static void *standin_main(void *arg)
{
    struct gcp_standin *g = arg;

    while (!atomic_load(&g->stop)) {
        struct pollfd p = {.fd = g->fd, .events = POLLIN};
        if (!atomic_load(&g->listening) || poll(&p, 1, 50) <= 0) {
            if (!atomic_load(&g->listening)) {
                mdx_sleep_ms(20);
            }
            continue;
        }
        int c = accept(g->fd, NULL, NULL);
        if (c >= 0) {
            answer(g, c);
            close(c);
        }
    }
    return NULL;
}

int gcp_standin_start(struct gcp_standin *g, int listen_now)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int one = 1;

    atomic_store(&g->stop, 0);
    atomic_store(&g->listening, 0);
    if (atomic_load(&g->life_ms) == 0) {
        atomic_store(&g->life_ms, 2000);
    }
    if (atomic_load(&g->token_status) == 0) {
        atomic_store(&g->token_status, 200);
    }
    pthread_mutex_init(&g->lock, NULL);
    g->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (g->fd < 0 || setsockopt(g->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(g->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(g->fd, (struct sockaddr *)&a, &len) != 0) {
        return -1;
    }
    g->port = ntohs(a.sin_port);
    g->started = pthread_create(&g->thread, NULL, standin_main, g) == 0;
    if (!g->started) {
        return -1;
    }
    return listen_now ? gcp_standin_listen(g) : 0;
}

int gcp_standin_listen(struct gcp_standin *g)
{
    if (listen(g->fd, 64) != 0) {
        return -1;
    }
    atomic_store(&g->listening, 1);
    return 0;
}

void gcp_standin_stop(struct gcp_standin *g)
{
    atomic_store(&g->stop, 1);
    if (g->started) {
        pthread_join(g->thread, NULL);
        g->started = 0;
    }
    if (g->fd >= 0) {
        close(g->fd);
        g->fd = -1;
    }
    EVP_PKEY_free(g->pub);
    g->pub = NULL;
    free(g->obj);
    g->obj = NULL;
    pthread_mutex_destroy(&g->lock);
}
