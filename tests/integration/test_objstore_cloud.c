/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_objstore_cloud.c - the S3 and Azure Blob object stores against the
 * real stand-ins, s3rver and Azurite from tests/js/node_modules, started
 * here on free loopback ports in temp dirs (a missing one fails the
 * tests), with every object read back by the official SDKs
 * (tests/js/cloud.mjs: @aws-sdk/client-s3, @azure/storage-blob). Faults
 * the stand-ins can't produce (500, slow answers, S3's and Azure's
 * clock-skew refusals) come from a tiny HTTP server thread in this file,
 * which also records the request head so the S3 headers can be checked.
 * Issue 3, items 4 and 5 and the faults list.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "support/support.h"
#include "archive/objstore_cloud.h"
#include "modax/alloc.h"
#include "modax/archive.h"
#include "modax/clock.h"
#include "modax/msg.h"
#include "modax/objstore.h"
#include "modax/status.h"
#include "modax/store.h"
#include "base/encode.h"

#define S3_BUCKET "modax-archive"
#define AZ_CONTAINER "modax"
#define AZ_ACCOUNT "devstoreaccount1"
#define AZ_KEY                                                                             \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define MIB (1024 * 1024)

static char src_dir[1024];
static char tmp_dir[512];
static pid_t s3rver_pid, azurite_pid;
static int s3_port, az_port;
static char s3_endpoint[128], s3_vhost_endpoint[128], az_endpoint[128];

/* ---- processes ---- */

