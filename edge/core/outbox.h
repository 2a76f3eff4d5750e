/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox.h - the persistent store-and-forward outbox: readings are
 * written here before they are published and released once the broker
 * acknowledged them, so a power cut or a killed agent loses nothing that
 * reached the outbox.
 *
 * It lives in the port's storage region (port.h store_*), laid out as
 *   header      512 bytes: magic "MDXOUTBX", format version, geometry,
 *               the owner's identity ("tenant/prefix/first"), CRC-32
 *   checkpoint  two copies, written in turn: a generation number and, per
 *               machine, the oldest sequence number not yet released; CRC
 *   records     per machine a ring of 'slots' fixed records of
 *               MDX_OUTBOX_RECORD bytes: sequence number (from 1), the
 *               reading, CRC-32 over the machine index and the rest
 * Record n of machine m sits in slot n % slots of m's ring, so writing a
 * new reading into a full ring overwrites (drops) the oldest one. A
 * record whose CRC or sequence number does not fit (torn by a power cut
 * mid-write) is skipped and counted, never replayed. Released records are
 * not rewritten: the checkpoint says where the unreleased ones start, and
 * a lost checkpoint only means some are sent again (the store's
 * (series, ts) key absorbs that).
 *
 * No heap: the caller embeds struct mdx_edge_outbox. All I/O goes through
 * the port.
 */
#ifndef MODAX_EDGE_OUTBOX_H
#define MODAX_EDGE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "reading.h"

#define MDX_OUTBOX_VERSION 1
#define MDX_OUTBOX_HEADER 512u
#define MDX_OUTBOX_RECORD 56u     /* bytes per reading on storage */
#define MDX_OUTBOX_IDENTITY_MAX 128 /* owner identity, with NUL */

struct mdx_edge_outbox {
    const struct mdx_edge_port *port; /* borrowed */
    uint32_t machines;
    uint32_t slots;       /* records per machine */
    uint64_t cp_off[2];   /* the two checkpoint copies */
    uint32_t cp_size;
    int cp_valid;         /* copy the lwm were recovered from; -1: none */
    uint64_t cp_gen;      /* generation of the newest checkpoint */
    uint64_t data_off;    /* first record */
    uint64_t damaged;     /* records skipped: failed their check */
};

/* Bytes of storage an outbox of 'machines' x 'slots' readings needs. */
uint64_t mdx_edge_outbox_size(uint32_t machines, uint32_t slots);

/*
 * Bytes of storage the outbox whose first MDX_OUTBOX_HEADER bytes are
 * 'header' spans, or 0 when it is not an outbox header. For a port whose
 * region is a file that may be shorter (written sparsely, cut short).
 */
uint64_t mdx_edge_outbox_size_of(const uint8_t *header);

/*
 * Opens the outbox in 'port''s storage for 'machines' machines of owner
 * 'identity', formatting a blank region (all zeros). Refuses a region
 * written by another owner, by a newer format version, with another
 * number of machines or a damaged header: returns MDX_EINVAL /
 * MDX_ECORRUPT with the reason in 'why' (not replayed, not changed).
 * MDX_EIO if storage fails. 'port' is borrowed.
 */
int mdx_edge_outbox_open(struct mdx_edge_outbox *ob, const struct mdx_edge_port *port,
                         const char *identity, uint32_t machines, char *why, size_t why_cap);

/*
 * What the outbox holds for machine 'm' after open: *next_seq, the
 * sequence number the next reading gets, and *oldest, the first one not
 * released. Scans m's ring. Returns MDX_OK or MDX_EIO.
 */
int mdx_edge_outbox_recover(struct mdx_edge_outbox *ob, uint32_t m, uint64_t *next_seq,
                            uint64_t *oldest);

/* Writes reading 'r' of machine 'm' as record 'seq' (not synced). MDX_OK or MDX_EIO. */
int mdx_edge_outbox_put(struct mdx_edge_outbox *ob, uint32_t m, uint64_t seq,
                        const struct mdx_edge_reading *r);

/*
 * Reads record 'seq' of machine 'm' into *r. MDX_OK; MDX_ENOTFOUND when
 * the slot holds another or a damaged record (counted in 'damaged');
 * MDX_EIO.
 */
int mdx_edge_outbox_get(struct mdx_edge_outbox *ob, uint32_t m, uint64_t seq,
                        struct mdx_edge_reading *r);

/* Makes every record written so far durable. */
int mdx_edge_outbox_sync(struct mdx_edge_outbox *ob);

/*
 * Syncs, then writes a checkpoint: oldest(arg, m) is the first sequence
 * number of machine m not released. Returns MDX_OK or MDX_EIO.
 */
int mdx_edge_outbox_checkpoint(struct mdx_edge_outbox *ob,
                               uint64_t (*oldest)(const void *arg, uint32_t m), const void *arg);

#endif
