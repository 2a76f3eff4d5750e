/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_stats.h - the plugin's counters and its denial log: every denial is
 * counted and logged once (client id, username, topic, reason), at most
 * LOG_BURST lines per LOG_WINDOW_MS; the rest are counted as suppressed and
 * summed up in one line. The counters are written as "name value" lines to
 * plugin_opt_stats_file once a second (atomically: temporary file, rename).
 * Main thread only.
 */
#ifndef MODAX_AUTH_STATS_H
#define MODAX_AUTH_STATS_H

#include <stdint.h>

struct mosquitto;

enum auth_counter {
    C_AUTH_OK = 0,
    C_AUTH_DENY_NO_USER,      /* no username or password */
    C_AUTH_DENY_UNKNOWN,      /* no such device or identity */
    C_AUTH_DENY_PASSWORD,     /* wrong secret */
    C_AUTH_DENY_REVOKED,
    C_AUTH_DENY_CLIENT_ID,    /* client id is not the device id (identity: not its name) */
    C_AUTH_DENY_NO_SECRET,    /* certificate-only device tried a password */
    C_AUTH_DENY_BACKOFF,      /* too many wrong secrets for this user from this address */
    C_AUTH_DENY_ADDRESS,      /* too many wrong secrets from this address */
    C_AUTH_DENY_UNAVAILABLE,  /* the store did not answer in time */
    C_ACL_ALLOW,
    C_ACL_DENY_TOPIC,         /* the topic rules said no */
    C_ACL_DENY_REVOKED,       /* revoked or deleted since it connected */
    C_ACL_DENY_UNKNOWN,
    C_ACL_DENY_CERT,          /* certificate not the one issued to this device */
    C_ACL_DENY_CLIENT_ID,
    C_ACL_DENY_UNAVAILABLE,
    C_KICKED,
    C_LOG_SUPPRESSED,
    C_ARGON2_CHECKS,
    C_ARGON2_US,              /* total time in argon2 verification */
    C_ACL_DENY_LEGACY,        /* a legacy topic while the tenant has them off */
    C_LEGACY_REWRITTEN,       /* legacy publishes moved to the device's own topic */
    C_LEGACY_COMMANDS,        /* commands delivered on the legacy command topic */
    C_COUNT
};

void auth_stats_add(enum auth_counter c, uint64_t n);
uint64_t auth_stats_get(enum auth_counter c);
/* Counts a denial and logs it (rate-limited). topic may be NULL. */
void auth_deny(enum auth_counter c, struct mosquitto *client, const char *username,
               const char *topic, const char *reason);
/* Once a second: summary of suppressed log lines, stats file (path NULL: none). */
void auth_stats_tick(const char *path);

#endif