static const char *source_dir(void)
{
    const char *d = getenv("MODAX_SOURCE_DIR");
    char *slash;

    if (d != NULL) {
        return d;
    }
    snprintf(src_dir, sizeof(src_dir), "%s", __FILE__); /* .../tests/integration/x.c */
    for (int up = 0; up < 3; up++) {
        slash = strrchr(src_dir, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
    }
    return src_dir;
}

static pid_t spawn_logged(char *const argv[], const char *log_path)
{
    pid_t pid = fork();

    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setpgid(0, 0);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int port_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static int wait_port(pid_t pid, int port, int ms)
{
    for (int waited = 0; waited < ms; waited += 100) {
        if (port_open(port)) {
            return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            return -1; /* died */
        }
        mdx_sleep_ms(100);
    }
    return -1;
}

static void stop_proc(pid_t *pid)
{
    if (*pid > 0) {
        kill(-*pid, SIGTERM); /* its own process group: node and anything it started */
        for (int i = 0; i < 50 && waitpid(*pid, NULL, WNOHANG) == 0; i++) {
            mdx_sleep_ms(100);
        }
        kill(-*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

/* Runs `node tests/js/cloud.mjs ARGS...` (NULL-terminated); its stdout into out. 0 on exit 0. */
static int sdk(char *out, size_t outlen, const char *arg0, ...)
{
    char script[1200];
    const char *argv[16];
    int pipefd[2], status = -1, n = 0;
    size_t got = 0;
    va_list ap;
    pid_t pid;

    snprintf(script, sizeof(script), "%s/tests/js/cloud.mjs", source_dir());
    argv[n++] = "node";
    argv[n++] = script;
    va_start(ap, arg0);
    for (const char *a = arg0; a != NULL && n < 15; a = va_arg(ap, const char *)) {
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    out[0] = '\0';
    if (pipe(pipefd) != 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        setenv("NODE_NO_WARNINGS", "1", 1); /* the AWS SDK's notice about Node.js 22 */
        close(pipefd[1]);
        execvp("node", (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    for (;;) {
        ssize_t r = read(pipefd[0], out + got, outlen - 1 - got);
        if (r <= 0 || got + (size_t)r >= outlen - 1) {
            got += r > 0 ? (size_t)r : 0;
            break;
        }
        got += (size_t)r;
    }
    out[got] = '\0';
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        fprintf(stderr, "  cloud.mjs %s: %s\n", arg0, out);
        return -1;
    }
    return 0;
}

static int start_services(void)
{
    char bin[1200], data[700], log[700];
    int rc = 0;

    tmp_make(tmp_dir, sizeof(tmp_dir), "objstore-cloud");

    s3_port = free_port();
    snprintf(bin, sizeof(bin), "%s/tests/js/node_modules/.bin/s3rver", source_dir());
    snprintf(data, sizeof(data), "%s/s3rver", tmp_dir);
    snprintf(log, sizeof(log), "%s/s3rver.log", tmp_dir);
    mkdir(data, 0755);
    char port1[16];
    snprintf(port1, sizeof(port1), "%d", s3_port);
    /* --service-endpoint localhost: Host "<bucket>.s3.localhost" is a virtual-host bucket,
     * and curl resolves *.localhost to loopback by itself. */
    /* --openssl-legacy-provider: s3rver 3.7 encrypts ListObjectsV2 continuation tokens with
     * DES, which Node's OpenSSL 3 offers only through the legacy provider. */
    char *s3argv[] = {"node", "--openssl-legacy-provider", bin, "-d", data, "-a", "127.0.0.1",
                      "-p", port1,
                      "--service-endpoint", "localhost", "--configure-bucket", S3_BUCKET, NULL};
    s3rver_pid = spawn_logged(s3argv, log);
    if (wait_port(s3rver_pid, s3_port, 30000) != 0) {
        fprintf(stderr, "s3rver did not start (run scripts/install-deps.sh); see %s\n", log);
        rc = -1;
    }
    snprintf(s3_endpoint, sizeof(s3_endpoint), "http://127.0.0.1:%d", s3_port);
    snprintf(s3_vhost_endpoint, sizeof(s3_vhost_endpoint), "http://s3.localhost:%d", s3_port);

    az_port = free_port();
    snprintf(bin, sizeof(bin), "%s/tests/js/node_modules/.bin/azurite-blob", source_dir());
    snprintf(data, sizeof(data), "%s/azurite", tmp_dir);
    snprintf(log, sizeof(log), "%s/azurite.log", tmp_dir);
    mkdir(data, 0755);
    char port2[16];
    snprintf(port2, sizeof(port2), "%d", az_port);
    /* --skipApiVersionCheck: the current @azure/storage-blob sends a newer x-ms-version than
     * Azurite 3.35 knows (our store sends 2021-12-02, which it knows). */
    char *azargv[] = {"node", bin, "--blobHost", "127.0.0.1", "--blobPort", port2,
                      "--location", data, "--silent", "--disableTelemetry",
                      "--skipApiVersionCheck", NULL};
    azurite_pid = spawn_logged(azargv, log);
    if (wait_port(azurite_pid, az_port, 60000) != 0) {
        fprintf(stderr, "azurite did not start (run scripts/install-deps.sh); see %s\n", log);
        rc = -1;
    }
    snprintf(az_endpoint, sizeof(az_endpoint), "http://127.0.0.1:%d/%s", az_port, AZ_ACCOUNT);
    if (rc == 0) {
        char out[512];
        if (sdk(out, sizeof(out), "azure-create", az_endpoint, AZ_CONTAINER, NULL) != 0) {
            fprintf(stderr, "cannot create the Azurite container: %s\n", out);
            rc = -1;
        }
    }
    return rc;
}

/* ---- a tiny HTTP server for faults ---- */

enum fake_mode { FAKE_500, FAKE_SLOW, FAKE_S3_SKEW, FAKE_AZ_SKEW, FAKE_OK, FAKE_MPU };

static struct {
    int fd, port, started;
    atomic_int mode;
    atomic_int stop;
    pthread_t thread;
    pthread_mutex_t lock;
    char last_head[8192]; /* request line and headers of the last request */
    long last_body;       /* its body length */
    char lines[4096];     /* request lines since the last reset, one per line */
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void fake_answer(int c)
{
    char head[8192], resp[2048];
    size_t got = 0;
    long clen = 0, body_left;
    const char *body = "", *status = "200 OK", *ctype = "application/xml", *extra = "";
    char *end = NULL, *cl;

    while (got < sizeof(head) - 1) {
        ssize_t r = recv(c, head + got, sizeof(head) - 1 - got, 0);
        if (r <= 0) {
            return;
        }
        got += (size_t)r;
        head[got] = '\0';
        end = strstr(head, "\r\n\r\n");
        if (end != NULL) {
            break;
        }
    }
    if (end == NULL) {
        return;
    }
    cl = strcasestr(head, "\r\ncontent-length:");
    if (cl != NULL) {
        clen = strtol(cl + 17, NULL, 10);
    }
    pthread_mutex_lock(&fake.lock);
    memcpy(fake.last_head, head, (size_t)(end - head) + 2); /* with the last CRLF */
    fake.last_head[end - head + 2] = '\0';
    fake.last_body = clen;
    {
        size_t used = strlen(fake.lines), l1 = (size_t)(strstr(head, "\r\n") - head);
        if (used + l1 + 2 < sizeof(fake.lines)) {
            memcpy(fake.lines + used, head, l1);
            memcpy(fake.lines + used + l1, "\n", 2);
        }
    }
    pthread_mutex_unlock(&fake.lock);
    body_left = clen - (long)(got - (size_t)(end + 4 - head));
    while (body_left > 0) { /* drain the upload */
        char sink[65536];
        ssize_t r = recv(c, sink, sizeof(sink), 0);
        if (r <= 0) {
            return;
        }
        body_left -= r;
    }

    switch ((enum fake_mode)atomic_load(&fake.mode)) {
    case FAKE_500:
        status = "500 Internal Server Error";
        body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code>"
               "<Message>We encountered an internal error. Please try again.</Message></Error>";
        break;
    case FAKE_SLOW:
        /* The fault: no answer for 4 s, far past the clients' timeout (until the test moves on). */
        for (int i = 0; i < 40 && !atomic_load(&fake.stop) && atomic_load(&fake.mode) == FAKE_SLOW;
             i++) {
            mdx_sleep_ms(100);
        }
        return;
    case FAKE_S3_SKEW: /* what S3 answers when x-amz-date is > 15 min off */
        status = "403 Forbidden";
        body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<Error><Code>RequestTimeTooSkewed</Code>"
               "<Message>The difference between the request time and the current time is too "
               "large.</Message><RequestTime>20240101T000000Z</RequestTime><ServerTime>"
               "2024-01-01T00:20:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000"
               "</MaxAllowedSkewMilliseconds><RequestId>4442587FB7D0A2F9</RequestId></Error>";
        break;
    case FAKE_AZ_SKEW: /* Azure Storage's answer to a stale x-ms-date */
        status = "403 Server failed to authenticate the request.";
        body = "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
               "AuthenticationFailed</Code><Message>Server failed to authenticate the request. "
               "Make sure the value of Authorization header is formed correctly including the "
               "signature.\nRequestId:0b1c\nTime:2024-01-01T00:20:00.0000000Z</Message>"
               "<AuthenticationErrorDetail>Request date header too old: 'Mon, 01 Jan 2024 "
               "00:00:00 GMT'</AuthenticationErrorDetail></Error>";
        break;
    case FAKE_OK:
        body = "";
        ctype = "text/plain";
        break;
    case FAKE_MPU: /* multipart: initiate and part 1 work, part 2 fails, abort is answered */
        if (strncmp(head, "POST ", 5) == 0 && strstr(head, "?uploads= ") != NULL) {
            body = "<InitiateMultipartUploadResult><Bucket>modax-archive</Bucket><Key>k</Key>"
                   "<UploadId>UP&amp;1</UploadId></InitiateMultipartUploadResult>";
        } else if (strncmp(head, "PUT ", 4) == 0 && strstr(head, "partNumber=1&") != NULL) {
            extra = "ETag: \"etag-1\"\r\n";
        } else if (strncmp(head, "DELETE ", 7) == 0) {
            status = "204 No Content";
        } else {
            status = "500 Internal Server Error";
            body = "<Error><Code>InternalError</Code></Error>";
        }
        break;
    }
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nx-ms-error-code: %s\r\n"
             "%sConnection: close\r\n\r\n%s",
             status, ctype, strlen(body),
             atomic_load(&fake.mode) == FAKE_AZ_SKEW ? "AuthenticationFailed" : "none", extra,
             body);
    if (send(c, resp, strlen(resp), MSG_NOSIGNAL) < 0) {
        return;
    }
}

static void *fake_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&fake.stop)) {
        struct pollfd p = {.fd = fake.fd, .events = POLLIN};
        int c;

        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        c = accept(fake.fd, NULL, NULL);
        if (c >= 0) {
            fake_answer(c);
            close(c);
        }
    }
    return NULL;
}

static int fake_start(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);

    fake.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fake.fd < 0 || bind(fake.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fake.fd, (struct sockaddr *)&a, &len) != 0 || listen(fake.fd, 16) != 0) {
        return -1;
    }
    fake.port = ntohs(a.sin_port);
    fake.started = pthread_create(&fake.thread, NULL, fake_main, NULL) == 0;
    return fake.started ? 0 : -1;
}

static void fake_stop(void)
{
    atomic_store(&fake.stop, 1);
    if (fake.started) {
        pthread_join(fake.thread, NULL);
    }
    if (fake.fd > 0) {
        close(fake.fd);
    }
}

/* ---- stores ---- */

static struct mdx_objstore_conf s3_conf(const char *endpoint, int path_style)
{
    return (struct mdx_objstore_conf){
        .kind = "s3",
        .endpoint = (char *)endpoint,
        .bucket = S3_BUCKET,
        .region = "us-east-1",
        .path_style = path_style,
        .access_key = "S3RVER",
        .secret_key = "S3RVER",
        .sse = "",
        .timeout_ms = 10000,
        .multipart_mb = 8,
    };
}

static struct mdx_objstore_conf az_conf(const char *endpoint)
{
    return (struct mdx_objstore_conf){
        .kind = "azure",
        .endpoint = (char *)endpoint,
        .bucket = AZ_CONTAINER,
        .access_key = AZ_ACCOUNT,
        .secret_key = AZ_KEY,
        .timeout_ms = 10000,
        .multipart_mb = 8,
    };
}

static void *open_store(const struct mdx_objstore_ops *ops, const struct mdx_objstore_conf *c)
{
    int err = -1;
    void *os = ops->create(c, &err);

    CHECK_EQ_INT(err, MDX_OK);
    CHECK(os != NULL);
    return os;
}

/* Deterministic test data: not compressible, different per seed. */
static unsigned char *make_data(size_t n, unsigned seed)
{
    unsigned char *d = mdx_malloc(n);
    uint32_t x = 2463534242u ^ seed;

    for (size_t i = 0; d != NULL && i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d[i] = (unsigned char)x;
    }
    return d;
}

static void sha_hex(const void *d, size_t n, char out[65])
{
    mdx_sha256_hex(d, n, out);
}

/* The value of "field": in the SDK's JSON line, into out. */
static void json_field(const char *json, const char *field, char *out, size_t len)
{
    char pat[64];
    const char *p;
    size_t n = 0;

    out[0] = '\0';
    snprintf(pat, sizeof(pat), "\"%s\":", field);
    p = strstr(json, pat);
    if (p == NULL) {
        return;
    }
    p += strlen(pat);
    if (*p == '"') {
        p++;
        while (p[n] != '\0' && p[n] != '"' && n < len - 1) {
            n++;
        }
    } else {
        while (p[n] != '\0' && p[n] != ',' && p[n] != '}' && n < len - 1) {
            n++;
        }
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Reads 'key' back with the official SDK and checks size and SHA-256. JSON into out. */
static void sdk_check(const char *kind, const char *key, const void *data, size_t len, char *out,
                      size_t outlen)
{
    char want[65], got[80], size[32], wsize[32];
    int rc;

    if (strcmp(kind, "s3") == 0) {
        rc = sdk(out, outlen, "s3-get", s3_endpoint, S3_BUCKET, key, NULL);
    } else {
        rc = sdk(out, outlen, "azure-get", az_endpoint, AZ_CONTAINER, key, NULL);
    }
    CHECK_EQ_INT(rc, 0);
    sha_hex(data, len, want);
    json_field(out, "sha256", got, sizeof(got));
    CHECK_STR(got, want);
    json_field(out, "size", size, sizeof(size));
    snprintf(wsize, sizeof(wsize), "%zu", len);
    CHECK_STR(size, wsize);
}

struct listing {
    int n;
    char keys[16][256];
    int64_t sizes[16];
};

static int collect(void *arg, const char *key, const struct mdx_obj_info *info)
{
    struct listing *l = arg;

    if (l->n < 16) {
        snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
        l->sizes[l->n] = info->size;
        CHECK(info->mtime_ms > 1600000000000LL);
    }
    l->n++;
    return 0;
}

/*
 * put/head/get/list/del of keys that need encoding, each object read
 * back by the official SDK of its kind.
 */
static void roundtrip(const struct mdx_objstore_ops *ops, void *os, const char *kind,
                      const char *prefix, const char *tier)
{
    const char *names[] = {"tenant=acme/device=pump 7/date=2024-01-01/points-1.csv.gz",
                           "tenant=acme/device=pump 7/date=2024-01-02/points+2 (copy).csv.gz",
                           "tenant=acme/device=Pumpe-\xc3\xa4&<x>/date=2024-01-03/points-3.csv.gz"};
    char key[3][300], out[1024];
    unsigned char *d[3];
    size_t len[3] = {0, 1000, 70000};
    struct listing l = {0};
    void *got = NULL;
    size_t glen = 0;
    struct mdx_obj_info info;

    for (int i = 0; i < 3; i++) {
        snprintf(key[i], sizeof(key[i]), "%s/%s", prefix, names[i]);
        d[i] = make_data(len[i] + 1, (unsigned)i);
        CHECK_EQ_INT(ops->put(os, key[i], d[i], len[i], tier), MDX_OK);
    }
    fprintf(stderr, "  last_error after puts: %s\n", ops->last_error(os));
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(ops->head(os, key[i], &info), MDX_OK);
        CHECK_EQ_INT(info.size, (int64_t)len[i]);
        CHECK(info.mtime_ms > 1600000000000LL);
        CHECK_EQ_INT(ops->get(os, key[i], &got, &glen, 1 << 20), MDX_OK);
        CHECK_EQ_INT(glen, len[i]);
        CHECK(got != NULL && (len[i] == 0 || memcmp(got, d[i], len[i]) == 0));
        MDX_FREE(got);
        sdk_check(kind, key[i], d[i], len[i], out, sizeof(out));
    }
    CHECK_EQ_INT(ops->list(os, prefix, collect, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 3);
    for (int i = 0; i < 3 && i < l.n; i++) { /* key order: "Pumpe" < "pump" in bytes */
        CHECK_STR(l.keys[i], key[(i + 2) % 3]);
        CHECK_EQ_INT(l.sizes[i], (int64_t)len[(i + 2) % 3]);
    }
    /* Reading more than max is refused; a missing object is not found. */
    CHECK_EQ_INT(ops->get(os, key[2], &got, &glen, 100), MDX_ERANGE);
    CHECK(got == NULL);
    CHECK_EQ_INT(ops->get(os, "no/such/object", &got, &glen, 100), MDX_ENOTFOUND);
    CHECK_EQ_INT(ops->head(os, "no/such/object", &info), MDX_ENOTFOUND);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(ops->del(os, key[i]), MDX_OK);
        CHECK_EQ_INT(ops->head(os, key[i], &info), MDX_ENOTFOUND);
        mdx_free(d[i]);
    }
    CHECK_EQ_INT(ops->del(os, key[0]), MDX_OK); /* deleting a missing object is fine */
    l.n = 0;
    CHECK_EQ_INT(ops->list(os, prefix, collect, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 0);
}

/* ---- S3 against s3rver ---- */

static void s3_roundtrip_path_style(void)
{
    struct mdx_objstore_conf c = s3_conf(s3_endpoint, 1);
    void *os = open_store(&mdx_objstore_s3, &c);

    if (os != NULL) {
        roundtrip(&mdx_objstore_s3, os, "s3", "path", NULL);
        mdx_objstore_s3.destroy(os);
    }
}

static void s3_roundtrip_virtual_host(void)
{
    /* http://modax-archive.s3.localhost:PORT/key, read back by the SDK in path style. */
    struct mdx_objstore_conf c = s3_conf(s3_vhost_endpoint, 0);
    void *os = open_store(&mdx_objstore_s3, &c);

    if (os != NULL) {
        char *url = mdx_s3_test_url(os, "k");
        CHECK(url != NULL && strncmp(url, "http://modax-archive.s3.localhost:", 34) == 0);
        mdx_free(url);
        roundtrip(&mdx_objstore_s3, os, "s3", "vhost", NULL);
        mdx_objstore_s3.destroy(os);
    }
}

static void s3_list_pages_with_continuation(void)
{
    struct mdx_objstore_conf c = s3_conf(s3_endpoint, 1);
    void *os = open_store(&mdx_objstore_s3, &c);
    struct listing l = {0};
    char key[64];

    if (os == NULL) {
        return;
    }
    mdx_s3_test_hooks(os, 0, 2);
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof(key), "pages/obj-%02d", i);
        CHECK_EQ_INT(mdx_objstore_s3.put(os, key, "x", 1, NULL), MDX_OK);
    }
    CHECK_EQ_INT(mdx_objstore_s3.put(os, "pagesX", "x", 1, NULL), MDX_OK);
    CHECK_EQ_INT(mdx_objstore_s3.list(os, "pages/", collect, &l), MDX_OK);
    fprintf(stderr, "  last_error: %s\n", mdx_objstore_s3.last_error(os));
    CHECK_EQ_INT(l.n, 7);
    for (int i = 0; i < 7 && i < l.n; i++) {
        snprintf(key, sizeof(key), "pages/obj-%02d", i);
        CHECK_STR(l.keys[i], key);
        mdx_objstore_s3.del(os, key);
    }
    mdx_objstore_s3.del(os, "pagesX");
    mdx_objstore_s3.destroy(os);
}

static void s3_multipart_with_storage_class_and_sse(void)
{
    struct mdx_objstore_conf c = s3_conf(s3_endpoint, 1);
    size_t len = 12 * MIB + 12345; /* 3 parts of 5 MiB, the last short */
    unsigned char *d = make_data(len, 7);
    struct mdx_obj_info info;
    char out[1024], v[64];
    void *os;

    c.multipart_mb = 5;
    c.sse = "AES256";
    os = open_store(&mdx_objstore_s3, &c);
    if (os == NULL || d == NULL) {
        mdx_free(d);
        return;
    }
    CHECK_EQ_INT(mdx_objstore_s3.put(os, "big/points-1.csv.gz", d, len, "STANDARD_IA"), MDX_OK);
    CHECK_EQ_INT(mdx_objstore_s3.head(os, "big/points-1.csv.gz", &info), MDX_OK);
    CHECK_EQ_INT(info.size, (int64_t)len);
    sdk_check("s3", "big/points-1.csv.gz", d, len, out, sizeof(out));
    fprintf(stderr, "  s3rver multipart read back: %s", out);
    json_field(out, "storageClass", v, sizeof(v));
    CHECK_STR(v, "STANDARD_IA");
    /* A single PUT carries the same headers. */
    CHECK_EQ_INT(mdx_objstore_s3.put(os, "big/small.csv.gz", d, 1000, "GLACIER"), MDX_OK);
    sdk_check("s3", "big/small.csv.gz", d, 1000, out, sizeof(out));
    json_field(out, "storageClass", v, sizeof(v));
    CHECK_STR(v, "GLACIER");
    CHECK_EQ_INT(mdx_objstore_s3.del(os, "big/points-1.csv.gz"), MDX_OK);
    CHECK_EQ_INT(mdx_objstore_s3.del(os, "big/small.csv.gz"), MDX_OK);
    mdx_objstore_s3.destroy(os);
    mdx_free(d);
}

static void s3_session_token_accepted(void)
{
    struct mdx_objstore_conf c = s3_conf(s3_endpoint, 1);
    void *os;

    c.session_token = "FQoGZXIvYXdzEXAMPLETOKEN";
    os = open_store(&mdx_objstore_s3, &c);
    if (os != NULL) {
        CHECK_EQ_INT(mdx_objstore_s3.put(os, "token/a", "abc", 3, NULL), MDX_OK);
        CHECK_EQ_INT(mdx_objstore_s3.del(os, "token/a"), MDX_OK);
        mdx_objstore_s3.destroy(os);
    }
}

static void s3_unknown_access_key_is_denied(void)
{
    struct mdx_objstore_conf c = s3_conf(s3_endpoint, 1);
    void *os;

    c.access_key = "AKIANOTKNOWNTOS3RVER";
    c.secret_key = "a-secret-that-must-not-leak";
    os = open_store(&mdx_objstore_s3, &c);
    if (os != NULL) {
        CHECK_EQ_INT(mdx_objstore_s3.put(os, "denied/a", "abc", 3, NULL), MDX_EDENIED);
        const char *e = mdx_objstore_s3.last_error(os);
        fprintf(stderr, "  last_error: %s\n", e);
        CHECK(strstr(e, "403") != NULL && strstr(e, "InvalidAccessKeyId") != NULL);
        CHECK(strstr(e, "a-secret-that-must-not-leak") == NULL);
        mdx_objstore_s3.destroy(os);
    }
}

static void s3_clock_skew_is_named(void)
{
    struct mdx_objstore_conf c = s3_conf(s3_endpoint, 1);
    void *os = open_store(&mdx_objstore_s3, &c);

    if (os != NULL) {
        mdx_s3_test_hooks(os, -20 * 60 * 1000, 0); /* sign 20 minutes in the past */
        CHECK_EQ_INT(mdx_objstore_s3.put(os, "skew/a", "abc", 3, NULL), MDX_EDENIED);
        fprintf(stderr, "  last_error: %s\n", mdx_objstore_s3.last_error(os));
        CHECK(strstr(mdx_objstore_s3.last_error(os), "clock skew") != NULL);
        mdx_s3_test_hooks(os, 0, 0);
        CHECK_EQ_INT(mdx_objstore_s3.put(os, "skew/a", "abc", 3, NULL), MDX_OK);
        CHECK_EQ_INT(mdx_objstore_s3.del(os, "skew/a"), MDX_OK);
        mdx_objstore_s3.destroy(os);
    }
}

/* ---- Azure against Azurite ---- */

static void azure_roundtrip_sharedkey(void)
{
    struct mdx_objstore_conf c = az_conf(az_endpoint);
    void *os = open_store(&mdx_objstore_azure, &c);

    if (os != NULL) {
        roundtrip(&mdx_objstore_azure, os, "azure", "sharedkey", NULL);
        mdx_objstore_azure.destroy(os);
    }
}

static void azure_blocks_with_tier(void)
{
    struct mdx_objstore_conf c = az_conf(az_endpoint);
    size_t len = 12 * MIB + 777;
    unsigned char *d = make_data(len, 9);
    struct mdx_obj_info info;
    char out[1024], v[64];
    void *os;

    c.multipart_mb = 5;
    os = open_store(&mdx_objstore_azure, &c);
    if (os == NULL || d == NULL) {
        mdx_free(d);
        return;
    }
    CHECK_EQ_INT(mdx_objstore_azure.put(os, "big/blocks.csv.gz", d, len, "Cool"), MDX_OK);
    fprintf(stderr, "  last_error: %s\n", mdx_objstore_azure.last_error(os));
    CHECK_EQ_INT(mdx_objstore_azure.head(os, "big/blocks.csv.gz", &info), MDX_OK);
    CHECK_EQ_INT(info.size, (int64_t)len);
    sdk_check("azure", "big/blocks.csv.gz", d, len, out, sizeof(out));
    fprintf(stderr, "  Azurite block blob read back: %s", out);
    json_field(out, "accessTier", v, sizeof(v));
    CHECK_STR(v, "Cool");
    json_field(out, "blobType", v, sizeof(v));
    CHECK_STR(v, "BlockBlob");
    CHECK_EQ_INT(mdx_objstore_azure.del(os, "big/blocks.csv.gz"), MDX_OK);
    mdx_objstore_azure.destroy(os);
    mdx_free(d);
}

static void azure_tiers(void)
{
    static const char *const tiers[] = {"Hot", "Cool", "Cold", "Archive"};
    struct mdx_objstore_conf c = az_conf(az_endpoint);
    void *os = open_store(&mdx_objstore_azure, &c);
    char key[64], out[1024], v[64];
    void *got = NULL;
    size_t glen;

    if (os == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
        snprintf(key, sizeof(key), "tier/%s", tiers[i]);
        int rc = mdx_objstore_azure.put(os, key, "tiered", 6, tiers[i]);
        fprintf(stderr, "  put with tier %s: %s%s%s\n", tiers[i], mdx_strerror(rc),
                rc != MDX_OK ? " " : "", rc != MDX_OK ? mdx_objstore_azure.last_error(os) : "");
        CHECK_EQ_INT(rc, MDX_OK);
        if (strcmp(tiers[i], "Archive") != 0) {
            sdk_check("azure", key, "tiered", 6, out, sizeof(out));
            json_field(out, "accessTier", v, sizeof(v));
            CHECK_STR(v, tiers[i]);
        }
    }
    /* An archived blob is offline: reading it fails with a reason. */
    int rc = mdx_objstore_azure.get(os, "tier/Archive", &got, &glen, 100);
    fprintf(stderr, "  get of an Archive blob: %s (%s)\n", mdx_strerror(rc),
            mdx_objstore_azure.last_error(os));
    CHECK_EQ_INT(rc, MDX_EBUSY); /* issue 13: told apart, so the archiver can go on */
    CHECK(strstr(mdx_objstore_azure.last_error(os), "409 BlobArchived") != NULL);
    mdx_free(got);
    for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
        snprintf(key, sizeof(key), "tier/%s", tiers[i]);
        CHECK_EQ_INT(mdx_objstore_azure.del(os, key), MDX_OK);
    }
    mdx_objstore_azure.destroy(os);
}

static void azure_list_pages_with_marker(void)
{
    struct mdx_objstore_conf c = az_conf(az_endpoint);
    void *os = open_store(&mdx_objstore_azure, &c);
    struct listing l = {0};
    char key[64];

    if (os == NULL) {
        return;
    }
    mdx_azure_test_hooks(os, 0, 2);
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "pages/obj-%02d", i);
        CHECK_EQ_INT(mdx_objstore_azure.put(os, key, "x", 1, NULL), MDX_OK);
    }
    CHECK_EQ_INT(mdx_objstore_azure.list(os, "pages/", collect, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 5);
    for (int i = 0; i < 5 && i < l.n; i++) {
        snprintf(key, sizeof(key), "pages/obj-%02d", i);
        CHECK_STR(l.keys[i], key);
        mdx_objstore_azure.del(os, key);
    }
    mdx_objstore_azure.destroy(os);
}

static void azure_sas(void)
{
    struct mdx_objstore_conf c = az_conf(az_endpoint);
    char out[2048], sas[1500];
    void *os;

    /* A container SAS made by the official SDK, for all operations the archiver needs. */
    CHECK_EQ_INT(sdk(out, sizeof(out), "azure-sas", az_endpoint, AZ_CONTAINER, "racwdl", "30",
                     NULL),
                 0);
    json_field(out, "sas", sas, sizeof(sas));
    CHECK(strstr(sas, "sig=") != NULL);
    c.secret_key = NULL;
    c.sas_token = sas;
    os = open_store(&mdx_objstore_azure, &c);
    if (os != NULL) {
        roundtrip(&mdx_objstore_azure, os, "azure", "sas", NULL);
        mdx_objstore_azure.destroy(os);
    }
    /* A read-only SAS can't write. */
    CHECK_EQ_INT(sdk(out, sizeof(out), "azure-sas", az_endpoint, AZ_CONTAINER, "rl", "30", NULL),
                 0);
    json_field(out, "sas", sas, sizeof(sas));
    os = open_store(&mdx_objstore_azure, &c);
    if (os != NULL) {
        CHECK_EQ_INT(mdx_objstore_azure.put(os, "sas/ro", "abc", 3, NULL), MDX_EDENIED);
        fprintf(stderr, "  last_error: %s\n", mdx_objstore_azure.last_error(os));
        CHECK(strstr(mdx_objstore_azure.last_error(os), "sig=") == NULL);
        mdx_objstore_azure.destroy(os);
    }
}

static void azure_wrong_key_is_denied(void)
{
    struct mdx_objstore_conf c = az_conf(az_endpoint);
    struct mdx_obj_info info;
    void *os;

    /* A valid base64 key that is not the account's. */
    c.secret_key = "dGhpcyBpcyBub3QgdGhlIGFjY291bnQga2V5IG9mIGRldnN0b3JlYWNjb3VudDEh";
    os = open_store(&mdx_objstore_azure, &c);
    if (os != NULL) {
        CHECK_EQ_INT(mdx_objstore_azure.put(os, "denied/a", "abc", 3, NULL), MDX_EDENIED);
        fprintf(stderr, "  last_error: %s\n", mdx_objstore_azure.last_error(os));
        CHECK(strstr(mdx_objstore_azure.last_error(os), "403") != NULL);
        CHECK(strstr(mdx_objstore_azure.last_error(os), c.secret_key) == NULL);
        /* HEAD has no body: the reason comes from x-ms-error-code. */
        CHECK_EQ_INT(mdx_objstore_azure.head(os, "denied/a", &info), MDX_EDENIED);
        fprintf(stderr, "  last_error (HEAD): %s\n", mdx_objstore_azure.last_error(os));
        mdx_objstore_azure.destroy(os);
    }
}

/* ---- faults from the fake server and a closed port ---- */

static void fault_store(const struct mdx_objstore_ops *ops, int port, int64_t timeout_ms,
                        void **os)
{
    static char endpoint[96];
    struct mdx_objstore_conf c;

    if (ops == &mdx_objstore_s3) {
        snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
        c = s3_conf(endpoint, 1);
    } else {
        snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/%s", port, AZ_ACCOUNT);
        c = az_conf(endpoint);
    }
    c.timeout_ms = timeout_ms;
    *os = open_store(ops, &c);
}

static void both_kinds(void (*fn)(const struct mdx_objstore_ops *ops))
{
    fn(&mdx_objstore_s3);
    fn(&mdx_objstore_azure);
}

static void refused_one(const struct mdx_objstore_ops *ops)
{
    void *os;
    int64_t t0 = mdx_mono_us();
    void *got = NULL;
    size_t glen;

    fault_store(ops, free_port(), 2000, &os);
    if (os == NULL) {
        return;
    }
    CHECK_EQ_INT(ops->put(os, "a", "abc", 3, NULL), MDX_EAGAIN);
    CHECK_EQ_INT(ops->get(os, "a", &got, &glen, 100), MDX_EAGAIN);
    CHECK(strstr(ops->last_error(os), "onnect") != NULL);
    fprintf(stderr, "  %s: %s\n", ops->name, ops->last_error(os));
    CHECK(mdx_mono_us() - t0 < 2000000);
    ops->destroy(os);
}

static void fault_unreachable(void)
{
    both_kinds(refused_one);
}

static void status500_one(const struct mdx_objstore_ops *ops)
{
    void *os;
    struct mdx_obj_info info;

    atomic_store(&fake.mode, FAKE_500);
    fault_store(ops, fake.port, 2000, &os);
    if (os == NULL) {
        return;
    }
    CHECK_EQ_INT(ops->put(os, "a", "abc", 3, NULL), MDX_EAGAIN);
    fprintf(stderr, "  %s: %s\n", ops->name, ops->last_error(os));
    CHECK(strstr(ops->last_error(os), "500") != NULL);
    CHECK_EQ_INT(ops->head(os, "a", &info), MDX_EAGAIN);
    ops->destroy(os);
}

static void fault_500(void)
{
    both_kinds(status500_one);
}

static void slow_one(const struct mdx_objstore_ops *ops)
{
    void *os;
    int64_t t0;

    atomic_store(&fake.mode, FAKE_SLOW);
    fault_store(ops, fake.port, 500, &os);
    if (os == NULL) {
        return;
    }
    t0 = mdx_mono_us();
    CHECK_EQ_INT(ops->put(os, "a", "abc", 3, NULL), MDX_EAGAIN);
    CHECK(mdx_mono_us() - t0 < 1500000); /* bounded by timeout_ms, not by the server */
    fprintf(stderr, "  %s: %s\n", ops->name, ops->last_error(os));
    CHECK(strstr(ops->last_error(os), "timed out") != NULL);
    ops->destroy(os);
}

static void fault_slow(void)
{
    both_kinds(slow_one);
    atomic_store(&fake.mode, FAKE_OK); /* ends the slow answer under way within 100 ms */
}

static void fault_clock_skew_answers(void)
{
    void *os;

    atomic_store(&fake.mode, FAKE_S3_SKEW);
    fault_store(&mdx_objstore_s3, fake.port, 2000, &os);
    if (os != NULL) {
        CHECK_EQ_INT(mdx_objstore_s3.put(os, "a", "abc", 3, NULL), MDX_EDENIED);
        fprintf(stderr, "  s3: %s\n", mdx_objstore_s3.last_error(os));
        CHECK(strstr(mdx_objstore_s3.last_error(os), "clock skew") != NULL);
        mdx_objstore_s3.destroy(os);
    }
    atomic_store(&fake.mode, FAKE_AZ_SKEW);
    fault_store(&mdx_objstore_azure, fake.port, 2000, &os);
    if (os != NULL) {
        CHECK_EQ_INT(mdx_objstore_azure.put(os, "a", "abc", 3, NULL), MDX_EDENIED);
        fprintf(stderr, "  azure: %s\n", mdx_objstore_azure.last_error(os));
        CHECK(strstr(mdx_objstore_azure.last_error(os), "clock skew") != NULL);
        CHECK(strstr(mdx_objstore_azure.last_error(os), "AuthenticationFailed") != NULL);
        mdx_objstore_azure.destroy(os);
    }
}

/* The header lines of the last request seen by the fake server, lower-cased names. */
static int head_has(const char *line)
{
    int found;

    pthread_mutex_lock(&fake.lock);
    found = strcasestr(fake.last_head, line) != NULL;
    pthread_mutex_unlock(&fake.lock);
    if (!found) {
        fprintf(stderr, "  request lacks \"%s\":\n%s\n", line, fake.last_head);
    }
    return found;
}

static void s3_request_headers(void)
{
    struct mdx_objstore_conf c = s3_conf("", 1);
    char endpoint[96], want[128], sha[65];
    const char *body = "ts,device,value\n1700000000000,pump-7,12.3\n";
    void *os;

    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", fake.port);
    c.endpoint = endpoint;
    c.sse = "aws:kms";
    c.session_token = "SESSIONTOKEN123";
    atomic_store(&fake.mode, FAKE_OK);
    os = open_store(&mdx_objstore_s3, &c);
    if (os == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_objstore_s3.put(os, "t=1/a b.csv", body, strlen(body), "STANDARD_IA"),
                 MDX_OK);
    CHECK(head_has("PUT /modax-archive/t%3D1/a%20b.csv HTTP/1.1\r\n"));
    snprintf(want, sizeof(want), "\r\nHost: 127.0.0.1:%d\r\n", fake.port);
    CHECK(head_has(want));
    sha_hex(body, strlen(body), sha);
    snprintf(want, sizeof(want), "\r\nx-amz-content-sha256: %s\r\n", sha);
    CHECK(head_has(want));
    CHECK(head_has("\r\nContent-Length: 42\r\n"));
    CHECK(head_has("\r\nx-amz-storage-class: STANDARD_IA\r\n"));
    CHECK(head_has("\r\nx-amz-server-side-encryption: aws:kms\r\n"));
    CHECK(head_has("\r\nx-amz-security-token: SESSIONTOKEN123\r\n"));
    CHECK(head_has("\r\nx-amz-date: 20"));
    CHECK(head_has("\r\nAuthorization: AWS4-HMAC-SHA256 Credential=S3RVER/20"));
    /* Issue 13: the server checks the bytes (Content-MD5 of this body, from `openssl dgst
     * -md5 -binary | base64`) and keeps their SHA-256 for HEAD, so cold tiers need no read. */
    CHECK(head_has("\r\ncontent-md5: DudiCQfXtutLN8dRUFp2tg==\r\n"));
    snprintf(want, sizeof(want), "\r\nx-amz-meta-modax-sha256: %s\r\n", sha);
    CHECK(head_has(want));
    CHECK(head_has("/us-east-1/s3/aws4_request, SignedHeaders=content-md5;host;"
                   "x-amz-content-sha256;x-amz-date;x-amz-meta-modax-sha256;"
                   "x-amz-security-token;x-amz-server-side-encryption;"
                   "x-amz-storage-class, Signature="));
    CHECK(strcasestr(fake.last_head, "Transfer-Encoding") == NULL); /* not chunked */
    CHECK_EQ_INT(fake.last_body, 42);
    /* Every request carries the payload hash, a GET that of the empty body. */
    void *got = NULL;
    size_t glen;
    CHECK_EQ_INT(mdx_objstore_s3.get(os, "x", &got, &glen, 100), MDX_OK);
    mdx_free(got);
    CHECK(head_has("\r\nx-amz-content-sha256: "
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n"));
    mdx_objstore_s3.destroy(os);
}

static void s3_failed_multipart_is_aborted(void)
{
    struct mdx_objstore_conf c = s3_conf("", 1);
    char endpoint[96], lines[4096];
    size_t len = 6 * MIB;
    unsigned char *d = make_data(len, 3);
    void *os;

    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", fake.port);
    c.endpoint = endpoint;
    c.multipart_mb = 5;
    atomic_store(&fake.mode, FAKE_MPU);
    pthread_mutex_lock(&fake.lock);
    fake.lines[0] = '\0';
    pthread_mutex_unlock(&fake.lock);
    os = open_store(&mdx_objstore_s3, &c);
    if (os != NULL && d != NULL) {
        CHECK_EQ_INT(mdx_objstore_s3.put(os, "mp/a", d, len, NULL), MDX_EAGAIN);
        fprintf(stderr, "  last_error: %s\n", mdx_objstore_s3.last_error(os));
        CHECK(strstr(mdx_objstore_s3.last_error(os), "500") != NULL); /* the cause, not the abort */
        pthread_mutex_lock(&fake.lock);
        memcpy(lines, fake.lines, sizeof(lines));
        pthread_mutex_unlock(&fake.lock);
        CHECK_STR(lines, "POST /modax-archive/mp/a?uploads= HTTP/1.1\n"
                         "PUT /modax-archive/mp/a?partNumber=1&uploadId=UP%261 HTTP/1.1\n"
                         "PUT /modax-archive/mp/a?partNumber=2&uploadId=UP%261 HTTP/1.1\n"
                         "DELETE /modax-archive/mp/a?uploadId=UP%261 HTTP/1.1\n");
    }
    mdx_objstore_s3.destroy(os);
    mdx_free(d);
}

/* ---- cold tiers (issue 13, item 4) ---- */

/*
 * A proxy in front of s3rver or Azurite that answers every read of an
 * object as S3 does for Glacier objects (403 InvalidObjectState) or Azure
 * for the Archive tier (409 BlobArchived), and forwards everything else.
 * One request per connection: the upstream is asked to close after it.
 */
static struct {
    int fd, port, upstream, azure, started;
    int check_tokens;         /* instead of refusing reads: refuse expired session tokens */
    atomic_int stop, refused;
    pthread_t thread;
} cold;

/* Session tokens the credentials stand-in issued ("tok-N") and when each expires. */
#define TOKENS_MAX 256
static struct {
    int fd, port, started, web_identity;
    int entra;                /* answer as Entra ID's token endpoint (Azure Workload Identity) */
    int expired;              /* entra: tokens whose exp has already passed */
    int garbage;              /* answer 200 with a body that is no credentials */
    atomic_int stop, issued, bad_auth;
    int64_t lifetime_ms;
    _Atomic int64_t expires[TOKENS_MAX];
    char auth_file[600];      /* the token file the client reads; good: token-1, token-2 */
    pthread_t thread;
} creds;

/* Non-zero when the request's x-amz-security-token is one the stand-in issued, still valid. */
static int token_valid(const char *head)
{
    static const char name[] = "\r\nx-amz-security-token: tok-";
    const char *t = strcasestr(head, name);
    long n;

    if (t == NULL) {
        return 0;
    }
    n = strtol(t + sizeof(name) - 1, NULL, 10);
    return n >= 1 && n < TOKENS_MAX && mdx_now_ms() < atomic_load(&creds.expires[n]);
}

static int recv_head(int c, char *buf, size_t cap, size_t *got, char **end)
{
    *got = 0;
    *end = NULL;
    while (*end == NULL && *got < cap - 1) {
        ssize_t r = recv(c, buf + *got, cap - 1 - *got, 0);
        if (r <= 0) {
            return -1;
        }
        *got += (size_t)r;
        buf[*got] = '\0';
        *end = strstr(buf, "\r\n\r\n");
    }
    return *end != NULL ? 0 : -1;
}

static void cold_forward(int c, char *head, size_t got, char *end)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)cold.upstream)};
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    long body_left = cl != NULL && cl < end ? strtol(cl + 17, NULL, 10) : 0;
    size_t head_len = (size_t)(end - head) + 2; /* up to the last header's CRLF */
    char buf[65536];
    int u = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t r;

    if (u < 0 || connect(u, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (u >= 0) {
            close(u);
        }
        return;
    }
    body_left -= (long)(got - head_len - 2);
    if (send(u, head, head_len, MSG_NOSIGNAL) < 0 ||
        send(u, "Connection: close\r\n", 19, MSG_NOSIGNAL) < 0 ||
        send(u, end + 2, got - head_len, MSG_NOSIGNAL) < 0) {
        close(u);
        return;
    }
    while (body_left > 0 && (r = recv(c, buf, sizeof(buf), 0)) > 0) {
        body_left -= r;
        if (send(u, buf, (size_t)r, MSG_NOSIGNAL) < 0) {
            break;
        }
    }
    while ((r = recv(u, buf, sizeof(buf), 0)) > 0) {
        if (send(c, buf, (size_t)r, MSG_NOSIGNAL) < 0) {
            break;
        }
    }
    close(u);
}

