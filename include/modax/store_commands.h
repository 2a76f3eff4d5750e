/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_commands.h - the record of operators' commands to devices (see
 * command.h for the safety checks before one is sent). A device's
 * command_ack events update their command inside mdx_store_write().
 *
 * Included by store.h; see there for the handle and the rules every store
 * function follows (returns, callbacks, ownership).
 */
#ifndef MODAX_STORE_COMMANDS_H
#define MODAX_STORE_COMMANDS_H

#include <stdint.h>

#include "modax/msg.h"
#include "modax/store_access.h"

struct mdx_store;

enum mdx_command_state {
    MDX_COMMAND_SENT = 0,     /* published to modax/{tenant}/{device}/commands */
    MDX_COMMAND_ACKED,        /* the device answered ok on command_ack */
    MDX_COMMAND_REJECTED,     /* the device answered rejected (its own interlocks) */
    MDX_COMMAND_FAILED        /* could not be published */
};

struct mdx_command {
    int64_t id;                     /* store id; 0 until stored */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    char name[MDX_NAME_MAX + 1];    /* the parameter, e.g. "speed_pct" */
    double value;
    int state;                      /* enum mdx_command_state */
    char detail[128];               /* the device's reason when rejected, else "" */
    char issued_by[MDX_APIKEY_ID_LEN + 1]; /* key id, "" from the CLI */
    int64_t created_ms;
    int64_t updated_ms;
};

/* A command; borrowed for the call only: copy what you keep. */
typedef int (*mdx_command_fn)(void *arg, const struct mdx_command *cmd);

/*
 * Inserts (cmd->id == 0; the id is set) or updates a command's state,
 * detail and updated time. MDX_OK; MDX_ENOTFOUND for an unknown device or
 * id.
 */
int mdx_store_command_put(struct mdx_store *st, struct mdx_command *cmd);
/*
 * Command 'id' of 'tenant' into *out (owned by the caller): MDX_OK;
 * MDX_ENOTFOUND otherwise, also for another tenant's.
 */
int mdx_store_command_get(struct mdx_store *st, const char *tenant, int64_t id,
                          struct mdx_command *out);
/*
 * Calls fn for the commands of a device (NULL: the whole tenant), newest
 * first; limit 0 = all. MDX_OK, fn's stop value, or an error.
 */
int mdx_store_command_list(struct mdx_store *st, const char *tenant, const char *device,
                           int64_t limit, mdx_command_fn fn, void *arg);

/* What a back end implements for commands. 'impl' is its own handle. */
struct mdx_store_commands_ops {
    int (*command_put)(void *impl, struct mdx_command *cmd);
    int (*command_get)(void *impl, const char *tenant, int64_t id, struct mdx_command *out);
    int (*command_list)(void *impl, const char *tenant, const char *device, int64_t limit,
                        mdx_command_fn fn, void *arg);
};

#endif
