/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_int.h - the types the parts of the API server share: the request a
 * route handler gets, the route tables, the server's parts (struct api),
 * and the interfaces of authentication (auth.c), the store handles
 * (store_pool.c), the MQTT link (link.c), the live stream hub (hub.c), the
 * metrics (metrics*.c) and the dashboard's files (static_files.c).
 * Reading a request is request.h, answering it reply.h.
 *
 * A route is one entry of a table (method, pattern, access, handler); each
 * route_*.c file exports one table and router.c lists the tables. The
 * listener (listener.c) runs libmicrohttpd and hands each request to the
 * router (router.c), which matches the route, authenticates, rate-limits,
 * checks and parses the body, then calls the handler on a server thread
 * with that thread's store handle. A handler sends exactly one reply.
 */
#ifndef MODAX_API_INT_H
#define MODAX_API_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "modax/api.h"
#include "modax/store.h"

#define API_PARAMS_MAX 3          /* {name} captures in a route pattern */

/* Who may call a route. */
enum api_access {
    API_PUBLIC = 0,               /* no key: /healthz, /readyz, /metrics, dashboard files */
    API_VIEWER,                   /* a tenant key of any role */
    API_OPERATOR,                 /* a tenant key with role operator or admin */
    API_ADMIN,                    /* a tenant key with role admin */
    API_PLATFORM,                 /* the platform admin key only (tenant management) */
    API_OPERATOR_OR_PLATFORM      /* operator/admin of a tenant (its own data) or platform (all) */
};

/* The caller, from its API key. */
struct api_caller {
    char tenant[MDX_NAME_MAX + 1];  /* "" for the platform key */
    int role;                       /* enum mdx_role */
    char key_id[MDX_APIKEY_ID_LEN + 1];
};

struct api;
struct api_route;

struct api_req {
    struct api *api;
    struct MHD_Connection *conn;
    const struct api_route *route;
    const char *method;
    const char *url;                /* decoded path, without the query */
    const char *params[API_PARAMS_MAX]; /* {name} captures, in pattern order (decoded) */
    size_t n_params;
    cJSON *body;                    /* parsed JSON body, NULL if none (owned by the server) */
    struct mdx_store *store;        /* this thread's handle (NULL for API_PUBLIC routes if the store is down) */
    struct api_caller caller;       /* zeroed for API_PUBLIC routes */
    unsigned status;                /* set by the reply functions; 0 until replied */
    int store_broken;               /* set by api_store_error(): the handle's connection broke */
};

typedef void (*api_handler_fn)(struct api_req *r);

struct api_route {
    const char *method;             /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern;            /* "/api/v1/devices/{id}"; also the metrics label */
    int access;                     /* enum api_access */
    api_handler_fn handler;
};

/* A route file's table, ended by {NULL}. */
extern const struct api_route api_routes_system[];     /* route_system.c: healthz, readyz, metrics, openapi */
extern const struct api_route api_routes_tenants[];    /* route_tenants.c */
extern const struct api_route api_routes_devices[];    /* route_devices.c */
extern const struct api_route api_routes_telemetry[];  /* route_telemetry.c: latest, range, export */
extern const struct api_route api_routes_events[];     /* route_events.c: safety events */
extern const struct api_route api_routes_alerts[];     /* route_alerts.c */
extern const struct api_route api_routes_rules[];      /* route_rules.c */
extern const struct api_route api_routes_commands[];   /* route_commands.c */
extern const struct api_route api_routes_deadletters[];/* route_deadletters.c */
extern const struct api_route api_routes_stream[];     /* hub.c: live stream (SSE) */
extern const struct api_route api_routes_rul[];        /* route_rul.c: RUL predictions */

/* The tables in order (router.c). */
extern const struct api_route *const api_route_tables[];
extern const size_t api_route_tables_n;

/* ---- the server's parts ---- */

/* auth.c: key checks through a cache, and a token bucket per key. */
struct api_auth;
struct api_auth *api_auth_create(const struct mdx_api_conf *conf);
void api_auth_destroy(struct api_auth *a);
/*
 * Checks the presented key text ('Authorization: Bearer KEY' or 'X-API-Key'):
 * 0 with *out filled; 401 for missing, malformed, unknown or revoked
 * (*why says which, for the error message); 429 with *retry_after_s when
 * the key is over its rate; 503 if the store cannot be asked.
 */
unsigned api_auth_check(struct api_auth *a, struct mdx_store *st, const char *key_text,
                        int64_t now_ms, struct api_caller *out, const char **why,
                        int *retry_after_s);

/* hub.c: live-stream clients, each with a bounded queue. */
struct api_hub;
struct api_hub *api_hub_create(const struct mdx_api_conf *conf);
/* Ends every stream (call before stopping the daemon) and frees. */
void api_hub_destroy(struct api_hub *h);
/*
 * Offers one event to the streams of 'tenant' (those of all its devices,
 * and those of 'device'). 'event' is the SSE event name ("point", "alert",
 * "status", "safety", "command"), 'data' one line of JSON. Never blocks;
 * a client whose queue is full is dropped and counted.
 */