static void cold_answer(int c)
{
    char head[16384], resp[1024], *end, *sp;
    size_t got;

    if (recv_head(c, head, sizeof(head), &got, &end) != 0) {
        return;
    }
    sp = strchr(head + 4, ' ');
    if (cold.check_tokens) {
        if (!token_valid(head)) {
            static const char body[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>"
                                       "ExpiredToken</Code></Error>";
            snprintf(resp, sizeof(resp),
                     "HTTP/1.1 400 Bad Request\r\nContent-Length: %zu\r\nConnection: close\r\n"
                     "\r\n%s", strlen(body), body);
            atomic_fetch_add(&cold.refused, 1);
            (void)send(c, resp, strlen(resp), MSG_NOSIGNAL);
            return;
        }
        cold_forward(c, head, got, end);
        return;
    }
    /* GET of an object: a path with no query (a list has one) */
    if (strncmp(head, "GET /", 5) == 0 && sp != NULL && memchr(head, '?', (size_t)(sp - head)) == NULL) {
        const char *body = cold.azure
                               ? "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobArchived"
                                 "</Code><Message>This operation is not permitted on an archived "
                                 "blob.</Message></Error>"
                               : "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>"
                                 "InvalidObjectState</Code><Message>The operation is not valid "
                                 "for the object's storage class</Message><StorageClass>GLACIER"
                                 "</StorageClass></Error>";
        snprintf(resp, sizeof(resp),
                 "HTTP/1.1 %s\r\nContent-Type: application/xml\r\nContent-Length: %zu\r\n"
                 "x-ms-error-code: %s\r\nConnection: close\r\n\r\n%s",
                 cold.azure ? "409 Conflict" : "403 Forbidden", strlen(body),
                 cold.azure ? "BlobArchived" : "none", body);
        atomic_fetch_add(&cold.refused, 1);
        (void)send(c, resp, strlen(resp), MSG_NOSIGNAL);
        return;
    }
    cold_forward(c, head, got, end);
}

static void *cold_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&cold.stop)) {
        struct pollfd p = {.fd = cold.fd, .events = POLLIN};
        int c;

        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        c = accept(cold.fd, NULL, NULL);
        if (c >= 0) {
            cold_answer(c);
            close(c);
        }
    }
    return NULL;
}

