/* SPDX-License-Identifier: Apache-2.0 */
/*
 * command.h - the commands a device receives on
 * modax/{tenant}/{device}/commands, parsed without heap or JSON library:
 *   {"command_id":42,"name":"speed_pct","value":80,"ts":1764230400123}
 * command_id: integer 0..2^63-1; name: [A-Za-z0-9_-]{1,64}; value: a
 * finite number; ts (optional): integer epoch ms. Members in any order,
 * each at most once; anything else (another member, another type, a
 * second JSON value, bad syntax) is malformed.
 *
 * The parser is a single bounded pass over the bytes: it never reads
 * past 'len', needs no NUL, nests at most MDX_EDGE_CMD_DEPTH deep while
 * skipping an unknown member's value, and copies at most one number
 * literal (MDX_EDGE_CMD_NUMBER_MAX bytes) onto the stack.
 */
#ifndef MODAX_EDGE_COMMAND_H
#define MODAX_EDGE_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#define MDX_EDGE_CMD_NAME_MAX 64    /* longest command name, without NUL */
#define MDX_EDGE_CMD_NUMBER_MAX 64  /* longest number literal accepted */
#define MDX_EDGE_CMD_DEPTH 16       /* deepest nesting skipped in an unknown member */
#define MDX_EDGE_CMD_DETAIL_MAX 120 /* longest rejection detail, with NUL */

struct mdx_edge_command {
    int64_t id;      /* command_id */
    int has_id;      /* command_id was read (also on a malformed payload) */
    char name[MDX_EDGE_CMD_NAME_MAX + 1];
    double value;
    int64_t ts_ms;   /* 0 when absent */
};

/*
 * Parses the 'len' bytes of 'payload' into 'out'. Returns MDX_OK, or
 * MDX_EINVAL with *why set to a static text for people; then
 * out->has_id says whether the command's id could still be read (the
 * device rejects the command with an ack) or not (it can only ignore it).
 */
int mdx_edge_command_parse(const char *payload, size_t len, struct mdx_edge_command *out,
                           const char **why);

#endif
