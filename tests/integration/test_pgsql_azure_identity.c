/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pgsql_azure_identity.c - the PostgreSQL store with
 * store.pgsql.credentials = azure-workload-identity (issue 13, item 5),
 * against a real PostgreSQL 15 started here and an Entra ID token
 * endpoint stand-in on loopback, as Azure Database for PostgreSQL
 * flexible server takes it: the password of the managed identity's role
 * is the current access token.
 *
 * The stand-in checks the grant as Entra ID does for a workload identity
 * (client id, client_assertion = the federated token file's content,
 * scope = the PostgreSQL one), issues tokens living a few seconds, and
 * makes each the role's password (ALTER ROLE ... PASSWORD ... VALID
 * UNTIL its expiry) before answering, so only the newest token, while it
 * lives, logs in. Everything the store logs goes to a file, which must
 * never hold an issued token.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "check.h"
#include "store_util.h"
#include "base/encode.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define ROLE "modax-wi"   /* the managed identity's PostgreSQL role */
#define DB "wi"
#define TENANT_ID "tenant-a"
#define CLIENT_ID "client-a"
#define LIFE_MS 3000      /* of the tokens issued */
#define TOKENS_MAX 256
#define T0 1760000000000LL

enum standin_mode {
    ISSUE,   /* token becomes the role's password until it expires */
    WRONG,   /* a token the server was never given */
    EXPIRED, /* the server takes it as already expired */
};

/* The Entra ID token endpoint stand-in. */
static struct {
    int fd;
    int port;
    pthread_t thread;
    int thread_started;
    atomic_int stop;
    atomic_int listening;
    atomic_int mode;
    atomic_int issued;
    atomic_int bad_grant;    /* grants refused: wrong client, assertion or scope */
    char assertion[128];     /* what client_assertion must be (the file's content) */
    char tokens[TOKENS_MAX][512];
    PGconn *admin;           /* superuser; used by the stand-in's thread only */
    pthread_mutex_t lock;    /* assertion, tokens */
} entra;

static struct pg_cluster cl;
static int cl_ok;
static char url[256];        /* user ROLE, database DB */
static char admin_url[256];  /* user modax (superuser), database DB */
static char fed_file[600];
static char log_path[600];
static int saved_stderr = -1;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* The kubelet rotates the projected federated token; Entra ID then wants the new one. */
static void federated_token(const char *text)
{
    pthread_mutex_lock(&entra.lock);
    snprintf(entra.assertion, sizeof(entra.assertion), "%s", text);
    pthread_mutex_unlock(&entra.lock);
    write_file(fed_file, text);
}

/* "YYYY-MM-DD HH:MM:SS.mmm+00" of wall time 'ms' (len >= 64), for VALID UNTIL. */
static void pg_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    char day[32];
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03d+00", day, (int)(ms % 1000));
}

/* A JWT-shaped access token for the PostgreSQL audience (the server here checks no claims). */
static void make_token(int n, int64_t exp_ms, char *out, size_t len)
{
    char claims[256], hb[64], cb[400];

    snprintf(claims, sizeof(claims),
             "{\"aud\":\"https://ossrdbms-aad.database.windows.net\",\"iss\":"
             "\"https://sts.windows.net/" TENANT_ID "/\",\"exp\":%lld,\"oid\":\"oid-%d\"}",
             (long long)(exp_ms / 1000), n);
    mdx_base64url_encode("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", 27, hb, sizeof(hb));
    mdx_base64url_encode(claims, strlen(claims), cb, sizeof(cb));
    snprintf(out, len, "%s.%s.c2lnLSVk%04d", hb, cb, n);
}

static void answer(int c, const char *status, const char *body)
{
    char resp[2048];

    snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             status, strlen(body), body);
    (void)send(c, resp, strlen(resp), MSG_NOSIGNAL);
}

/* Reads the request (head and Content-Length body) into buf; 0 on success. */
static int read_request(int c, char *buf, size_t len, char **body)
{
    size_t got = 0;
    char *end = NULL;
    long clen = 0;

    while (got + 1 < len) {
        struct pollfd p = {c, POLLIN, 0};
        ssize_t n;
        if (poll(&p, 1, 5000) <= 0 || (n = recv(c, buf + got, len - 1 - got, 0)) <= 0) {
            return -1;
        }
        got += (size_t)n;
        buf[got] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl_h = strcasestr(buf, "\r\nContent-Length:");
            clen = cl_h != NULL ? strtol(cl_h + 17, NULL, 10) : 0;
            if (strcasestr(buf, "\r\nExpect: 100-continue") != NULL) {
                (void)send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL);
            }
        }
        if (end != NULL && got >= (size_t)(end + 4 - buf) + (size_t)clen) {
            *body = end + 4;
            return 0;
        }
    }
    return -1;
}