static int cold_start(int upstream, int azure)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);

    memset(&cold, 0, sizeof(cold));
    cold.upstream = upstream;
    cold.azure = azure;
    cold.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cold.fd < 0 || bind(cold.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(cold.fd, (struct sockaddr *)&a, &len) != 0 || listen(cold.fd, 16) != 0) {
        return -1;
    }
    cold.port = ntohs(a.sin_port);
    cold.started = pthread_create(&cold.thread, NULL, cold_main, NULL) == 0;
    return cold.started ? 0 : -1;
}

static void cold_stop(void)
{
    atomic_store(&cold.stop, 1);
    if (cold.started) {
        pthread_join(cold.thread, NULL);
    }
    if (cold.fd > 0) {
        close(cold.fd);
    }
}

/* Writes 'n' points a minute apart from 'from' for acme/m1. */
static void write_points(struct mdx_store *st, int64_t from, int n)
{
    struct mdx_point pts[60];
    struct mdx_point_group g = {"acme", "m1", pts, 0};
    struct mdx_batch b = {.groups = &g, .n_groups = 1};
    struct mdx_batch_result res;

    for (int done = 0; done < n; done += (int)g.n) {
        g.n = n - done < 60 ? (size_t)(n - done) : 60;
        memset(pts, 0, sizeof(pts));
        for (size_t i = 0; i < g.n; i++) {
            snprintf(pts[i].sensor, sizeof(pts[i].sensor), "current");
            pts[i].sensor_len = 7;
            pts[i].ts_ms = from + (int64_t)(done + (int)i) * 60000;
            pts[i].value = 3.0 + (double)((done + (int)i) % 17);
        }
        CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    }
}

