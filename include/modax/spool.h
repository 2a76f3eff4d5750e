/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool.h - append-only spool between the source callback and the store writer.
 *
 * The MQTT library acknowledges a message before handing it over, so the
 * source appends each message here before its callback returns: one
 * write(2) into a segment file, which survives a SIGKILL of the process.
 * The store writer reads records in order, writes them to the store in
 * batches together with the spool position they reached, and then
 * releases the spool up to that position. After a crash, reading resumes
 * at the position the store last committed, so every record is stored
 * once. Segments are files "NNNNNNNNNNNNNNNN.spool" in one directory.
 *
 * One thread appends, one thread reads; both may run at once.
 */
#ifndef MODAX_SPOOL_H
#define MODAX_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "modax/store.h" /* struct mdx_spool_pos */

struct mdx_spool;

struct mdx_spool_conf {
    const char *dir;          /* created if missing */
    uint64_t segment_bytes;   /* a new segment starts past this size */
    uint64_t max_bytes;       /* appends wait while this much is unreleased */
    int64_t fsync_ms;         /* fdatasync at most this often (0: every append, -1: never) */
};

/* The payload was larger than the source's limit; only its head is kept. */
#define MDX_SPOOL_TRUNCATED 0x01u

/* One record. Borrowed: valid until the next mdx_spool_read_reset(). */
struct mdx_spool_rec {
    int64_t recv_ms;
    const char *topic;        /* NUL-terminated */
    const uint8_t *payload;
    size_t len;               /* bytes at payload */
    size_t orig_len;          /* size of the payload as received */
    unsigned flags;           /* MDX_SPOOL_* */
    struct mdx_spool_pos end; /* position just after this record */
};

/*
 * Opens the spool at conf->dir. Reading starts at 'start' (the store's
 * checkpoint); older segments are deleted and a torn record at the tail
 * (power loss) is cut off. 'read_buf_bytes' bounds the records held
 * between two mdx_spool_read_reset() calls. NULL on failure (*err set).
 */
struct mdx_spool *mdx_spool_open(const struct mdx_spool_conf *conf,
                                 const struct mdx_spool_pos *start, size_t read_buf_bytes,
                                 int *err);
void mdx_spool_close(struct mdx_spool *sp);

/*
 * Appends one record; durable against a process crash when it returns
 * MDX_OK. Waits while the spool holds max_bytes unreleased, until space
 * frees up or mdx_spool_stop() is called (then MDX_ESTOPPED). MDX_EIO or
 * MDX_EFULL when the file system refuses (the caller retries).
 */
int mdx_spool_append(struct mdx_spool *sp, int64_t recv_ms, const char *topic,
                     const void *payload, size_t len, size_t orig_len, unsigned flags);

/*
 * Reads the next record into 'rec', waiting up to 'wait_ms' for one.
 * Returns MDX_OK, MDX_EAGAIN (none yet), MDX_EFULL (the read buffer is
 * full: write the records held, then mdx_spool_read_reset()), or MDX_EIO /
 * MDX_ECORRUPT.
 */
int mdx_spool_read(struct mdx_spool *sp, struct mdx_spool_rec *rec, int wait_ms);

/*
 * After MDX_ECORRUPT: moves the read position to the next valid record
 * (or the end of what was appended) and returns the bytes skipped.
 */
uint64_t mdx_spool_resync(struct mdx_spool *sp);

/* Makes the next read start at 'pos' (a record boundary returned earlier). */
void mdx_spool_seek(struct mdx_spool *sp, const struct mdx_spool_pos *pos);
/* Position of the next record to read. */
void mdx_spool_read_pos(struct mdx_spool *sp, struct mdx_spool_pos *pos);

/* Forgets the records read so far (their memory is reused). */
void mdx_spool_read_reset(struct mdx_spool *sp);

/* Everything before 'pos' is in the store: deletes whole segments before it and frees space. */
int mdx_spool_release(struct mdx_spool *sp, const struct mdx_spool_pos *pos);

/* Bytes appended but not yet released. */
uint64_t mdx_spool_pending_bytes(struct mdx_spool *sp);
/* Non-zero when the reader has read everything appended so far. */
int mdx_spool_read_all(struct mdx_spool *sp);
/* Wakes waiting appenders and readers; they return MDX_ESTOPPED / MDX_EAGAIN. */
void mdx_spool_stop(struct mdx_spool *sp);

#endif
