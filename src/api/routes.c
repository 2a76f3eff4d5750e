/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes.c - the route tables of the API, in matching order. A new
 * resource is one route_*.c file exporting its table, plus one line here.
 */
#include "api/api_int.h"

const struct api_route *const api_route_tables[] = {
    api_routes_system,      /* /healthz, /readyz, /metrics, openapi, /api/v1/me */
    api_routes_tenants,     /* platform: tenants and their first keys */
    api_routes_devices,
    api_routes_telemetry,   /* latest, range, export */
    api_routes_events,      /* safety and status events */
    api_routes_alerts,
    api_routes_rules,
    api_routes_commands,
    api_routes_deadletters,
    api_routes_stream,      /* live stream (SSE) */
    api_routes_rul,         /* RUL predictions (issue 7) */
};

const size_t api_route_tables_n = sizeof(api_route_tables) / sizeof(api_route_tables[0]);