/*
 * An archive pass to a cold tier through the proxy: objects verified
 * without a read, the rows deleted; then late points for an archived day
 * go to the next key, as the first object cannot be read to compare.
 */
static void archive_to_cold_tier(struct mdx_objstore_conf *oc, const char *tier, const char *name,
                                 int upstream, int azure)
{
    char dir[600], key[256];
    struct mdx_archive_conf ac = {.after_days = 90, .expire_days = 36500, .interval_s = 3600,
                                  .max_object_mb = 64, .lease_s = 120, .tier = tier};
    int64_t now = mdx_now_ms(), day0 = (now / MDX_DAY_MS - 120) * MDX_DAY_MS, n = -1;
    struct mdx_archive_stats s;
    struct mdx_obj_info info = {0, 0, ""};
    struct mdx_store *st;
    struct mdx_objstore *os;
    struct mdx_archiver *ar;
    int err = 0;

    CHECK(cold_start(upstream, azure) == 0);
    snprintf(dir, sizeof(dir), "%s/%s", tmp_dir, name);
    mkdir(dir, 0755);
    st = test_store_open(dir);
    CHECK(st != NULL);
    snprintf(oc->endpoint, 64, "http://127.0.0.1:%d%s", cold.port, azure ? "/" AZ_ACCOUNT : "");
    os = mdx_objstore_open(oc, &err);
    CHECK(os != NULL);
    if (st == NULL || os == NULL) {
        goto out;
    }
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "m1", 0), MDX_OK);
    write_points(st, day0, 1440);
    write_points(st, day0 + MDX_DAY_MS, 1440);
    ar = mdx_archiver_create(&ac, st, os);
    CHECK(ar != NULL);
    CHECK_EQ_INT(mdx_archiver_run(ar, "acme", 0, now, &s), MDX_OK);
    CHECK_EQ_INT(s.objects, 2);
    CHECK_EQ_INT(s.deleted, 2880);
    CHECK_EQ_INT(s.expired, 0); /* kept 100 years: not "any day" (a bug this test found) */
    CHECK_EQ_INT(atomic_load(&cold.refused), 0); /* no read was needed to verify */
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &n), MDX_OK);
    CHECK_EQ_INT(n, 0);
    /* what HEAD shows, through the proxy: the size and the digest the archiver recorded */
    CHECK_EQ_INT(mdx_archive_key(key, sizeof(key), "acme", "m1", day0, 1), MDX_OK);
    CHECK_EQ_INT(os->ops->head(os->impl, key, &info), MDX_OK);
    CHECK(strlen(info.sha256) == 64);
    CHECK(info.size > 0);

    /* late points for the first day: its object can't be read, so they get points-2 */
    write_points(st, day0 + 3600000, 5);
    CHECK_EQ_INT(mdx_archiver_run(ar, "acme", 0, now, &s), MDX_OK);
    CHECK_EQ_INT(s.objects, 1);
    CHECK_EQ_INT(s.deleted, 5);
    CHECK(atomic_load(&cold.refused) >= 1);
    CHECK_EQ_INT(mdx_archive_key(key, sizeof(key), "acme", "m1", day0, 2), MDX_OK);
    CHECK_EQ_INT(os->ops->head(os->impl, key, &info), MDX_OK);
    mdx_archiver_destroy(ar);
