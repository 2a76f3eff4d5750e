/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_spool.c - fuzz target for the spool's record reader and recovery
 * (src/pipeline/spool.c) on torn or corrupted segment files.
 *
 * The input (after its first byte) is written as two segments in a fresh
 * folder: segment 1, read as a closed segment, and segment 2, the last
 * one, which recovery cuts back to its valid prefix. When bit 0 of the
 * first byte is set, the CRC of every plausible record of the input is
 * fixed first so that the checks behind the CRC are reached too. Then
 * three known records are appended and everything is read back, with
 * mdx_spool_resync() after each refusal. Every record returned must be
 * the bytes of the file at its position with a valid CRC, topic and
 * length; recovery may only cut segment 2; the known records must all come back, intact and in order; and
 * the reading must end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "modax/spool.h"
#include "modax/status.h"

#define REC_MAGIC 0x314d444du /* as spool.c writes it */
#define REC_HEADER 32u
#define READ_BUF (64u << 10)
#define KNOWN 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const known_topic[KNOWN] = {
    "modax/acme/press-0042/sensor_data", "modax/acme/press-0042/status", "modax/b/c/safety"};
static const char *const known_payload[KNOWN] = {
    "{\"device_id\":\"press-0042\",\"sensor_data\":{\"t\":1.5}}", "online", ""};

static uint32_t crc_of(const uint8_t *hdr, const uint8_t *body, size_t body_len)
{
    uLong crc = crc32(0L, Z_NULL, 0);

    crc = crc32(crc, hdr + 12, REC_HEADER - 12);
    return (uint32_t)crc32(crc, body, (uInt)body_len);
}

/* Writes a valid CRC into each record header that fits in seg[0..len). */
static void fix_crcs(uint8_t *seg, size_t len)
{
    size_t off = 0;
    uint32_t magic, body_len, crc;

    while (len - off >= REC_HEADER) {
        memcpy(&magic, seg + off, 4);
        memcpy(&body_len, seg + off + 4, 4);
        if (magic != REC_MAGIC || body_len > len - off - REC_HEADER) {
            return;
        }
        crc = crc_of(seg + off, seg + off + REC_HEADER, body_len);
        memcpy(seg + off + 8, &crc, 4);
        off += REC_HEADER + body_len;
    }
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        abort();
    }
}

/* A record read from segment 1 or 2 is the file's bytes at its offset, and valid. */
static void check_from_input(const struct mdx_spool_rec *rec, const uint8_t *seg, size_t len)
{
    uint64_t rec_len = REC_HEADER + strlen(rec->topic) + 1 + rec->len;
    uint64_t start;
    uint32_t body_len, crc;
    uint16_t tl;

    if (rec->end.offset > len || rec->end.offset < rec_len) {
        abort();
    }
    start = rec->end.offset - rec_len;
    memcpy(&body_len, seg + start + 4, 4);
    memcpy(&crc, seg + start + 8, 4);
    memcpy(&tl, seg + start + 12, 2);
    if (REC_HEADER + (uint64_t)body_len != rec_len || tl != strlen(rec->topic) ||
        crc_of(seg + start, seg + start + REC_HEADER, body_len) != crc ||
        memcmp(seg + start + REC_HEADER, rec->topic, tl + 1u) != 0 ||
        (rec->len > 0 && memcmp(seg + start + REC_HEADER + tl + 1, rec->payload, rec->len) != 0)) {
        abort();
    }
}

static void check_known(const struct mdx_spool_rec *rec, int k)
{
    size_t n = strlen(known_payload[k]);

    if (strcmp(rec->topic, known_topic[k]) != 0 || rec->len != n ||
        memcmp(rec->payload, known_payload[k], n) != 0 || rec->recv_ms != 1000 + k ||
        rec->orig_len != n || rec->flags != 0) {
        abort();
    }
}

static void rm_dir(const char *dir)
{
    char path[512];

    for (int seg = 0; seg < 8; seg++) {
        snprintf(path, sizeof(path), "%s/%016x.spool", dir, seg);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[64], path[512];
    struct mdx_spool_conf conf = {dir, 1u << 30, 1u << 30, -1};
    struct mdx_spool_pos start = {1, 0};
    struct mdx_spool_rec rec;
    struct mdx_spool *sp;
    uint8_t *seg;
    size_t len = size > 0 ? size - 1 : 0;
    int err = 0, known = 0, rc;
    long steps = 0;
    uint64_t kept;

    /* In memory where there is a tmpfs: the spool syncs its files on close. */
    snprintf(dir, sizeof(dir), "%s/fuzz_spool.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    seg = malloc(len > 0 ? len : 1);
    if (seg == NULL || mkdtemp(dir) == NULL) {
        abort();
    }
    memcpy(seg, data + (size > 0), len);
    if (size > 0 && (data[0] & 1)) {
        fix_crcs(seg, len);
    }
    snprintf(path, sizeof(path), "%s/%016x.spool", dir, 1);
    write_file(path, seg, len);
    snprintf(path, sizeof(path), "%s/%016x.spool", dir, 2);
    write_file(path, seg, len);

    sp = mdx_spool_open(&conf, &start, READ_BUF, &err);
    if (sp == NULL) {
        abort();
    }
    /* Unreleased: all of segment 1 and what recovery kept of segment 2. */
    kept = mdx_spool_pending_bytes(sp) - len;
    if (kept > len) {
        abort();
    }
    for (int k = 0; k < KNOWN; k++) {
        if (mdx_spool_append(sp, 1000 + k, known_topic[k], known_payload[k],
                             strlen(known_payload[k]), strlen(known_payload[k]), 0) != MDX_OK) {
            abort();
        }
    }
    for (;;) {
        /* Every step reads a record or moves past at least one byte. */
        if (++steps > (long)(4 * len + 64)) {
            abort();
        }
        rc = mdx_spool_read(sp, &rec, 0);
        if (rc == MDX_EAGAIN) {
            break;
        }
        if (rc == MDX_EFULL) {
            mdx_spool_read_reset(sp);
            continue;
        }
        if (rc == MDX_ECORRUPT) {
            if (known > 0) {
                abort(); /* corruption after the records appended behind a recovered tail */
            }
            mdx_spool_resync(sp);
            continue;
        }
        if (rc != MDX_OK) {
            abort();
        }
        if (rec.end.segment == 1 || (rec.end.segment == 2 && rec.end.offset <= kept)) {
            check_from_input(&rec, seg, len);
        } else if (rec.end.segment == 2 && known < KNOWN) {
            check_known(&rec, known++);
        } else {
            abort();
        }
    }
    if (known != KNOWN) {
        abort();
    }
    mdx_spool_close(sp);
    rm_dir(dir);
    free(seg);
    return 0;
}
