/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pgsql.c - the PostgreSQL store: open and close, and the back end's table
 * of concerns. The top of the back end: it calls down into the concern
 * files and the connection (conn.c), none of which calls it.
 *
 * One libpq connection per handle. It is made lazily: open() tries once,
 * and a server that is down (or restarting) only makes each call return
 * MDX_ECONN until it is back; the next call reconnects. On every new
 * connection the schema is migrated, the statements are prepared,
 * the writer's staging table is created and the partitions ahead exist.
 * A wrong password or a missing database is not transient: open() fails
 * with a message that names host, port, database and user, never the
 * password. With store.pgsql.credentials = azure-workload-identity the
 * password of each new connection is an Entra ID token (conn.c); a token
 * endpoint that is down is retried like a server that is down.
 *
 * Each concern of store.h is one file here (series.c with the batch
 * writer write.c, catalog.c, alerts.c, access.c, archive.c,
 * commands.c, rul.c); the schema is in migrations.c, the connection and
 * the helpers that run statements in conn.c.
 *
 * Results are fetched whole (long ranges page through them), so list
 * callbacks may call other functions of the same store.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/log.h"
#include "modax/status.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"

#define MOD "store"

/* libpq's sslmode values. */
static const char *const sslmodes[] = {"disable", "allow", "prefer", "require", "verify-ca",
                                       "verify-full"};

/* ---- connection ---- */

/* "host=.. port=.. dbname=.. user=.." of the url, for messages: never the password. */
static int describe_url(struct pg *h)
{
    static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user"};
    PQconninfoOption *opts;
    char *err = NULL;
    size_t used = 0;
    int rc = MDX_OK;

    h->where[0] = '\0';
    opts = PQconninfoParse(h->url, &err);
    if (opts == NULL) {
        mdx_log_error(MOD, "store.pgsql.url is not a valid libpq connection string",
                      MDX_F_STR("error", err != NULL ? err : "out of memory"));
        PQfreemem(err);
        return MDX_ECONF;
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0') {
            mdx_log_error(MOD, "store.pgsql.url holds a password; put it in "
                               "MODAX_STORE_PGSQL_PASSWORD or MODAX_STORE_PGSQL_PASSWORD_FILE",
                          MDX_F_STR("key", "store.pgsql.url"));
            rc = MDX_ECONF;
        }
        for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
            if (strcmp(o->keyword, shown[i]) == 0 && o->val != NULL && o->val[0] != '\0' &&
                used < sizeof(h->where)) {
                int n = snprintf(h->where + used, sizeof(h->where) - used, "%s%s=%s",
                                 used > 0 ? " " : "", o->keyword, o->val);
                used += n > 0 ? (size_t)n : 0;
            }
        }
    }
    PQconninfoFree(opts);
    return rc;
}

static void pg_close(void *impl)
{
    struct pg *h = impl;

    if (h == NULL) {
        return;
    }
    if (h->conn != NULL) {
        PQfinish(h->conn);
    }
    mdx_free_secret(h->password);
    mdx_azure_creds_destroy(h->wi);
    mdx_free(h->url);
    mdx_free(h->sslmode);
    mdx_pg_cache_fini(h);
    mdx_free(h);
}

/*
 * store.pgsql.credentials: a password (the default), or the Entra ID
 * tokens of Azure Workload Identity for the PostgreSQL scope, which never
 * go with a static password.
 */