out:
    mdx_objstore_close(os);
    mdx_store_close(st);
    cold_stop();
}

static void s3_glacier_archive_verified_without_reads(void)
{
    char ep[64];
    struct mdx_objstore_conf c = s3_conf(s3_endpoint, 1);

    c.endpoint = ep;
    archive_to_cold_tier(&c, "GLACIER", "cold-s3", s3_port, 0);
}

static void azure_archive_tier_verified_without_reads(void)
{
    char ep[64];
    struct mdx_objstore_conf c = az_conf(az_endpoint);

    c.endpoint = ep;
    archive_to_cold_tier(&c, "Archive", "cold-az", az_port, 1);
}

/* ---- rotating credentials (issue 13, item 5) ---- */

/* The whole content of 'path' (the token file), or "" */
static void file_text(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(out, 1, len - 1, f) : 0;

    out[n] = '\0';
    if (f != NULL) {
        fclose(f);
    }
}

/* Answers the container endpoint (GET, Authorization = the token file's text) or STS
 * (POST AssumeRoleWithWebIdentity with WebIdentityToken = the file's text): keys S3RVER
 * with a new session token each time, valid creds.lifetime_ms. */
static void creds_answer(int c)
{
    char head[16384], want[256], resp[4096], iso[32], *end, body[2048];
    size_t got;
    int n, ok;
    int64_t exp;

    if (recv_head(c, head, sizeof(head), &got, &end) != 0) {
        return;
    }
    if (creds.garbage) {
        snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n"
                                     "Connection: close\r\n\r\nnot json!");
        (void)send(c, resp, strlen(resp), MSG_NOSIGNAL);
        return;
    }
    /* the client reads the token from the file; the stand-in knows the two good ones */
    file_text(creds.auth_file, want, sizeof(want));
    if (strcmp(want, "token-1") != 0 && strcmp(want, "token-2") != 0) {
        snprintf(want, sizeof(want), "token-1");
    }
    if (creds.entra) {
        char tok[300];
        snprintf(tok, sizeof(tok), "client_assertion=%s", want);
        ok = strncmp(head, "POST /tenant-1/oauth2/v2.0/token", 32) == 0 && strstr(end, tok) != NULL &&
             strstr(end, "client_id=client-1") != NULL &&
             strstr(end, "grant_type=client_credentials") != NULL &&
             strstr(end, "scope=https%3A%2F%2Fstorage.azure.com%2F.default") != NULL;
    } else if (creds.web_identity) {
        char tok[300];
        snprintf(tok, sizeof(tok), "WebIdentityToken=%s", want);
        ok = strncmp(head, "POST /sts", 9) == 0 && strstr(end, tok) != NULL &&
             strstr(end, "Action=AssumeRoleWithWebIdentity") != NULL &&
             strstr(end, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fmodax") != NULL;
    } else {
        char auth[300];
        snprintf(auth, sizeof(auth), "\r\nAuthorization: %s\r\n", want);
        ok = strncmp(head, "GET /creds", 10) == 0 && strstr(head, auth) != NULL;
    }
    if (!ok) {
        atomic_fetch_add(&creds.bad_auth, 1);
        snprintf(resp, sizeof(resp), "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                                     "Connection: close\r\n\r\n");
        (void)send(c, resp, strlen(resp), MSG_NOSIGNAL);
        return;
    }
    if (ok && creds.entra) {
        /* a JWT as Azurite's basic OAuth checks it: issuer, audience, nbf/iat/exp (no signature) */
        char claims[512], hb[128], cb[1024], jwt[1400];
        int64_t now_s = mdx_now_ms() / 1000, life_s = creds.lifetime_ms / 1000;
        n = atomic_fetch_add(&creds.issued, 1) + 1;
        snprintf(claims, sizeof(claims),
                 "{\"aud\":\"https://storage.azure.com\",\"iss\":\"https://sts.windows.net/"
                 "tenant-1/\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,\"oid\":\"o-%d\"}",
                 (long long)now_s - 60, (long long)now_s - 60,
                 (long long)(creds.expired ? now_s - 10 : now_s + life_s), n);
        mdx_base64url_encode("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", 27, hb, sizeof(hb));
        mdx_base64url_encode(claims, strlen(claims), cb, sizeof(cb));
        snprintf(jwt, sizeof(jwt), "%s.%s.c2lnbmF0dXJl", hb, cb);
        snprintf(body, sizeof(body), "{\"token_type\":\"Bearer\",\"expires_in\":%lld,"
                 "\"access_token\":\"%s\"}", (long long)life_s, jwt);
        snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
        (void)send(c, resp, strlen(resp), MSG_NOSIGNAL);
        return;
    }
    n = atomic_fetch_add(&creds.issued, 1) + 1;
    exp = mdx_now_ms() + creds.lifetime_ms;
    if (n < TOKENS_MAX) {
        atomic_store(&creds.expires[n], exp);
    }
    /* whole seconds, rounded down, as STS writes them */
    mdx_format_iso_ms(exp / 1000 * 1000, iso, sizeof(iso));
    if (creds.web_identity) {
        snprintf(body, sizeof(body),
                 "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/"
                 "2011-06-15/\"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>S3RVER"
                 "</AccessKeyId><SecretAccessKey>S3RVER</SecretAccessKey><SessionToken>tok-%d"
                 "</SessionToken><Expiration>%.19sZ</Expiration></Credentials>"
                 "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
                 n, iso);
    } else {
        snprintf(body, sizeof(body),
                 "{\"AccessKeyId\":\"S3RVER\",\"SecretAccessKey\":\"S3RVER\",\"Token\":\"tok-%d\","
                 "\"Expiration\":\"%.19sZ\"}", n, iso);
    }
    snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s", creds.web_identity ? "text/xml" : "application/json",
             strlen(body), body);
    (void)send(c, resp, strlen(resp), MSG_NOSIGNAL);
}