/* ALTER ROLE ROLE PASSWORD 'pw' VALID UNTIL 'until', quoted by the server. 1 on success. */
static int set_role_password(const char *pw, const char *until)
{
    const char *v[3] = {ROLE, pw, until};
    PGresult *r = PQexecParams(entra.admin,
                               "SELECT format('ALTER ROLE %I PASSWORD %L VALID UNTIL %L',"
                               " $1::text, $2::text, $3::text)",
                               3, NULL, v, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK &&
             pg_raw_exec((struct pg_conn *)entra.admin, PQgetvalue(r, 0, 0));

    PQclear(r);
    return ok;
}

/* One token request: the grant checked, a token issued and given to the role. */
static void serve_one(int c)
{
    static char req[16384];
    char want[200], tok[512], until[64], body[1024];
    char *form;
    int ok, n, mode = atomic_load(&entra.mode);
    int64_t exp_ms;

    if (read_request(c, req, sizeof(req), &form) != 0) {
        return;
    }
    pthread_mutex_lock(&entra.lock);
    snprintf(want, sizeof(want), "client_assertion=%s", entra.assertion);
    pthread_mutex_unlock(&entra.lock);
    /* the form's fields, each whole: followed by '&' or the end */
    ok = strncmp(req, "POST /" TENANT_ID "/oauth2/v2.0/token ", 33) == 0;
    const char *need[] = {want, "client_id=" CLIENT_ID, "grant_type=client_credentials",
                          "scope=https%3A%2F%2Fossrdbms-aad.database.windows.net%2F.default",
                          "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-"
                          "assertion-type%3Ajwt-bearer"};
    for (size_t i = 0; ok && i < sizeof(need) / sizeof(need[0]); i++) {
        const char *at = strstr(form, need[i]);
        size_t l = strlen(need[i]);
        ok = at != NULL && (at == form || at[-1] == '&') && (at[l] == '&' || at[l] == '\0');
    }
    if (!ok) {
        atomic_fetch_add(&entra.bad_grant, 1);
        answer(c, "401 Unauthorized", "{\"error\":\"invalid_client\"}");
        return;
    }
    n = atomic_load(&entra.issued);
    if (n >= TOKENS_MAX) {
        answer(c, "429 Too Many Requests", "{}");
        return;
    }
    exp_ms = mdx_now_ms() + LIFE_MS;
    make_token(n, exp_ms, tok, sizeof(tok));
    pg_time(mode == EXPIRED ? mdx_now_ms() - 60000 : exp_ms, until, sizeof(until));
    if (!set_role_password(mode == WRONG ? "not-the-token" : tok, until)) {
        answer(c, "500 Internal Server Error", "{}");
        return;
    }
    pthread_mutex_lock(&entra.lock);
    snprintf(entra.tokens[n], sizeof(entra.tokens[n]), "%s", tok);
    pthread_mutex_unlock(&entra.lock);
    atomic_store(&entra.issued, n + 1);
    snprintf(body, sizeof(body), "{\"token_type\":\"Bearer\",\"expires_in\":%d,"
                                 "\"ext_expires_in\":%d,\"access_token\":\"%s\"}",
             LIFE_MS / 1000, LIFE_MS / 1000, tok);
    answer(c, "200 OK", body);
}

static void *entra_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&entra.stop)) {
        struct pollfd p = {entra.fd, POLLIN, 0};
        if (!atomic_load(&entra.listening) || poll(&p, 1, 50) <= 0) {
            if (!atomic_load(&entra.listening)) {
                mdx_sleep_ms(20);
            }
            continue;
        }
        int c = accept(entra.fd, NULL, NULL);
        if (c >= 0) {
            serve_one(c);
            close(c);
        }
    }
    return NULL;
}