void api_hub_publish(struct api_hub *h, const char *tenant, const char *device, const char *event,
                     const char *data, size_t len);
struct api_hub_stats {
    uint64_t clients;             /* now */
    uint64_t opened;
    uint64_t dropped_slow;        /* dropped because their queue was full */
    uint64_t refused_full;        /* refused: stream_max_clients reached */
    uint64_t events;              /* events queued to clients */
    uint64_t too_large;           /* events refused: over 8 KiB or not one line */
};
void api_hub_stats(struct api_hub *h, struct api_hub_stats *out);

/* link.c: the API's own MQTT connection (clean session). */
struct api_link;
/*
 * Connects (client id mqtt.client_id + "-api") and feeds 'hub': alerts
 * always; with 'in_process' zero also safety, status and command_ack, and
 * the sensor_data of what the hub's streams watch. Payloads over
 * 'max_payload_bytes' are ignored and counted.
 */
struct api_link *api_link_start(const struct mdx_mqtt_conf *conf, struct api_hub *hub,
                                int in_process, int64_t max_payload_bytes, int *err);
struct api_link_stats {
    uint64_t received;            /* messages delivered to the link */
    uint64_t sensor_data;         /* of which sensor_data */
    uint64_t ignored;             /* not valid: nothing streamed */
    uint64_t oversized;           /* over max_payload_bytes: ignored before parsing */
    uint64_t sensor_filters;      /* sensor_data topic filters subscribed now */
};
void api_link_stats(struct api_link *l, struct api_link_stats *out);
/* Non-zero while connected. */
int api_link_ready(struct api_link *l);
/* Publishes at QoS 1 without blocking: MDX_OK once queued, MDX_EIO if not connected. */
int api_link_publish(struct api_link *l, const char *topic, const void *payload, size_t len);
void api_link_stop(struct api_link *l);

/* live_stage.c: the pipeline stage feeding 'hub' in-process (mdx_api_live_stage_ops). */
struct api_live;
struct api_live *api_live_create(struct api_hub *hub);
void api_live_destroy(struct api_live *l);

/* metrics.c: HTTP counters and the /metrics page. */
struct api_metrics;
struct api_metrics *api_metrics_create(const struct mdx_api_conf *conf, size_t n_routes);
void api_metrics_destroy(struct api_metrics *m);
/* Counts one request: route index (n_routes for no route), status, time taken. Thread-safe. */
void api_metrics_record(struct api_metrics *m, size_t route, unsigned status, int64_t us);
/* GET /metrics (registered in route_system.c). */
void api_route_metrics(struct api_req *r);

/* metrics_emf.c: the CloudWatch EMF writer, a thread that reads the parts of 'api'. */
struct api_emf;
/*
 * Starts the writer when api.metrics_emf is on; call once api's parts are
 * set. MDX_OK with *out (NULL when it is off), or an error (logged).
 */
int api_emf_start(struct api *api, struct api_emf **out);
/* Stops the writer (it writes a last line); call before the hub goes. NULL is fine. */
void api_emf_stop(struct api_emf *w);

/* static_files.c: GET of a path outside /api/: the dashboard's file under api.web_dir. */
void api_static_serve(struct api_req *r);

/* store_pool.c: one store handle per server thread, opened on first use. */
struct api_stores;
/* At most 'max' handles open at once (server threads plus a margin). NULL if out of memory. */
struct api_stores *api_stores_create(const struct mdx_store_conf *conf, size_t max);
/* Closes every handle; call once no server thread runs. NULL is fine. */
void api_stores_destroy(struct api_stores *p);
/*
 * This thread's handle, opened on first use; NULL while the store cannot
 * be opened (tried again after a second). Borrowed: valid on this thread
 * until api_stores_drop() or api_stores_destroy().
 */
struct mdx_store *api_stores_get(struct api_stores *p);
/* Closes this thread's handle (its connection broke); the next get opens another. */
void api_stores_drop(struct api_stores *p);

/* The server: configuration, dependencies and parts (listener.c). */
struct api {
    const struct mdx_api_conf *conf;
    struct mdx_api_deps deps;
    struct MHD_Daemon *daemon;
    struct api_guard *guard;         /* conn_guard.h: the main listener's connection caps */
    struct api_guard *admin_guard;   /* the same for api.admin_port; NULL without it */
    struct api_stores *stores;
    struct api_auth *auth;
    struct api_hub *hub;
    struct api_link *link;
    struct mdx_command_paths *commands; /* command_path.h: each tenant's way to its devices */
    struct api_live *live;           /* NULL unless the ingest runs in this process */
    struct api_metrics *metrics;
    struct api_emf *emf;
    const struct api_route **routes; /* all tables flattened; index = metrics route index */
    size_t n_routes;
    int64_t started_ms;
};

#endif
