/* SPDX-License-Identifier: Apache-2.0 */
/*
 * command.h - operators' commands to devices: checked against the device's
 * safety limits, refused during an emergency stop, sent on
 * modax/{tenant}/{device}/commands and answered on .../command_ack.
 *
 * A command sets one parameter of the device to a number:
 *   to the device:   {"command_id":42,"name":"speed_pct","value":80,"ts":1764230400123}
 *   from the device: {"device_id":"m-0001","command_id":42,"status":"ok"}
 *                    {"device_id":"m-0001","command_id":42,"status":"rejected","detail":"..."}
 * A device's limits (struct mdx_device_config.limits) name the parameters
 * it accepts, each with its range: {"speed_pct":{"min":0,"max":100}}. A
 * parameter without limits is not accepted: the platform sends nothing it
 * cannot check.
 */
#ifndef MODAX_COMMAND_H
#define MODAX_COMMAND_H

#include <stddef.h>

#include "modax/store.h"

/*
 * Checks a limits document: a JSON object whose members are parameter
 * names ([A-Za-z0-9_-]{1,64}) each mapping to {"min":number,"max":number}
 * with min <= max, both finite. MDX_OK, or MDX_EINVAL with a message for
 * people in 'why' (static or in 'buf').
 */
int mdx_limits_check(const char *limits_json, char *why, size_t whylen);

/*
 * Checks command 'name' = 'value' against the device's limits and safety
 * state. MDX_OK to send; MDX_EINVAL (unknown parameter, value out of range,
 * not finite: 422) or MDX_EDENIED (emergency stop reported: 409), with the
 * reason for people in 'why'.
 */
int mdx_command_check(const struct mdx_device_config *cfg, const struct mdx_device_info *dev,
                      const char *name, double value, char *why, size_t whylen);

/* The payload published to the device for 'cmd' (stored, so id is set) into buf; its length, or -1. */
int mdx_command_payload(const struct mdx_command *cmd, char *buf, size_t len);

/* The topic of a device's commands: modax/{tenant}/{device}/commands. */
void mdx_command_topic(const char *tenant, const char *device, char *buf, size_t len);

/* "sent", "acked", "rejected", "failed". */
const char *mdx_command_state_name(int state);

#endif