/* Binds a loopback port; connections are refused (endpoint down) until entra_listen(). */
static int entra_start(void)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof(a);

    pthread_mutex_init(&entra.lock, NULL);
    entra.fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (entra.fd < 0 || bind(entra.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(entra.fd, (struct sockaddr *)&a, &al) != 0) {
        return -1;
    }
    entra.port = ntohs(a.sin_port);
    entra.admin = (PGconn *)pg_raw_conn(&cl, admin_url);
    if (PQstatus(entra.admin) != CONNECTION_OK) {
        return -1;
    }
    entra.thread_started = pthread_create(&entra.thread, NULL, entra_main, NULL) == 0;
    return entra.thread_started ? 0 : -1;
}

static int entra_listen(void)
{
    if (listen(entra.fd, 16) != 0) {
        return -1;
    }
    atomic_store(&entra.listening, 1);
    return 0;
}

static void entra_stop(void)
{
    atomic_store(&entra.stop, 1);
    pthread_join(entra.thread, NULL);
    close(entra.fd);
    PQfinish(entra.admin);
}

/* ---- the cluster, the role, the environment, the log ---- */

static void cleanup(void)
{
    if (entra.thread_started) {
        entra_stop();
    }
    pg_cluster_destroy(&cl);
    unlink(fed_file);
    unlink(log_path);
}

/*
 * Once: a cluster, database DB owned by the identity's role ROLE (as the
 * Azure admin grants it), the workload identity webhook's variables, the
 * stand-in (not yet listening) and the store's log going to a file.
 */
static int setup(void)
{
    char host[64];
    static int done;
    PGconn *su;

    if (done) {
        return cl_ok ? 0 : -1;
    }
    done = 1;
    if (pg_cluster_init(&cl, 0) != 0) {
        return -1;
    }
    atexit(cleanup);
    if (pg_cluster_create_db(&cl, DB) != 0) {
        return -1;
    }
    pg_cluster_url(&cl, DB, admin_url, sizeof(admin_url));
    snprintf(url, sizeof(url), "host=127.0.0.1 port=%d dbname=" DB " user=" ROLE, cl.port);
    su = (PGconn *)pg_raw_conn(&cl, admin_url);
    if (!pg_raw_exec((struct pg_conn *)su, "CREATE ROLE \"" ROLE "\" LOGIN") ||
        !pg_raw_exec((struct pg_conn *)su, "ALTER DATABASE " DB " OWNER TO \"" ROLE "\"")) {
        PQfinish(su);
        return -1;
    }
    PQfinish(su);
    snprintf(fed_file, sizeof(fed_file), "%s/federated-token", cl.dir);
    snprintf(log_path, sizeof(log_path), "%s/modax.log", cl.dir);
    if (entra_start() != 0) {
        return -1;
    }
    federated_token("fed-token-1");
    snprintf(host, sizeof(host), "http://127.0.0.1:%d/", entra.port);
    setenv("AZURE_AUTHORITY_HOST", host, 1);
    setenv("AZURE_TENANT_ID", TENANT_ID, 1);
    setenv("AZURE_CLIENT_ID", CLIENT_ID, 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", fed_file, 1);
    cl_ok = 1;
    return 0;
}

/* From here until log_end() the store's log (stderr), at debug level, goes to the log file. */
static void log_begin(void)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    fflush(stderr);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
    mdx_log_setup(MDX_LOG_DEBUG, MDX_LOG_TEXT, 0);
}

/*
 * Back to the real stderr; the log is copied there and returned (static,
 * cut at 64 KiB). No token issued so far may appear in it.
 */
static const char *log_end(void)
{
    static char text[65536];
    FILE *f;
    size_t n = 0;

    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    f = fopen(log_path, "r");
    if (f != NULL) {
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
    }
    text[n] = '\0';
    fprintf(stderr, "%s", text);
    pthread_mutex_lock(&entra.lock);
    for (int i = 0; i < atomic_load(&entra.issued); i++) {
        /* the signature part alone is unique to the token */
        CHECK(strstr(text, entra.tokens[i]) == NULL);
        CHECK(strstr(text, strrchr(entra.tokens[i], '.')) == NULL);
    }
    pthread_mutex_unlock(&entra.lock);
    return text;
}

static void wi_conf(struct mdx_store_conf *conf)
{
    pg_store_conf(conf, &cl, url);
    conf->pgsql_password = NULL;
    conf->pgsql_credentials = "azure-workload-identity";
}

/* Sessions of the identity's role killed by the superuser (as a failover would). */
static int64_t kill_sessions(void)
{
    PGconn *su = (PGconn *)pg_raw_conn(&cl, admin_url);
    int64_t n = pg_raw_int((struct pg_conn *)su,
                           "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE usename = '" ROLE "'");

    PQfinish(su);
    return n;
}