static void *creds_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&creds.stop)) {
        struct pollfd p = {.fd = creds.fd, .events = POLLIN};
        int c;

        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        c = accept(creds.fd, NULL, NULL);
        if (c >= 0) {
            creds_answer(c);
            close(c);
        }
    }
    return NULL;
}

static int creds_start(int web_identity, int64_t lifetime_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);

    memset(&creds, 0, sizeof(creds));
    creds.web_identity = web_identity;
    creds.lifetime_ms = lifetime_ms;
    snprintf(creds.auth_file, sizeof(creds.auth_file), "%s/identity-token", tmp_dir);
    creds.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (creds.fd < 0 || bind(creds.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(creds.fd, (struct sockaddr *)&a, &len) != 0 || listen(creds.fd, 16) != 0) {
        return -1;
    }
    creds.port = ntohs(a.sin_port);
    creds.started = pthread_create(&creds.thread, NULL, creds_main, NULL) == 0;
    return creds.started ? 0 : -1;
}

static void creds_stop(void)
{
    atomic_store(&creds.stop, 1);
    if (creds.started) {
        pthread_join(creds.thread, NULL);
    }
    if (creds.fd > 0) {
        close(creds.fd);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/*
 * The S3 store with keys that live 2 s, behind a proxy that refuses any
 * expired session token: for 7 s it keeps writing and reading, the token
 * file rotated on the way, then an archive pass runs on the same keys.
 */
static void keys_rotate_and_work_goes_on(int web_identity)
{
    char ep[64], key[64], dir[600];
    struct mdx_objstore_conf c = s3_conf(s3_endpoint, 1);
    struct mdx_obj_info info = {0, 0, ""};
    int64_t until;
    int ops = 0, failures = 0, err = 0;
    struct mdx_objstore *os;

    CHECK(creds_start(web_identity, 2000) == 0);
    CHECK(cold_start(s3_port, 0) == 0);
    cold.check_tokens = 1;
    write_file(creds.auth_file, "token-1");
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", cold.port);
    c.endpoint = ep;
    c.access_key = "";
    c.secret_key = "";
    c.credentials = web_identity ? "aws-web-identity" : "auto";
    if (web_identity) {
        char sts[64];
        snprintf(sts, sizeof(sts), "http://127.0.0.1:%d/sts", creds.port);
        setenv("AWS_ENDPOINT_URL_STS", sts, 1);
        setenv("AWS_WEB_IDENTITY_TOKEN_FILE", creds.auth_file, 1);
        setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/modax", 1);
    } else {
        char uri[64];
        snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/creds", creds.port);
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", creds.auth_file, 1);
    }
    os = mdx_objstore_open(&c, &err);
    CHECK(os != NULL);
    until = mdx_now_ms() + 7000;
    while (os != NULL && mdx_now_ms() < until) {
        snprintf(key, sizeof(key), "rotate/%d", ops % 5);
        failures += os->ops->put(os->impl, key, "x", 1, NULL) != MDX_OK;
        failures += os->ops->head(os->impl, key, &info) != MDX_OK;
        if (++ops == 10) {
            write_file(creds.auth_file, "token-2"); /* the kubelet rotates the projected token */
        }
        mdx_sleep_ms(100);
    }
    CHECK_EQ_INT(failures, 0);
    CHECK(ops >= 20);
    CHECK(atomic_load(&creds.issued) >= 4); /* 7 s of 2-second keys, fetched at half-life */
    CHECK_EQ_INT(atomic_load(&creds.bad_auth), 0);
    CHECK_EQ_INT(atomic_load(&cold.refused), 0); /* never signed with an expired token */
    if (os != NULL) {
        /* the archiver on the same store, after all those expiries */
        struct mdx_archive_conf ac = {.after_days = 90, .expire_days = 365, .interval_s = 3600,
                                      .max_object_mb = 64, .lease_s = 120, .tier = NULL};
        int64_t now = mdx_now_ms(), day0 = (now / MDX_DAY_MS - 100) * MDX_DAY_MS;
        struct mdx_archive_stats st_run;
        struct mdx_archiver *ar;
        struct mdx_store *st;

        snprintf(dir, sizeof(dir), "%s/rotate-%d", tmp_dir, web_identity);
        mkdir(dir, 0755);
        st = test_store_open(dir);
        CHECK(st != NULL);
        if (st != NULL) {
            CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
            CHECK_EQ_INT(mdx_store_device_add(st, "acme", "m1", 0), MDX_OK);
            write_points(st, day0, 100);
            ar = mdx_archiver_create(&ac, st, os);
            CHECK_EQ_INT(mdx_archiver_run(ar, "acme", 0, now, &st_run), MDX_OK);
            CHECK_EQ_INT(st_run.objects, 1);
            mdx_archiver_destroy(ar);
            mdx_store_close(st);
        }
    }
    /* the endpoint refuses (the token is wrong now): once the keys expire, requests fail
     * with the reason */
    write_file(creds.auth_file, "wrong");
    for (int64_t t_end = mdx_now_ms() + 10000; os != NULL && mdx_now_ms() < t_end;) {
        err = os->ops->put(os->impl, "rotate/x", "x", 1, NULL);
        if (err != MDX_OK) {
            break;
        }
        mdx_sleep_ms(100);
    }
    CHECK_EQ_INT(err, MDX_EDENIED);
    CHECK(os == NULL || strstr(os->ops->last_error(os->impl), "HTTP 403") != NULL);
    CHECK(atomic_load(&creds.bad_auth) >= 1);
    unsetenv("AWS_ENDPOINT_URL_STS");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    mdx_objstore_close(os);
    cold_stop();
    creds_stop();
}

/* Credentials that cannot work are refused when the store opens, or named when used. */
static void s3_credentials_bad_inputs(void)
{
    struct mdx_objstore_conf c = s3_conf(s3_endpoint, 1);
    struct mdx_objstore *os;
    char uri[64];
    int err = 0;

    c.access_key = "";
    c.secret_key = "";
    c.credentials = "auto"; /* no keys, no environment */
    CHECK(mdx_objstore_open(&c, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    c.credentials = "bogus";
    CHECK(mdx_objstore_open(&c, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    c.credentials = "aws-web-identity"; /* without AWS_ROLE_ARN and the token file */
    CHECK(mdx_objstore_open(&c, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    /* plain HTTP to anything but loopback or the link-local agents would leak the keys */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds", 1);
    c.credentials = "aws-container";
    CHECK(mdx_objstore_open(&c, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    /* an endpoint that answers nonsense: the request fails, saying so */
    CHECK(creds_start(0, 2000) == 0);
    creds.garbage = 1;
    snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/creds", creds.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
    os = mdx_objstore_open(&c, &err);
    CHECK(os != NULL);
    if (os != NULL) {
        CHECK_EQ_INT(os->ops->put(os->impl, "x", "x", 1, NULL), MDX_EAGAIN);
        CHECK(strstr(os->ops->last_error(os->impl), "not JSON") != NULL);
        mdx_objstore_close(os);
    }
    /* and one that is down */
    creds_stop();
    os = mdx_objstore_open(&c, &err);
    CHECK(os != NULL);
    if (os != NULL) {
        CHECK_EQ_INT(os->ops->put(os->impl, "x", "x", 1, NULL), MDX_EAGAIN);
        CHECK(strstr(os->ops->last_error(os->impl), "container credentials endpoint") != NULL);
        mdx_objstore_close(os);
    }
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

/* Runs 'argv' to its end; its exit status, or -1. */
static int run_to_end(char *const argv[], const char *log)
{
    pid_t pid = spawn_logged(argv, log);
    int status = 0;

    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status)
                                                                           : -1;
}

/*
 * Azure Workload Identity against a second Azurite with HTTPS and its
 * basic OAuth (issuer, audience and expiry checked): tokens living 2 s
 * from an Entra ID stand-in, 7 s of writes across their expiries; a token
 * already expired is refused, so the writes did use fresh ones.
 */
static void azure_workload_identity_tokens_rotate(void)
{
    char dir[600], cert[700], key[700], log[700], bin[1200], port[16], ep[128], host[64];
    struct mdx_objstore_conf c = az_conf(az_endpoint);
    struct mdx_obj_info info = {0, 0, ""};
    struct mdx_objstore *os = NULL;
    int ops = 0, failures = 0, err = 0, az2_port = free_port();
    pid_t az2 = -1;
    int64_t until;

    snprintf(dir, sizeof(dir), "%s/azurite-oauth", tmp_dir);
    mkdir(dir, 0755);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(log, sizeof(log), "%s/openssl.log", dir);
    char *gen[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                   "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                   "-keyout", key, "-out", cert, NULL};
    CHECK_EQ_INT(run_to_end(gen, log), 0);
    snprintf(bin, sizeof(bin), "%s/tests/js/node_modules/.bin/azurite-blob", source_dir());
    snprintf(port, sizeof(port), "%d", az2_port);
    snprintf(log, sizeof(log), "%s/azurite.log", dir);
    char *azargv[] = {"node", bin, "--blobHost", "127.0.0.1", "--blobPort", port, "--location",
                      dir, "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--oauth",
                      "basic", "--cert", cert, "--key", key, NULL};
    az2 = spawn_logged(azargv, log);
    CHECK(wait_port(az2, az2_port, 60000) == 0);
    snprintf(ep, sizeof(ep), "https://127.0.0.1:%d/%s", az2_port, AZ_ACCOUNT);
    setenv("NODE_EXTRA_CA_CERTS", cert, 1);
    {
        char out[512];
        CHECK(sdk(out, sizeof(out), "azure-create", ep, AZ_CONTAINER, NULL) == 0);
    }
    unsetenv("NODE_EXTRA_CA_CERTS");

    CHECK(creds_start(0, 2000) == 0);
    creds.entra = 1;
    write_file(creds.auth_file, "token-1");
    snprintf(host, sizeof(host), "http://127.0.0.1:%d/", creds.port);
    setenv("AZURE_AUTHORITY_HOST", host, 1);
    setenv("AZURE_TENANT_ID", "tenant-1", 1);
    setenv("AZURE_CLIENT_ID", "client-1", 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", creds.auth_file, 1);
    c.endpoint = ep;
    c.secret_key = "";
    c.ca_file = cert;
    c.credentials = "auto";
    os = mdx_objstore_open(&c, &err);
    CHECK(os != NULL);
    until = mdx_now_ms() + 7000;
    while (os != NULL && mdx_now_ms() < until) {
        char k[32];
        snprintf(k, sizeof(k), "wi/%d", ops % 5);
        failures += os->ops->put(os->impl, k, "x", 1, NULL) != MDX_OK;
        failures += os->ops->head(os->impl, k, &info) != MDX_OK;
        if (++ops == 10) {
            write_file(creds.auth_file, "token-2"); /* the kubelet rotates the projected token */
        }
        mdx_sleep_ms(100);
    }
    if (failures > 0 && os != NULL) {
        fprintf(stderr, "  last error: %s\n", os->ops->last_error(os->impl));
    }
    CHECK_EQ_INT(failures, 0);
    CHECK(ops >= 20);
    CHECK(atomic_load(&creds.issued) >= 4);
    CHECK_EQ_INT(atomic_load(&creds.bad_auth), 0);
    mdx_objstore_close(os);

    /* Azurite does check expiry: a store given only expired tokens is refused */
    creds.expired = 1;
    os = mdx_objstore_open(&c, &err);
    CHECK(os != NULL);
    if (os != NULL) {
        CHECK_EQ_INT(os->ops->put(os->impl, "wi/expired", "x", 1, NULL), MDX_EDENIED);
        CHECK(strstr(os->ops->last_error(os->impl), "403") != NULL);
        mdx_objstore_close(os);
    }
    /* no account key, no SAS and no workload identity: refused at open */
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    CHECK(mdx_objstore_open(&c, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    unsetenv("AZURE_AUTHORITY_HOST");
    unsetenv("AZURE_TENANT_ID");
    unsetenv("AZURE_CLIENT_ID");
    creds_stop();
    stop_proc(&az2);
}

static void s3_container_credentials_rotate(void)
{
    keys_rotate_and_work_goes_on(0);
}

static void s3_web_identity_credentials_rotate(void)
{
    keys_rotate_and_work_goes_on(1);
}

static const struct mdx_test tests[] = {
    {"issue 3: S3 put/get/head/list/del path style, read back by the AWS SDK",
     s3_roundtrip_path_style},
    {"issue 3: S3 virtual-host style against s3rver", s3_roundtrip_virtual_host},
    {"issue 3: S3 list pages with continuation tokens", s3_list_pages_with_continuation},
    {"issue 3: S3 multipart upload with storage class and SSE",
     s3_multipart_with_storage_class_and_sse},
    {"issue 3: S3 session token is sent and accepted", s3_session_token_accepted},
    {"issue 3: S3 unknown access key id -> denied", s3_unknown_access_key_is_denied},
    {"issue 3: S3 clock skew (signed 20 min off) is named", s3_clock_skew_is_named},
    {"issue 3: S3 request headers (sha256, length, class, SSE, token, signed)",
     s3_request_headers},
    {"issue 3: S3 failed multipart upload is aborted", s3_failed_multipart_is_aborted},
    {"issue 3: Azure put/get/head/list/del SharedKey, read back by the Azure SDK",
     azure_roundtrip_sharedkey},
    {"issue 3: Azure Put Block/Put Block List with tier", azure_blocks_with_tier},
    {"issue 3: Azure access tiers Hot/Cool/Cold/Archive", azure_tiers},
    {"issue 3: Azure list pages with markers", azure_list_pages_with_marker},
    {"issue 3: Azure SAS from the SDK; read-only SAS can't write", azure_sas},
    {"issue 3: Azure wrong account key -> denied", azure_wrong_key_is_denied},
    {"issue 3: object store unreachable -> retry later", fault_unreachable},
    {"issue 3: object store answers 500 -> retry later", fault_500},
    {"issue 3: object store too slow -> retry later within the timeout", fault_slow},
    {"issue 3: clock skew answers of S3 and Azure are named", fault_clock_skew_answers},
    {"issue 13: S3 Glacier (reads refused): archived, verified by HEAD, rows deleted",
     s3_glacier_archive_verified_without_reads},
    {"issue 13: Azure Archive tier (reads refused): archived, verified by HEAD, rows deleted",
     azure_archive_tier_verified_without_reads},
    {"issue 13: S3 keys from the container endpoint (EKS Pod Identity) rotate; work goes on",
     s3_container_credentials_rotate},
    {"issue 13: S3 keys from STS web identity (IRSA) rotate; work goes on",
     s3_web_identity_credentials_rotate},
    {"issue 13: S3 credentials that cannot work are refused or named", s3_credentials_bad_inputs},
    {"issue 13: Azure Workload Identity tokens (HTTPS, Azurite OAuth) rotate; work goes on",
     azure_workload_identity_tokens_rotate},
    {NULL, NULL}};

int main(int argc, char **argv)
{
    int rc = 1;

    signal(SIGPIPE, SIG_IGN);
    if (start_services() != 0 || fake_start() != 0) {
        fprintf(stderr, "object store stand-ins missing: failing, not skipping\n");
        printf("0 passed, 1 failed\n");
    } else {
        rc = mdx_test_run(tests, argc, argv);
    }
    fake_stop();
    stop_proc(&s3rver_pid);
    stop_proc(&azurite_pid);
    if (rc == 0) {
        tmp_remove(tmp_dir);
    } else {
        fprintf(stderr, "  logs kept in %s\n", tmp_dir);
    }
    return rc;
}