static int open_credentials(struct pg *h, const struct mdx_store_conf *conf)
{
    const char *mode = conf->pgsql_credentials;
    char why[256];
    int err;

    if (mode == NULL || mode[0] == '\0' || strcmp(mode, "password") == 0) {
        return MDX_OK;
    }
    if (strcmp(mode, "azure-workload-identity") != 0) {
        mdx_log_error(MOD, "store.pgsql.credentials must be password or azure-workload-identity",
                      MDX_F_STR("value", mode));
        return MDX_ECONF;
    }
    if (conf->pgsql_password != NULL && conf->pgsql_password[0] != '\0') {
        mdx_log_error(MOD, "store.pgsql.password is set but store.pgsql.credentials is "
                           "azure-workload-identity, which uses Entra ID tokens; remove the "
                           "password",
                      MDX_F_STR("key", "store.pgsql.credentials"));
        return MDX_ECONF;
    }
    const struct mdx_azure_creds_conf wc = {
        "store", MDX_AZURE_SCOPE_PGSQL, NULL,
        (conf->pgsql_connect_timeout_s > 0 ? conf->pgsql_connect_timeout_s : 5) * 1000};
    h->wi = mdx_azure_creds_create(&wc, &err, why, sizeof(why));
    if (h->wi == NULL) {
        mdx_log_error(MOD, "store.pgsql.credentials = azure-workload-identity not usable",
                      MDX_F_STR("reason", why));
        return err;
    }
    return MDX_OK;
}

static int pg_open(const struct mdx_store_conf *conf, void **impl)
{
    const char *sslmode = conf->pgsql_sslmode != NULL ? conf->pgsql_sslmode : "prefer";
    struct pg *h;
    int known = 0, rc;

    *impl = NULL;
    for (size_t i = 0; i < sizeof(sslmodes) / sizeof(sslmodes[0]); i++) {
        known |= strcmp(sslmode, sslmodes[i]) == 0;
    }
    if (!known) {
        mdx_log_error(MOD, "store.pgsql.sslmode must be disable, allow, prefer, require, "
                           "verify-ca or verify-full",
                      MDX_F_STR("value", sslmode));
        return MDX_ECONF;
    }
    if (conf->pgsql_url == NULL || conf->deadletter_max < 10 || conf->cache_series < 16) {
        return MDX_EINVAL;
    }
    h = mdx_calloc(1, sizeof(*h));
    if (h == NULL) {
        return MDX_ENOMEM;
    }
    h->url = mdx_strdup(conf->pgsql_url);
    h->sslmode = mdx_strdup(sslmode);
    h->password = conf->pgsql_password != NULL ? mdx_strdup(conf->pgsql_password) : NULL;
    if (h->url == NULL || h->sslmode == NULL ||
        (conf->pgsql_password != NULL && h->password == NULL) || mdx_pg_cache_init(h) != MDX_OK) {
        rc = MDX_ENOMEM;
        goto fail;
    }
    snprintf(h->timeout, sizeof(h->timeout), "%" PRId64,
             conf->pgsql_connect_timeout_s > 0 ? conf->pgsql_connect_timeout_s : 5);
    snprintf(h->lock_timeout, sizeof(h->lock_timeout), "%" PRId64,
             conf->busy_timeout_ms > 0 ? conf->busy_timeout_ms : 0);
    h->days_ahead = conf->pgsql_partition_days_ahead > 0 ? conf->pgsql_partition_days_ahead : 7;
    h->deadletter_max = conf->deadletter_max;
    h->cache_max = (size_t)conf->cache_series;
    rc = describe_url(h);
    if (rc == MDX_OK) {
        rc = open_credentials(h, conf);
    }
    if (rc != MDX_OK) {
        goto fail;
    }
    rc = mdx_pg_ensure(h);
    if (rc != MDX_OK && rc != MDX_ECONN) {
        goto fail; /* logged; a down server is retried by every later call */
    }
    *impl = h;
    return MDX_OK;

fail:
    pg_close(h);
    return rc;
}

const struct mdx_store_backend mdx_store_pgsql = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .series = &mdx_pg_series,
    .catalog = &mdx_pg_catalog,
    .alerts = &mdx_pg_alerts,
    .access = &mdx_pg_access,
    .archive = &mdx_pg_archive,
    .commands = &mdx_pg_commands,
    .rul = &mdx_pg_rul,
    .lease = &mdx_pg_lease,
    .detector = &mdx_pg_detector,
};
