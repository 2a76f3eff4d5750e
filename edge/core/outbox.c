/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox.c - the persistent store-and-forward outbox; see outbox.h.
 *
 * Everything on storage is little-endian with fixed offsets, so a region
 * written by one port reads the same on another.
 */
#include "outbox.h"

#include <stdio.h>
#include <string.h>

#include "modax/status.h"

static const char magic[8] = {'M', 'D', 'X', 'O', 'U', 'T', 'B', 'X'};

enum {
    H_MAGIC = 0,
    H_VERSION = 8,
    H_RECORD = 12,
    H_MACHINES = 16,
    H_SLOTS = 20,
    H_IDENTITY = 24,
    H_CRC = H_IDENTITY + MDX_OUTBOX_IDENTITY_MAX,
    R_SEQ = 0,
    R_TS = 8,
    R_PRESENT = 16,
    R_VALUES = 20, /* 8 floats */
    R_CRC = 52
};

/* CRC-32 (IEEE 802.3, reflected), a nibble at a time: small enough for a microcontroller. */
static uint32_t crc32_update(uint32_t crc, const void *data, size_t len)
{
    static const uint32_t nibble[16] = {
        0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
        0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
        0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
    const uint8_t *p = data;
    size_t i;

    crc = ~crc;
    for (i = 0; i < len; i++) {
        crc = (crc >> 4) ^ nibble[(crc ^ p[i]) & 0xfu];
        crc = (crc >> 4) ^ nibble[(crc ^ ((uint32_t)p[i] >> 4)) & 0xfu];
    }
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put_float(uint8_t *p, float f)
{
    uint32_t v;

    memcpy(&v, &f, sizeof(v));
    put32(p, v);
}

static float get_float(const uint8_t *p)
{
    uint32_t v = get32(p);
    float f;

    memcpy(&f, &v, sizeof(f));
    return f;
}

static uint32_t checkpoint_size(uint32_t machines)
{
    uint64_t n = 16 + 8 * (uint64_t)machines + 4;

    return (uint32_t)((n + 63) / 64 * 64);
}

uint64_t mdx_edge_outbox_size(uint32_t machines, uint32_t slots)
{
    return MDX_OUTBOX_HEADER + 2 * (uint64_t)checkpoint_size(machines) +
           (uint64_t)machines * slots * MDX_OUTBOX_RECORD;
}

uint64_t mdx_edge_outbox_size_of(const uint8_t *header)
{
    if (memcmp(header + H_MAGIC, magic, sizeof(magic)) != 0 ||
        get32(header + H_CRC) != crc32_update(0, header, H_CRC)) {
        return 0;
    }
    return mdx_edge_outbox_size(get32(header + H_MACHINES), get32(header + H_SLOTS));
}

static int rd(const struct mdx_edge_outbox *ob, uint64_t off, void *buf, size_t len)
{
    return ob->port->store_read(ob->port->ctx, off, buf, len) == MDX_OK ? MDX_OK : MDX_EIO;
}

static int wr(const struct mdx_edge_outbox *ob, uint64_t off, const void *buf, size_t len)
{
    return ob->port->store_write(ob->port->ctx, off, buf, len) == MDX_OK ? MDX_OK : MDX_EIO;
}

/*
 * Checks checkpoint copy 'i': CRC over its whole length, streamed through
 * a small buffer. Sets *gen. Returns 1 if valid, 0 if not, MDX_EIO.
 */
static int checkpoint_valid(struct mdx_edge_outbox *ob, int i, uint64_t *gen)
{
    uint8_t chunk[64];
    uint32_t body = 16 + 8 * ob->machines, done = 0, crc = 0;

    while (done < body) {
        uint32_t n = body - done < sizeof(chunk) ? body - done : (uint32_t)sizeof(chunk);

        if (rd(ob, ob->cp_off[i] + done, chunk, n) != MDX_OK) {
            return MDX_EIO;
        }
        if (done == 0) {
            *gen = get64(chunk);
            if (get32(chunk + 8) != ob->machines) {
                return 0;
            }
        }
        crc = crc32_update(crc, chunk, n);
        done += n;
    }
    if (rd(ob, ob->cp_off[i] + body, chunk, 4) != MDX_OK) {
        return MDX_EIO;
    }
    return *gen != 0 && get32(chunk) == crc;
}

static int format(struct mdx_edge_outbox *ob, uint8_t *h, const char *identity)
{
    memset(h, 0, MDX_OUTBOX_HEADER);
    memcpy(h + H_MAGIC, magic, sizeof(magic));
    put32(h + H_VERSION, MDX_OUTBOX_VERSION);
    put32(h + H_RECORD, MDX_OUTBOX_RECORD);
    put32(h + H_MACHINES, ob->machines);
    put32(h + H_SLOTS, ob->slots);
    memcpy(h + H_IDENTITY, identity, strlen(identity));
    put32(h + H_CRC, crc32_update(0, h, H_CRC));
    if (wr(ob, 0, h, MDX_OUTBOX_HEADER) != MDX_OK ||
        ob->port->store_sync(ob->port->ctx) != MDX_OK) {
        return MDX_EIO;
    }
    return MDX_OK;
}

int mdx_edge_outbox_open(struct mdx_edge_outbox *ob, const struct mdx_edge_port *port,
                         const char *identity, uint32_t machines, char *why, size_t why_cap)
{
    uint8_t h[MDX_OUTBOX_HEADER];
    uint64_t size, gen[2] = {0, 0};
    int valid[2], i, blank = 1;
    size_t k;

    memset(ob, 0, sizeof(*ob));
    ob->port = port;
    ob->machines = machines;
    ob->cp_valid = -1;
    why[0] = '\0';
    if (port->store_size == NULL || machines == 0 ||
        strlen(identity) >= MDX_OUTBOX_IDENTITY_MAX) {
        snprintf(why, why_cap, "no storage, no machines or identity too long");
        return MDX_EINVAL;
    }
    size = port->store_size(port->ctx);
    ob->cp_size = checkpoint_size(machines);
    ob->cp_off[0] = MDX_OUTBOX_HEADER;
    ob->cp_off[1] = MDX_OUTBOX_HEADER + ob->cp_size;
    ob->data_off = MDX_OUTBOX_HEADER + 2 * (uint64_t)ob->cp_size;
    if (size < mdx_edge_outbox_size(machines, 1)) {
        snprintf(why, why_cap, "%llu bytes hold less than one reading per machine",
                 (unsigned long long)size);
        return MDX_EINVAL;
    }
    if (rd(ob, 0, h, sizeof(h)) != MDX_OK) {
        snprintf(why, why_cap, "cannot read the header");
        return MDX_EIO;
    }
    for (k = 0; k < sizeof(h) && blank; k++) {
        blank = h[k] == 0;
    }
    if (blank) {
        uint64_t slots = (size - ob->data_off) / ((uint64_t)machines * MDX_OUTBOX_RECORD);

        ob->slots = slots > UINT32_MAX ? UINT32_MAX : (uint32_t)slots;
        if (format(ob, h, identity) != MDX_OK) {
            snprintf(why, why_cap, "cannot write the header");
            return MDX_EIO;
        }
        return MDX_OK;
    }
    if (memcmp(h + H_MAGIC, magic, sizeof(magic)) != 0) {
        snprintf(why, why_cap, "not an outbox (no MDXOUTBX header)");
        return MDX_EINVAL;
    }
    if (get32(h + H_VERSION) != MDX_OUTBOX_VERSION) {
        snprintf(why, why_cap, "format version %u, this agent reads version %u",
                 (unsigned)get32(h + H_VERSION), (unsigned)MDX_OUTBOX_VERSION);
        return MDX_EINVAL;
    }
    if (get32(h + H_CRC) != crc32_update(0, h, H_CRC) || h[H_CRC - 1] != '\0') {
        snprintf(why, why_cap, "damaged header (CRC mismatch)");
        return MDX_ECORRUPT;
    }
    if (strcmp((const char *)h + H_IDENTITY, identity) != 0) {
        snprintf(why, why_cap, "written by device %.80s, this agent is %.80s",
                 (const char *)h + H_IDENTITY, identity);
        return MDX_EINVAL;
    }
    ob->slots = get32(h + H_SLOTS);
    if (get32(h + H_MACHINES) != machines || get32(h + H_RECORD) != MDX_OUTBOX_RECORD ||
        ob->slots == 0) {
        snprintf(why, why_cap, "made for %u machines x %u readings, this agent runs %u machines",
                 (unsigned)get32(h + H_MACHINES), (unsigned)ob->slots, (unsigned)machines);
        return MDX_EINVAL;
    }
    if (mdx_edge_outbox_size(machines, ob->slots) > size) {
        snprintf(why, why_cap, "needs %llu bytes, the storage has %llu",
                 (unsigned long long)mdx_edge_outbox_size(machines, ob->slots),
                 (unsigned long long)size);
        return MDX_EINVAL;
    }
    for (i = 0; i < 2; i++) {
        valid[i] = checkpoint_valid(ob, i, &gen[i]);
        if (valid[i] < 0) {
            snprintf(why, why_cap, "cannot read the checkpoint");
            return MDX_EIO;
        }
    }
    if (valid[0] || valid[1]) {
        ob->cp_valid = valid[0] && (!valid[1] || gen[0] > gen[1]) ? 0 : 1;
        ob->cp_gen = gen[ob->cp_valid];
    }
    return MDX_OK;
}

static uint64_t record_off(const struct mdx_edge_outbox *ob, uint32_t m, uint64_t seq)
{
    return ob->data_off + ((uint64_t)m * ob->slots + seq % ob->slots) * MDX_OUTBOX_RECORD;
}

/* Sequence number of record 'rec' of machine 'm', or 0 when blank or damaged. */
static uint64_t record_check(uint32_t m, const uint8_t *rec)
{
    uint8_t idx[4];
    uint32_t crc;

    put32(idx, m);
    crc = crc32_update(crc32_update(0, idx, sizeof(idx)), rec, R_CRC);
    return crc == get32(rec + R_CRC) ? get64(rec + R_SEQ) : 0;
}

static int blank_record(const uint8_t *rec)
{
    size_t i;

    for (i = 0; i < MDX_OUTBOX_RECORD; i++) {
        if (rec[i] != 0) {
            return 0;
        }
    }
    return 1;
}

int mdx_edge_outbox_recover(struct mdx_edge_outbox *ob, uint32_t m, uint64_t *next_seq,
                            uint64_t *oldest)
{
    uint8_t rec[MDX_OUTBOX_RECORD * 16];
    uint64_t max = 0, min = UINT64_MAX, lwm = 0;
    uint32_t s = 0;

    while (s < ob->slots) {
        uint32_t n = ob->slots - s < 16 ? ob->slots - s : 16, j;

        if (rd(ob, record_off(ob, m, s), rec, (size_t)n * MDX_OUTBOX_RECORD) != MDX_OK) {
            return MDX_EIO;
        }
        for (j = 0; j < n; j++) {
            const uint8_t *r = rec + (size_t)j * MDX_OUTBOX_RECORD;
            uint64_t seq = record_check(m, r);

            if (seq == 0 || seq % ob->slots != s + j) {
                ob->damaged += blank_record(r) ? 0 : 1;
                continue;
            }
            max = seq > max ? seq : max;
            min = seq < min ? seq : min;
        }
        s += n;
    }
    *next_seq = max + 1;
    if (ob->cp_valid >= 0) {
        uint8_t v[8];

        if (rd(ob, ob->cp_off[ob->cp_valid] + 16 + 8 * (uint64_t)m, v, 8) != MDX_OK) {
            return MDX_EIO;
        }
        lwm = get64(v);
    } else {
        lwm = min == UINT64_MAX ? 1 : min; /* never checkpointed: all of it is unreleased */
    }
    if (lwm < 1) {
        lwm = 1;
    }
    if (*next_seq > ob->slots && lwm < *next_seq - ob->slots) {
        lwm = *next_seq - ob->slots;
    }
    *oldest = lwm > *next_seq ? *next_seq : lwm;
    return MDX_OK;
}

int mdx_edge_outbox_put(struct mdx_edge_outbox *ob, uint32_t m, uint64_t seq,
                        const struct mdx_edge_reading *r)
{
    uint8_t rec[MDX_OUTBOX_RECORD], idx[4];
    const float v[8] = {r->current_mean, r->current_max,  r->current_b_mean, r->vibration[0],
                        r->vibration[1], r->vibration[2], r->vibration[3],    r->temperature};
    int i;

    memset(rec, 0, sizeof(rec));
    put64(rec + R_SEQ, seq);
    put64(rec + R_TS, (uint64_t)r->ts_ms);
    put32(rec + R_PRESENT, r->present);
    for (i = 0; i < 8; i++) {
        put_float(rec + R_VALUES + 4 * i, v[i]);
    }
    put32(idx, m);
    put32(rec + R_CRC, crc32_update(crc32_update(0, idx, sizeof(idx)), rec, R_CRC));
    return wr(ob, record_off(ob, m, seq), rec, sizeof(rec));
}

int mdx_edge_outbox_get(struct mdx_edge_outbox *ob, uint32_t m, uint64_t seq,
                        struct mdx_edge_reading *r)
{
    uint8_t rec[MDX_OUTBOX_RECORD];

    if (rd(ob, record_off(ob, m, seq), rec, sizeof(rec)) != MDX_OK) {
        return MDX_EIO;
    }
    if (record_check(m, rec) != seq) {
        ob->damaged++;
        return MDX_ENOTFOUND;
    }
    memset(r, 0, sizeof(*r));
    r->ts_ms = (int64_t)get64(rec + R_TS);
    r->machine = m;
    r->present = get32(rec + R_PRESENT);
    r->current_mean = get_float(rec + R_VALUES);
    r->current_max = get_float(rec + R_VALUES + 4);
    r->current_b_mean = get_float(rec + R_VALUES + 8);
    r->vibration[0] = get_float(rec + R_VALUES + 12);
    r->vibration[1] = get_float(rec + R_VALUES + 16);
    r->vibration[2] = get_float(rec + R_VALUES + 20);
    r->vibration[3] = get_float(rec + R_VALUES + 24);
    r->temperature = get_float(rec + R_VALUES + 28);
    return MDX_OK;
}

int mdx_edge_outbox_sync(struct mdx_edge_outbox *ob)
{
    return ob->port->store_sync(ob->port->ctx) == MDX_OK ? MDX_OK : MDX_EIO;
}

int mdx_edge_outbox_checkpoint(struct mdx_edge_outbox *ob,
                               uint64_t (*oldest)(const void *arg, uint32_t m), const void *arg)
{
    uint8_t chunk[64];
    uint64_t off;
    uint32_t m = 0, crc = 0;
    int target = ob->cp_valid == 0 ? 1 : 0;

    if (mdx_edge_outbox_sync(ob) != MDX_OK) {
        return MDX_EIO;
    }
    off = ob->cp_off[target];
    put64(chunk, ob->cp_gen + 1);
    put32(chunk + 8, ob->machines);
    put32(chunk + 12, 0);
    crc = crc32_update(crc, chunk, 16);
    if (wr(ob, off, chunk, 16) != MDX_OK) {
        return MDX_EIO;
    }
    off += 16;
    while (m < ob->machines) {
        uint32_t n = 0;

        for (; n < sizeof(chunk) / 8 && m < ob->machines; n++, m++) {
            put64(chunk + 8 * n, oldest(arg, m));
        }
        crc = crc32_update(crc, chunk, 8 * (size_t)n);
        if (wr(ob, off, chunk, 8 * (size_t)n) != MDX_OK) {
            return MDX_EIO;
        }
        off += 8 * (uint64_t)n;
    }
    put32(chunk, crc);
    if (wr(ob, off, chunk, 4) != MDX_OK || mdx_edge_outbox_sync(ob) != MDX_OK) {
        return MDX_EIO;
    }
    ob->cp_valid = target;
    ob->cp_gen++;
    return MDX_OK;
}
