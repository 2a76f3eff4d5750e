/* SPDX-License-Identifier: Apache-2.0 */
/*
 * archive.h - the archiver: moves old raw points to object storage and
 * expires old objects, per tenant.
 *
 * A pass, for each tenant: finish the records an earlier pass left
 * (pending or verified), then archive each (device, UTC day) partition
 * whose day ended more than archive_after_days ago, then delete objects
 * whose day ended more than expire_after_days ago. One partition becomes
 * one object, gzip-compressed CSV (header "sensor,ts_ms,value,ts_substituted",
 * rows sorted by sensor then time; tenant, device and date are in the key):
 *
 *   tenant=T/device=D/date=YYYY-MM-DD/points-SEQ.csv.gz
 *
 * The bytes are deterministic (fixed gzip level, header mtime 0), so a
 * retried object is the same object. Per object: record it as pending
 * (size, SHA-256, points), upload, read back and compare size and SHA-256,
 * record it as verified, delete the day's raw points, record it as done.
 * No raw point is deleted before its object is verified. An object found
 * at a key with other content is never overwritten (the next SEQ is used)
 * unless it is this archiver's own unfinished object whose points are all
 * still in the store. Works with any store back end through store.h only.
 */
#ifndef MODAX_ARCHIVE_H
#define MODAX_ARCHIVE_H

#include <stdint.h>

#include "modax/conf.h"
#include "modax/objstore.h"
#include "modax/store.h"

struct mdx_archive_conf {
    int64_t after_days;       /* default archive age of raw points (days) */
    int64_t expire_days;      /* default age at which objects are deleted (days) */
    int64_t interval_s;       /* serve's archiver: time between passes */
    int64_t max_object_mb;    /* largest object (one device-day) built in memory */
    int64_t lease_s;          /* the pass's lease on the store lapses this long after its
                                 holder stops renewing it (a killed archiver) */
    const char *tier;         /* not a key: the caller sets it to archive.store.archive_tier
                                 (borrowed; NULL or "" for the store's default tier) */
};

/* Config keys "archive.*" (the object store's are in objstore.h). */
extern const struct mdx_conf_key mdx_archive_conf_keys[];

/* What a pass did. */
struct mdx_archive_stats {
    int64_t partitions;       /* partitions (device, day) found to archive */
    int64_t objects;          /* objects written and verified (or found there already) */
    int64_t points;           /* points in those objects */
    int64_t bytes;            /* bytes of those objects */
    int64_t deleted;          /* raw points deleted */
    int64_t resumed;          /* records of an earlier pass finished */
    int64_t expired;          /* objects deleted for age */
    int64_t skipped;          /* partitions left for a later pass */
};

/* Progress of a pass, after each partition. */
struct mdx_archive_progress {
    const char *tenant;
    const char *device;
    int64_t day_ms;
    int64_t done;             /* partitions handled so far */
    int64_t total;            /* partitions of the pass */
    int64_t bytes;            /* object bytes so far */
};

typedef void (*mdx_archive_progress_fn)(void *arg, const struct mdx_archive_progress *p);

/* Steps of one object, for the test hook. */
enum mdx_archive_step {
    MDX_ARCHIVE_STEP_RECORDED = 0, /* pending record written */
    MDX_ARCHIVE_STEP_UPLOADED,     /* object put */
    MDX_ARCHIVE_STEP_VERIFIED,     /* verified record written */
    MDX_ARCHIVE_STEP_DELETED       /* raw points deleted, done record not yet written */
};

typedef int (*mdx_archive_hook_fn)(void *arg, enum mdx_archive_step step,
                                   const struct mdx_archive_obj *obj);

struct mdx_archiver;

/*
 * An archiver over 'st' and 'os', both borrowed: they must outlive it and
 * are used by one thread at a time (the caller's). NULL if out of memory.
 */
struct mdx_archiver *mdx_archiver_create(const struct mdx_archive_conf *conf,
                                         struct mdx_store *st, struct mdx_objstore *os);
void mdx_archiver_destroy(struct mdx_archiver *ar);

/* Calls fn after each partition of a pass (for a progress bar). */
void mdx_archiver_on_progress(struct mdx_archiver *ar, mdx_archive_progress_fn fn, void *arg);

/*
 * Test hook: called after each step of each object; a status other than
 * MDX_OK ends the pass at once and is returned, as if the process had
 * been killed there.
 */
void mdx_archiver_set_hook(struct mdx_archiver *ar, mdx_archive_hook_fn fn, void *arg);

/*
 * Runs one pass over 'tenant' (NULL: every tenant) as of 'now_ms'. With
 * 'dry_run' nothing is written anywhere; *stats says what would be done.
 * Only one pass runs at a time on one database: a pass (not a dry run)
 * first takes the store's lease "archiver" (store_lease.h), renews it
 * after every object and gives it up at the end. While another archiver
 * holds it the pass does nothing and returns MDX_EEXIST; when that archiver
 * dies its lease lapses after archive.lease_s and the next pass takes over.
 * Returns MDX_OK; MDX_EEXIST (lease held elsewhere; see above); MDX_EAGAIN when the object store or the store was
 * unavailable (the rest waits for the next pass; nothing unverified was
 * deleted); MDX_EDENIED (credentials, permissions, clock skew: see the
 * error log), MDX_EFULL (the object store's disk is full), MDX_ESTOPPED
 * after mdx_archiver_stop(), MDX_ENOTFOUND for an unknown tenant, or
 * another failure. *stats (may be NULL) counts what was done in any case.
 */
int mdx_archiver_run(struct mdx_archiver *ar, const char *tenant, int dry_run, int64_t now_ms,
                     struct mdx_archive_stats *stats);

/* Asks a running pass to end after the object it is on. Any thread; async-signal-safe. */
void mdx_archiver_stop(struct mdx_archiver *ar);

/* The object key of a partition into buf: "tenant=T/device=D/date=YYYY-MM-DD/points-SEQ.csv.gz". */
int mdx_archive_key(char *buf, size_t len, const char *tenant, const char *device, int64_t day_ms,
                    int64_t seq);

#endif
