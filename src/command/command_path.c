/* SPDX-License-Identifier: Apache-2.0 */
/*
 * command_path.c - the table of command delivery paths, their configuration
 * keys, the tenant-to-path mapping (command.path, command.tenant_paths) and
 * the one call the API makes to deliver a command (see command_path.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/command.h"
#include "modax/command_path.h"
#include "modax/status.h"

/* Every path there is; a new one is a deliver_*.c file and one line here. */
static const struct mdx_command_path_ops *const paths[] = {
    &mdx_command_path_mqtt,   /* first: the path without configuration (Mosquitto, IoT Core) */
    &mdx_command_path_azure,  /* IoT Hub direct methods (service REST API) */
    &mdx_command_path_pubsub, /* a Google Pub/Sub commands topic */
};
#define N_PATHS (sizeof(paths) / sizeof(paths[0]))
#define TENANTS_MAX 256

const struct mdx_conf_key mdx_command_conf_keys[] = {
    MDX_CONF_STR("command.path", "mqtt", struct mdx_command_conf, path,
                 "How commands reach devices: mqtt (Mosquitto, AWS IoT Core), azure (IoT Hub "
                 "direct methods) or pubsub (a Google Pub/Sub topic)"),
    MDX_CONF_STR("command.tenant_paths", "", struct mdx_command_conf, tenant_paths,
                 "Tenants whose commands take another path than command.path, e.g. "
                 "acme=azure,globex=pubsub"),
    MDX_CONF_SECRET("command.azure.connection_string", struct mdx_command_conf,
                    azure_connection_string,
                    "IoT Hub connection string of a policy with ServiceConnect "
                    "(HostName=..;SharedAccessKeyName=..;SharedAccessKey=..)"),
    MDX_CONF_STR("command.azure.endpoint", "", struct mdx_command_conf, azure_endpoint,
                 "Base URL of the hub's service API; empty: https://{HostName}"),
    MDX_CONF_STR("command.azure.ca_file", "", struct mdx_command_conf, azure_ca_file,
                 "CA certificates (PEM) trusted for the hub; empty: the system's"),
    MDX_CONF_INT("command.azure.response_timeout_s", "30", 5, 300, struct mdx_command_conf,
                 azure_response_timeout_s,
                 "How long IoT Hub waits for the device's answer to a direct method"),
    MDX_CONF_INT("command.azure.connect_timeout_s", "0", 0, 300, struct mdx_command_conf,
                 azure_connect_timeout_s,
                 "How long IoT Hub waits for a disconnected device to connect; 0: fail at once"),
    MDX_CONF_INT("command.azure.token_ttl_s", "3600", 60, 86400, struct mdx_command_conf,
                 azure_token_ttl_s, "Lifetime of the SAS tokens signed for the hub"),
    MDX_CONF_STR("command.pubsub.project", "", struct mdx_command_conf, pubsub_project,
                 "Google Cloud project of the commands topic"),
    MDX_CONF_STR("command.pubsub.topic", "modax-commands", struct mdx_command_conf,
                 pubsub_topic, "Pub/Sub topic id commands are published to"),
    MDX_CONF_STR("command.pubsub.endpoint", "https://pubsub.googleapis.com",
                 struct mdx_command_conf, pubsub_endpoint,
                 "Pub/Sub REST endpoint; $PUBSUB_EMULATOR_HOST (host:port) wins"),
    MDX_CONF_STR("command.pubsub.credentials", "auto", struct mdx_command_conf,
                 pubsub_credentials,
                 "auto (emulator: none; else command.pubsub.key_file, command.pubsub.token_file, "
                 "$GOOGLE_APPLICATION_CREDENTIALS, the metadata server), service_account, "
                 "token_file, metadata"),
    MDX_CONF_STR("command.pubsub.key_file", "", struct mdx_command_conf, pubsub_key_file,
                 "Service-account key file (JSON) whose signed JWT buys access tokens"),
    MDX_CONF_STR("command.pubsub.token_file", "", struct mdx_command_conf, pubsub_token_file,
                 "File holding an OAuth 2.0 access token kept fresh by another process"),
    MDX_CONF_STR("command.pubsub.metadata_host", "metadata.google.internal",
                 struct mdx_command_conf, pubsub_metadata_host,
                 "GKE/GCE metadata server; $GCE_METADATA_HOST wins"),
    MDX_CONF_INT("command.pubsub.timeout_ms", "10000", 1000, 120000, struct mdx_command_conf,
                 pubsub_timeout_ms, "One publish request to Pub/Sub"),
    MDX_CONF_END,
};

struct tenant_path {
    char tenant[MDX_NAME_MAX + 1];
    size_t path;                      /* index into paths[] */
};

struct mdx_command_paths {
    void *impl[N_PATHS];              /* NULL for paths no tenant takes */
    size_t fallback;                  /* command.path */
    struct tenant_path *tenants;
    size_t n_tenants;
};

/* The index of path 'name' ('n' bytes) into *at: 1, else 0. */
static int path_find(const char *name, size_t n, size_t *at)
{
    for (size_t i = 0; i < N_PATHS; i++) {
        if (strlen(paths[i]->name) == n && strncmp(paths[i]->name, name, n) == 0) {
            *at = i;
            return 1;
        }
    }
    return 0;
}

