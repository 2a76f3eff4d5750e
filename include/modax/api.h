/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.h - role "api" of `modax serve`: the HTTP API under /api/v1 (JSON,
 * described by api/openapi.json), the live stream (Server-Sent Events),
 * the dashboard's static files and /metrics, on libmicrohttpd.
 *
 * The server reads the same store as the ingest (one store handle per
 * server thread) and keeps its own MQTT connection, which publishes
 * operators' commands and hears alerts. The live stream's other events
 * come from the ingest: in the same process through the pipeline stage
 * mdx_api_live_stage_ops; in an API running alone through that
 * connection, subscribed to the sensor_data of watched devices only.
 * Every request but /healthz, /readyz, /metrics and the dashboard's files
 * carries an API key (apikey.h) and is scoped to the key's tenant.
 */
#ifndef MODAX_API_H
#define MODAX_API_H

#include <stdint.h>

#include "modax/conf.h"
#include "modax/source.h"

struct mdx_api_conf {
    char *listen;                 /* address to bind, e.g. "127.0.0.1" or "0.0.0.0" */
    int64_t port;
    int64_t threads;              /* server threads (each with its own store handle) */
    char *tls_cert_file;          /* PEM; with tls_key_file: HTTPS only */
    char *tls_key_file;           /* PEM */
    char *web_dir;                /* the dashboard's built files; "" = none served */
    int64_t body_max_bytes;       /* larger request bodies: 413 */
    int64_t rate_limit_rps;       /* requests per second per key (token bucket) */
    int64_t rate_limit_burst;     /* bucket size */
    int64_t key_cache_s;          /* how long a checked key is trusted before the store is asked again */
    int64_t range_max_points;     /* a raw range query beyond this is refused (400) with advice */
    int64_t range_max_buckets;    /* buckets returned by one downsampled query, at most */
    int64_t range_max_sensors;    /* different sensors named in one query, at most; more: 400 */
    int64_t range_max_values;     /* points or buckets of one range reply in all; more: 400 */
    int64_t max_connections;      /* connections at once (0: stream_max_clients + 512) */
    int64_t max_conns_per_address; /* connections from one client address at once */
    int64_t read_timeout_ms;      /* a request must be in by then; a trickle does not extend it */
    int64_t admin_port;           /* listener for /healthz, /readyz, /metrics only; 0: none */
    int64_t stream_max_clients;   /* live-stream connections at once; more: 503 */
    int64_t stream_queue;         /* events queued per stream client; a client that falls behind is dropped */
    int64_t metrics_devices_max;  /* devices with per-device gauges in /metrics, at most */
    int metrics_emf;              /* also write CloudWatch embedded-metric-format lines to stdout */
    int64_t metrics_emf_interval_s;
    char *metrics_emf_environment; /* the device lines' namespace is MODAX/<this> */
};

extern const struct mdx_conf_key mdx_api_conf_keys[];

struct mdx_store_conf;
struct mdx_engine;
struct mdx_stage_ops;
struct mdx_alerting;
struct mdx_dispatch;
struct mdx_command_conf;

/* What the api role uses; borrowed, must outlive the server. NULL: not in this process. */
struct mdx_source_ops;

struct mdx_api_deps {
    const struct mdx_store_conf *store;   /* required: each server thread opens its own handle */
    const struct mdx_mqtt_conf *mqtt;     /* required: live stream and commands (client id + "-api") */
    struct mdx_engine *engine;            /* ingest counters for /metrics */
    struct mdx_alerting *alerting;
    struct mdx_dispatch *dispatch;
    /*
     * Non-zero: the ingest runs in this process and feeds the live stream
     * through mdx_api_live_stage(); the MQTT connection then subscribes to
     * alerts only. Zero: the API runs alone and subscribes to the fleet's
     * events, and to sensor_data only while someone watches it.
     */
    int ingest_in_process;
    int64_t max_payload_bytes;            /* ingest.max_payload_bytes: the connection ignores
                                             (and counts) larger payloads; 0 = 256 KiB */
    /* The ingest's source in this process (NULL: none): /readyz is not ready while it is
     * not connected and subscribed (ops->ready), and /metrics shows it. Borrowed. */
    const struct mdx_source_ops *source_ops;
    void *source;
    /* command.*: how each tenant's commands reach its devices (command_path.h). NULL: all
     * over the MQTT connection. */
    const struct mdx_command_conf *command;
};

struct mdx_api;

/* Binds and starts serving. NULL on failure (*err set; the reason logged). */
struct mdx_api *mdx_api_start(const struct mdx_api_conf *conf, const struct mdx_api_deps *deps,
                              int *err);
/* Non-zero while the broker connection is up and the store answers (what /readyz says). */
int mdx_api_ready(struct mdx_api *api);
/*
 * Closes the listener and live streams, then waits for running requests.
 * With ingest_in_process, the engine's writer (which runs the live stage)
 * must be stopped first. NULL is fine.
 */
void mdx_api_stop(struct mdx_api *api);

/*
 * The live stream's pipeline stage: add it to the ingest's engine with
 * mdx_engine_add_stage(engine, &mdx_api_live_stage_ops,
 * mdx_api_live_stage(api)) before mdx_engine_start(). It formats nothing
 * for a tenant or device nobody watches, and never waits for a viewer.
 */
extern const struct mdx_stage_ops mdx_api_live_stage_ops;
/*
 * The stage's context, owned by 'api' and valid until mdx_api_stop(); NULL
 * when 'api' was started without ingest_in_process (or is NULL).
 */
void *mdx_api_live_stage(struct mdx_api *api);

#endif
