/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_topics.h - the original MODAX firmware's topics in the broker
 * plugin (issue 14 item 6). A device of a tenant with legacy topics on
 * (`modax tenant legacy-topics T on`) may publish on modax/sensor/data and
 * modax/sensor/safety, which the plugin rewrites to the device's own
 * modax/{tenant}/{device}/sensor_data|safety, and may subscribe to
 * modax/control/commands, where the plugin delivers what is published on
 * its modax/{tenant}/{device}/commands. Which devices subscribed is kept
 * here: a bounded set, used only on the broker's thread.
 */
#ifndef MODAX_LEGACY_TOPICS_H
#define MODAX_LEGACY_TOPICS_H

#include <stddef.h>

#define LEGACY_SENSOR_DATA "modax/sensor/data"
#define LEGACY_SAFETY "modax/sensor/safety"
#define LEGACY_COMMANDS "modax/control/commands"
#define LEGACY_SUBS_MAX 4096  /* devices subscribed to LEGACY_COMMANDS at once */

/*
 * The leaf of the new scheme a device's publish on legacy topic 'topic' maps
 * to ("sensor_data" or "safety"), or NULL if it is not a legacy publish topic.
 */
const char *legacy_publish_leaf(const char *topic);
/* 1 if 'topic' is the legacy command topic. */
int legacy_is_commands(const char *topic);
/*
 * If 'topic' is modax/{tenant}/{device}/commands, copies tenant and device
 * (each MDX_NAME_MAX + 1 bytes) and returns 1; else 0.
 */
int legacy_command_target(const char *topic, char *tenant, char *device);

/* MDX_OK or MDX_ENOMEM. */
int legacy_subs_init(void);
void legacy_subs_fini(void);
/*
 * Records that 'device' of 'tenant' subscribed to the legacy command topic
 * with 'qos'. MDX_OK, or MDX_EFULL when LEGACY_SUBS_MAX devices are recorded.
 */
int legacy_subs_add(const char *device, const char *tenant, int qos);
/* Forgets 'device' (unsubscribed, or its session ended). */
void legacy_subs_remove(const char *device);
/* The QoS 'device' of 'tenant' subscribed with, or -1 if it did not subscribe. */
int legacy_subs_qos(const char *device, const char *tenant);
/* How many devices are recorded. */
size_t legacy_subs_count(void);

#endif