/* Points stored in tenant acme, counted by the superuser. */
static int64_t stored_acme(void)
{
    PGconn *su = (PGconn *)pg_raw_conn(&cl, admin_url);
    int64_t n = pg_raw_int((struct pg_conn *)su,
                           "SELECT count(*) FROM points p JOIN series s ON s.id = p.series_id"
                           " JOIN devices d ON d.id = s.device_id JOIN tenants t"
                           " ON t.id = d.tenant_id WHERE t.name = 'acme'");

    PQfinish(su);
    return n;
}

/* Writes point 'i' of press-1 until the store takes it (a lost connection is retried). */
static int write_one(struct mdx_store *st, const char *tenant, int i, int *retries)
{
    struct mdx_point p;
    int rc = MDX_ECONN;
    int64_t until = mdx_mono_us() + 20 * 1000000LL;

    set_point(&p, "temp", T0 + (int64_t)i * 1000, (double)i, 0);
    while (mdx_mono_us() < until) {
        rc = write_points(st, tenant, "press-1", &p, 1, NULL);
        if (rc != MDX_ECONN) {
            break;
        }
        (*retries)++;
        mdx_sleep_ms(20);
    }
    return rc;
}

/* ---- tests ---- */

/*
 * Issue 13 item 5: the store logs in with the current Entra ID token;
 * three times the token expires while the connection stays up, the
 * sessions are killed, and the store reconnects with a new token and
 * goes on, with no point lost. Once between, the kubelet rotates the
 * federated token file, and the next grant carries the new one.
 */
static void tokens_rotate_and_reconnects_lose_no_point(void)
{
    struct mdx_store_conf conf;
    struct mdx_store *st;
    int err = 0, i = 0, retries = 0, failures = 0, issued0;
    int64_t n = -1;

    if (setup() != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(entra_listen(), 0);
    atomic_store(&entra.mode, ISSUE);
    log_begin();
    wi_conf(&conf);
    issued0 = atomic_load(&entra.issued);
    st = mdx_store_open(&conf, &err);
    CHECK(st != NULL);
    if (st == NULL) {
        log_end();
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    CHECK_EQ_INT(atomic_load(&entra.issued), issued0 + 1); /* one per connection */
    for (int cycle = 0; cycle < 3; cycle++) {
        int issued = atomic_load(&entra.issued);
        /* write while the token in use expires (PostgreSQL keeps a session that is logged in) */
        int64_t expired_at = mdx_now_ms() + LIFE_MS + 200;
        while (mdx_now_ms() < expired_at) {
            failures += write_one(st, "acme", i++, &retries) != MDX_OK;
            mdx_sleep_ms(50);
        }
        if (cycle == 1) {
            federated_token("fed-token-2");
        }
        CHECK(kill_sessions() >= 1);
        /* the next write finds the connection gone, reconnects with a new token */
        failures += write_one(st, "acme", i++, &retries) != MDX_OK;
        CHECK_EQ_INT(atomic_load(&entra.issued), issued + 1);
    }
    CHECK_EQ_INT(failures, 0);
    CHECK(retries >= 1 && retries <= 3 * 3); /* each kill costs a retry or few, not a stall */
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &n), MDX_OK);
    CHECK_EQ_INT(n, i);
    CHECK_EQ_INT(stored_acme(), i);
    CHECK_EQ_INT(atomic_load(&entra.bad_grant), 0);
    mdx_store_close(st);
    const char *log = log_end();
    CHECK(strstr(log, "connected to PostgreSQL") != NULL);
    fprintf(stderr, "  %d points over 3 token expiries, %d tokens issued, %d retried writes\n",
            i, atomic_load(&entra.issued) - issued0, retries);
}

/*
 * A token the server does not take (never given, or expired) is refused
 * like a wrong password: MDX_EDENIED at open, and the log names the
 * credentials mode; Entra ID refusing the federated token is refused too.
 */
