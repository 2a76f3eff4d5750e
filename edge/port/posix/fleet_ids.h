/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet_ids.h - the broker identities of a simulated fleet with one
 * connection per machine: client id = user name = device id, with the
 * device's secret from a secrets file ("DEVICE SECRET" lines, the file not
 * readable by others), or its client certificate DIR/DEVICE.crt and
 * DIR/DEVICE.key (what `modax device add ... --cert --out DIR` writes).
 * Secrets are never printed; fleet_ids_wipe() clears them once
 * libmosquitto has its copies.
 */
#ifndef MODAX_EDGE_FLEET_IDS_H
#define MODAX_EDGE_FLEET_IDS_H

#include <stdint.h>

#include "agent.h"
#include "port_posix.h"

#define FLEET_SECRET_MAX 256 /* longest secret, with NUL */
#define FLEET_PATH_MAX 512

struct fleet_ids {
    uint32_t n;
    struct mdx_posix_ident *idents; /* n of them, pointing into the arrays below */
    char (*device)[MDX_EDGE_DEVICE_ID_MAX];
    char (*will)[MDX_EDGE_TOPIC_MAX];
    char (*secret)[FLEET_SECRET_MAX];  /* NULL with certificates */
    char (*cert)[FLEET_PATH_MAX];      /* NULL with secrets */
    char (*key)[FLEET_PATH_MAX];
};

/*
 * Builds the identities of the machines of 'c' (device ids as the agent
 * names them), from 'secrets_path' or else 'cert_dir'. Returns 0, or -1
 * with a message on stderr (unreadable or world-readable file, malformed
 * line, a machine without a secret, out of memory). fleet_ids_free()
 * must follow in every case.
 */
int fleet_ids_load(struct fleet_ids *f, const struct mdx_edge_conf *c, const char *secrets_path,
                   const char *cert_dir);

/* Overwrites every secret with zeros. */
void fleet_ids_wipe(struct fleet_ids *f);

/* Wipes and frees everything. */
void fleet_ids_free(struct fleet_ids *f);

#endif
