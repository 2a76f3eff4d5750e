/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_stats.c - counters, rate-limited denial log and stats file of the
 * broker plugin (see auth_stats.h).
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth_cache.h"
#include "auth_stats.h"
#include "auth_throttle.h"
#include "modax/clock.h"

#define LOG_WINDOW_MS 10000
#define LOG_BURST 20

static const char *const names[C_COUNT] = {
    "auth_ok", "auth_denied_no_user", "auth_denied_unknown", "auth_denied_password",
    "auth_denied_revoked", "auth_denied_client_id", "auth_denied_no_secret",
    "auth_denied_backoff", "auth_denied_address", "auth_denied_unavailable", "acl_allowed",
    "acl_denied_topic", "acl_denied_revoked", "acl_denied_unknown", "acl_denied_cert",
    "acl_denied_client_id", "acl_denied_unavailable", "kicked", "log_suppressed",
    "argon2_checks", "argon2_us_total", "acl_denied_legacy", "legacy_rewritten",
    "legacy_commands",
};

static uint64_t counters[C_COUNT];
static int64_t window_start_ms;
static int window_lines;
static uint64_t window_suppressed;
static int64_t last_write_ms;

void auth_stats_add(enum auth_counter c, uint64_t n)
{
    counters[c] += n;
}

uint64_t auth_stats_get(enum auth_counter c)
{
    return counters[c];
}

/* Client-supplied text for a log line: printable ASCII, at most 'len' - 1 bytes. */
static const char *clean(const char *s, char *buf, size_t len)
{
    size_t o = 0;

    if (s == NULL) {
        return "-";
    }
    for (; *s != '\0' && o + 1 < len; s++) {
        unsigned char ch = (unsigned char)*s;
        buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    buf[o] = '\0';
    return buf;
}

void auth_deny(enum auth_counter c, struct mosquitto *client, const char *username,
               const char *topic, const char *reason)
{
    char b1[96], b2[96], b3[160];
    int64_t now = mdx_mono_us() / 1000;

    counters[c]++;
    if (now - window_start_ms >= LOG_WINDOW_MS) {
        window_start_ms = now;
        window_lines = 0;
    }
    if (window_lines >= LOG_BURST) {
        counters[C_LOG_SUPPRESSED]++;
        window_suppressed++;
        return;
    }
    window_lines++;
    mosquitto_log_printf(MOSQ_LOG_NOTICE,
                         "modax_auth: denied (%s): client '%s' user '%s' topic '%s' address %s: %s",
                         names[c], clean(client ? mosquitto_client_id(client) : NULL, b1, sizeof(b1)),
                         clean(username, b2, sizeof(b2)), clean(topic, b3, sizeof(b3)),
                         client && mosquitto_client_address(client) ? mosquitto_client_address(client)
                                                                     : "-",
                         reason);
}

static void write_file(const char *path)
{
    char tmp[4096];
    struct auth_cache_stats cs;
    FILE *f;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return;
    }
    f = fopen(tmp, "w");
    if (f == NULL) {
        return;
    }
    auth_cache_stats(&cs);
    for (int i = 0; i < C_COUNT; i++) {
        fprintf(f, "%s %llu\n", names[i], (unsigned long long)counters[i]);
    }
    fprintf(f, "cache_entries %llu\ncache_lookups %llu\ncache_lookup_timeouts %llu\n"
               "cache_refreshes %llu\nstore_errors %llu\nkicks_queued %llu\n"
               "throttle_evictions %llu\n",
            (unsigned long long)cs.entries, (unsigned long long)cs.lookups,
            (unsigned long long)cs.lookup_timeouts, (unsigned long long)cs.refreshes,
            (unsigned long long)cs.store_errors, (unsigned long long)cs.kicks_queued,
            (unsigned long long)auth_throttle_evictions());
    if (fclose(f) == 0) {
        rename(tmp, path);
    }
}

void auth_stats_tick(const char *path)
{
    int64_t now = mdx_mono_us() / 1000;

    if (now - last_write_ms < 1000) {
        return;
    }
    last_write_ms = now;
    if (window_suppressed > 0 && now - window_start_ms >= LOG_WINDOW_MS) {
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "modax_auth: %llu more denials counted, not logged",
                             (unsigned long long)window_suppressed);
        window_suppressed = 0;
    }
    if (path != NULL) {
        write_file(path);
    }
}