static void wrong_or_expired_token_is_a_clear_error(void)
{
    struct mdx_store_conf conf;
    struct mdx_store *st;
    const char *log;
    int err = 0;

    if (setup() != 0) {
        CHECK(0);
        return;
    }
    entra_listen(); /* no-op when already listening */
    wi_conf(&conf);
    log_begin();
    atomic_store(&entra.mode, WRONG);
    st = mdx_store_open(&conf, &err);
    CHECK(st == NULL);
    CHECK_EQ_INT(err, MDX_EDENIED);
    atomic_store(&entra.mode, EXPIRED);
    st = mdx_store_open(&conf, &err);
    CHECK(st == NULL);
    CHECK_EQ_INT(err, MDX_EDENIED);
    /* Entra ID refuses the grant (the federated token is not the one it expects) */
    atomic_store(&entra.mode, ISSUE);
    write_file(fed_file, "fed-token-stale");
    st = mdx_store_open(&conf, &err);
    CHECK(st == NULL);
    CHECK_EQ_INT(err, MDX_EDENIED);
    CHECK(atomic_load(&entra.bad_grant) >= 1);
    write_file(fed_file, entra.assertion);
    log = log_end();
    CHECK(strstr(log, "PostgreSQL refused the Entra ID token") != NULL);
    CHECK(strstr(log, "store.pgsql.credentials = azure-workload-identity") != NULL);
    CHECK(strstr(log, "user=" ROLE) != NULL);
    CHECK(strstr(log, "Entra ID token endpoint refused the workload identity") != NULL);
    CHECK(strstr(log, "HTTP 401") != NULL);
}

/*
 * The token endpoint down at start is not fatal: the store opens, every
 * call says "not yet" (MDX_ECONN, transient) as with a server that is
 * down, and it connects once the endpoint answers.
 */
static void token_endpoint_down_is_retried(void)
{
    struct mdx_store_conf conf;
    struct mdx_store *st;
    struct mdx_spool_pos pos;
    int err = 0;
    const char *log;

    if (setup() != 0) {
        CHECK(0);
        return;
    }
    if (atomic_load(&entra.listening)) {
        fprintf(stderr, "  run this test first (the stand-in is already listening)\n");
        return;
    }
    atomic_store(&entra.mode, ISSUE);
    wi_conf(&conf);
    log_begin();
    st = mdx_store_open(&conf, &err);
    CHECK(st != NULL);
    if (st != NULL) {
        CHECK_EQ_INT(mdx_store_checkpoint_get(st, "w", &pos), MDX_ECONN);
        CHECK_EQ_INT(mdx_store_tenant_add(st, "down"), MDX_ECONN);
        CHECK_EQ_INT(atomic_load(&entra.issued), 0);
        CHECK_EQ_INT(entra_listen(), 0);
        CHECK_WAIT(mdx_store_checkpoint_get(st, "w", &pos) != MDX_ECONN, 10000);
        CHECK_EQ_INT(mdx_store_tenant_add(st, "down"), MDX_OK);
        CHECK_EQ_INT(atomic_load(&entra.issued), 1);
        mdx_store_close(st);
    }
    log = log_end();
    CHECK(strstr(log, "no Entra ID token for PostgreSQL yet; retrying") != NULL);
}

/* A static password with azure-workload-identity, an unknown mode, a missing variable. */
static void config_errors(void)
{
    struct mdx_store_conf conf;
    int err = 0;
    const char *log;

    if (setup() != 0) {
        CHECK(0);
        return;
    }
    log_begin();
    wi_conf(&conf);
    conf.pgsql_password = cl.password;
    CHECK(mdx_store_open(&conf, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    wi_conf(&conf);
    conf.pgsql_credentials = "azure-ad";
    CHECK(mdx_store_open(&conf, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    unsetenv("AZURE_CLIENT_ID");
    wi_conf(&conf);
    CHECK(mdx_store_open(&conf, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    setenv("AZURE_CLIENT_ID", CLIENT_ID, 1);
    log = log_end();
    CHECK(strstr(log, "store.pgsql.password is set but store.pgsql.credentials is "
                      "azure-workload-identity") != NULL);
    CHECK(strstr(log, "AZURE_CLIENT_ID") != NULL);
    CHECK(strstr(log, cl.password) == NULL);
}

static const struct mdx_test tests[] = {
    {"issue 13: pgsql with azure-workload-identity: a token endpoint down at start is retried",
     token_endpoint_down_is_retried},
    {"issue 13: pgsql with azure-workload-identity: tokens rotate, killed sessions reconnect "
     "with a new token, no point lost",
     tokens_rotate_and_reconnects_lose_no_point},
    {"issue 13: pgsql with azure-workload-identity: a wrong or expired token is a clear error",
     wrong_or_expired_token_is_a_clear_error},
    {"issue 13: pgsql with azure-workload-identity: config errors", config_errors},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
