/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_conf.c - the api.* configuration keys of role "api" (struct mdx_api_conf).
 */
#include <stddef.h>

#include "modax/api.h"

const struct mdx_conf_key mdx_api_conf_keys[] = {
    MDX_CONF_STR("api.listen", "127.0.0.1", struct mdx_api_conf, listen,
                 "Address the HTTP API binds (0.0.0.0: every interface)"),
    MDX_CONF_INT("api.port", "8080", 1, 65535, struct mdx_api_conf, port, "HTTP API port"),
    MDX_CONF_INT("api.threads", "4", 1, 64, struct mdx_api_conf, threads,
                 "Server threads, each with its own store handle"),
    MDX_CONF_STR("api.tls_cert_file", "", struct mdx_api_conf, tls_cert_file,
                 "PEM certificate; with api.tls_key_file the API speaks HTTPS only"),
    MDX_CONF_STR("api.tls_key_file", "", struct mdx_api_conf, tls_key_file,
                 "PEM private key of api.tls_cert_file"),
    MDX_CONF_STR("api.web_dir", "web/dist", struct mdx_api_conf, web_dir,
                 "The dashboard's built files (empty: no dashboard)"),
    MDX_CONF_INT("api.max_connections", "0", 0, 1000000, struct mdx_api_conf, max_connections,
                 "Connections at once (0: api.stream_max_clients + 512); more are refused"),
    MDX_CONF_INT("api.max_conns_per_address", "256", 1, 1000000, struct mdx_api_conf,
                 max_conns_per_address, "Connections from one client address (IPv6: one /64) at "
                 "once; more are refused"),
    MDX_CONF_INT("api.read_timeout_ms", "10000", 100, 3600000, struct mdx_api_conf,
                 read_timeout_ms, "A whole request must arrive within this of connect or of the "
                 "previous reply, however it trickles; else 408 and closed"),
    MDX_CONF_INT("api.admin_port", "0", 0, 65535, struct mdx_api_conf, admin_port,
                 "Second port on api.listen serving only /healthz, /readyz and /metrics, with its "
                 "own connections (0: none)"),
    MDX_CONF_INT("api.body_max_bytes", "65536", 1024, 16777216, struct mdx_api_conf,
                 body_max_bytes, "Larger request bodies are refused (413)"),
    MDX_CONF_INT("api.rate_limit_rps", "50", 1, 1000000, struct mdx_api_conf, rate_limit_rps,
                 "Requests per second per API key (token bucket; over it: 429)"),
    MDX_CONF_INT("api.rate_limit_burst", "100", 1, 1000000, struct mdx_api_conf,
                 rate_limit_burst, "Requests a key may send at once (bucket size)"),
    MDX_CONF_INT("api.key_cache_s", "5", 0, 3600, struct mdx_api_conf, key_cache_s,
                 "A checked key is trusted this long; a revocation takes effect within it"),
    MDX_CONF_INT("api.range_max_points", "100000", 1, 100000000, struct mdx_api_conf,
                 range_max_points, "Raw points per sensor in one range query, at most"),
    MDX_CONF_INT("api.range_max_buckets", "10000", 1, 10000000, struct mdx_api_conf,
                 range_max_buckets, "Buckets per sensor in one downsampled query, at most"),
    MDX_CONF_INT("api.range_max_sensors", "64", 1, 100000, struct mdx_api_conf,
                 range_max_sensors,
                 "Different sensors named in one range query or export, at most"),
    MDX_CONF_INT("api.range_max_values", "1000000", 1, 100000000, struct mdx_api_conf,
                 range_max_values,
                 "Points or buckets in one range reply over all its sensors, at most (over: 400)"),
    MDX_CONF_INT("api.stream_max_clients", "2000", 1, 100000, struct mdx_api_conf,
                 stream_max_clients, "Live-stream connections at once; more are refused (503)"),
    MDX_CONF_INT("api.stream_queue", "256", 8, 65536, struct mdx_api_conf, stream_queue,
                 "Events queued per live-stream client; a client that falls behind is dropped"),
    MDX_CONF_INT("api.metrics_devices_max", "1000", 0, 1000000, struct mdx_api_conf,
                 metrics_devices_max, "Devices with per-device gauges in /metrics, at most"),
    MDX_CONF_BOOL("api.metrics_emf", "false", struct mdx_api_conf, metrics_emf,
                  "Also write CloudWatch embedded-metric-format JSON lines to stdout"),
    MDX_CONF_INT("api.metrics_emf_interval_s", "60", 1, 86400, struct mdx_api_conf,
                 metrics_emf_interval_s, "Interval of the embedded-metric-format lines (s)"),
    MDX_CONF_STR("api.metrics_emf_environment", "production", struct mdx_api_conf,
                 metrics_emf_environment,
                 "EMF per-device lines go to CloudWatch namespace MODAX/<this> (TenantId, "
                 "DeviceId dimensions)"),
    MDX_CONF_END,
};