/* 's'..'e' without blanks at either end. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t')) {
        (*s)++;
    }
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) {
        (*e)--;
    }
}

/* Reads command.tenant_paths into p->tenants. MDX_OK, or MDX_ECONF with 'why'. */
static int parse_tenants(struct mdx_command_paths *p, const char *spec, char *why, size_t whylen)
{
    const char *at = spec;

    p->tenants = mdx_calloc(TENANTS_MAX, sizeof(*p->tenants));
    if (p->tenants == NULL) {
        snprintf(why, whylen, "out of memory");
        return MDX_ENOMEM;
    }
    while (*at != '\0') {
        const char *end = strchr(at, ',');
        const char *eq, *ts, *te, *ps, *pe;
        struct tenant_path *tp;

        end = end != NULL ? end : at + strlen(at);
        eq = memchr(at, '=', (size_t)(end - at));
        ts = at;
        te = eq != NULL ? eq : end;
        ps = eq != NULL ? eq + 1 : end;
        pe = end;
        trim(&ts, &te);
        trim(&ps, &pe);
        if (eq == NULL || te == ts || (size_t)(te - ts) > MDX_NAME_MAX) {
            snprintf(why, whylen, "command.tenant_paths: '%.*s' is not tenant=path",
                     (int)(end - at), at);
            return MDX_ECONF;
        }
        if (p->n_tenants == TENANTS_MAX) {
            snprintf(why, whylen, "command.tenant_paths: more than %d tenants", TENANTS_MAX);
            return MDX_ECONF;
        }
        tp = &p->tenants[p->n_tenants];
        if (!path_find(ps, (size_t)(pe - ps), &tp->path)) {
            snprintf(why, whylen,
                     "command.tenant_paths: '%.*s' of tenant %.*s is not a command path "
                     "(mqtt, azure, pubsub)",
                     (int)(pe - ps), ps, (int)(te - ts), ts);
            return MDX_ECONF;
        }
        memcpy(tp->tenant, ts, (size_t)(te - ts));
        for (size_t i = 0; i < p->n_tenants; i++) {
            if (strcmp(p->tenants[i].tenant, tp->tenant) == 0) {
                snprintf(why, whylen, "command.tenant_paths: tenant %s is named twice",
                         tp->tenant);
                return MDX_ECONF;
            }
        }
        p->n_tenants++;
        at = *end == ',' ? end + 1 : end;
    }
    return MDX_OK;
}

struct mdx_command_paths *mdx_command_paths_create(const struct mdx_command_conf *conf,
                                                   mdx_command_publish_fn publish,
                                                   void *publish_arg, char *why, size_t whylen)
{
    struct mdx_command_paths *p = mdx_calloc(1, sizeof(*p));
    int used[N_PATHS] = {0};

    if (p == NULL) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    if (conf == NULL) { /* every tenant on mqtt, which reads no configuration */
        p->impl[0] = paths[0]->create(NULL, publish, publish_arg, why, whylen);
        if (p->impl[0] == NULL) {
            goto fail;
        }
        return p;
    }
    if (!path_find(conf->path, strlen(conf->path), &p->fallback)) {
        snprintf(why, whylen, "command.path '%s' is not a command path (mqtt, azure, pubsub)",
                 conf->path);
        goto fail;
    }
    if (parse_tenants(p, conf->tenant_paths, why, whylen) != MDX_OK) {
        goto fail;
    }
    used[p->fallback] = 1;
    for (size_t i = 0; i < p->n_tenants; i++) {
        used[p->tenants[i].path] = 1;
    }
    for (size_t i = 0; i < N_PATHS; i++) {
        if (used[i]) {
            p->impl[i] = paths[i]->create(conf, publish, publish_arg, why, whylen);
            if (p->impl[i] == NULL) {
                goto fail;
            }
        }
    }
    return p;

fail:
    mdx_command_paths_destroy(p);
    return NULL;
}

void mdx_command_paths_destroy(struct mdx_command_paths *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < N_PATHS; i++) {
        if (p->impl[i] != NULL) {
            paths[i]->destroy(p->impl[i]);
        }
    }
    mdx_free(p->tenants);
    mdx_free(p);
}

static size_t path_of(const struct mdx_command_paths *p, const char *tenant)
{
    for (size_t i = 0; i < p->n_tenants; i++) {
        if (strcmp(p->tenants[i].tenant, tenant) == 0) {
            return p->tenants[i].path;
        }
    }
    return p->fallback;
}

const char *mdx_command_path_name(const struct mdx_command_paths *p, const char *tenant)
{
    return paths[path_of(p, tenant)]->name;
}

int mdx_command_deliver(struct mdx_command_paths *p, const struct mdx_command *cmd,
                        struct mdx_command_result *out)
{
    size_t at = path_of(p, cmd->tenant);
    char payload[512];
    int len = mdx_command_payload(cmd, payload, sizeof(payload));

    memset(out, 0, sizeof(*out));
    if (len < 0) {
        out->state = MDX_COMMAND_FAILED;
        snprintf(out->detail, sizeof(out->detail), "no payload can be made of the command");
        return MDX_EINVAL;
    }
    return paths[at]->deliver(p->impl[at], cmd, payload, (size_t)len, out);
}
