/* SPDX-License-Identifier: Apache-2.0 */
/*
 * archive.c - the archiver: raw points of old days to gzip CSV objects,
 * verified before the points are deleted; old objects expired.
 *
 * See archive.h for the format and the order of steps. Resuming rests on
 * three facts: the bytes of a partition are a function of its points
 * (fixed gzip level, gzip mtime 0, fixed row order and number format); a
 * day's raw points only grow until the archiver deletes them, all at once
 * in one store transaction; and every object is recorded before it is
 * uploaded. So a pending record is finished with the same key; a
 * verified record whose day still holds exactly the object's points only
 * needs the delete; one whose day is empty was deleted already; and an
 * object whose rows are all still in the store may be replaced by a
 * superset built from the same day, losing and duplicating nothing.
 *
 * The object store reports, the archiver decides: MDX_EAGAIN (timeout,
 * 5xx, unreachable) ends the pass with a warning and the next pass
 * retries; MDX_EDENIED and MDX_EFULL end it with an error naming the
 * cause (the store's last_error says "clock skew" when that is it).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "base/encode.h"
#include "modax/alloc.h"
#include "modax/archive.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "archive"
#define DAY MDX_DAY_MS
#define CSV_HEADER "sensor,ts_ms,value,ts_substituted\n"
/*
 * Part of the format: changing any of these changes every object's bytes.
 * Level 9 with a shorter match chain (deflateTune): on sorted sensor CSV
 * it compresses within 2 % of plain level 9 at six times the speed
 * (measured: 3.64 against 3.60 bytes per point, 1.3 M against 0.22 M points/s).
 */
#define GZIP_LEVEL 9
#define GZIP_TUNE 32, 128, 258, 128 /* good_length, max_lazy, nice_length, max_chain */
#define LINE_BUF (64 * 1024)  /* CSV text handed to deflate at a time */
#define SEQ_MAX 1000          /* objects per (device, day) */

const struct mdx_conf_key mdx_archive_conf_keys[] = {
    MDX_CONF_INT("archive.after_days", "90", 1, 36500, struct mdx_archive_conf, after_days,
                 "Raw points of days older than this move to the object store (per-tenant "
                 "override: modax tenant retention)"),
    MDX_CONF_INT("archive.expire_days", "365", 1, 36500, struct mdx_archive_conf, expire_days,
                 "Archive objects of days older than this are deleted (per-tenant override)"),
    MDX_CONF_INT("archive.interval_s", "3600", 10, 604800, struct mdx_archive_conf, interval_s,
                 "serve --roles archiver: seconds between passes"),
    MDX_CONF_INT("archive.max_object_mb", "256", 1, 4096, struct mdx_archive_conf, max_object_mb,
                 "Largest object (the points of one device and day, compressed) in MiB"),
    MDX_CONF_INT("archive.lease_s", "120", 1, 86400, struct mdx_archive_conf, lease_s,
                 "One archiver at a time per database: a killed archiver's lease lapses after "
                 "this long and another replica takes over"),
    MDX_CONF_END};

struct mdx_archiver {
    struct mdx_archive_conf conf;
    struct mdx_store *st;
    struct mdx_objstore *os;
    atomic_int stop;
    mdx_archive_progress_fn progress;
    void *progress_arg;
    mdx_archive_hook_fn hook;
    void *hook_arg;
    struct mdx_archive_stats stats;
    struct mdx_archive_progress prog;
    const char *tier;
    char holder[MDX_LEASE_HOLDER_MAX + 1]; /* "host:pid:n", this archiver's lease holder name */
    int64_t lease_renewed_ms; /* wall clock of the last take or renewal; 0: not held */
};

/* The bytes of one partition's object. */
struct blob {
    uint8_t *data;            /* gzip; owned */
    size_t len, cap, max;
    int64_t points;
    char sha256[65];
    z_stream z;
    int z_ready;
    char *text;               /* CSV waiting for deflate; LINE_BUF bytes */
    size_t text_len;
    int rc;                   /* first failure of the export callback */
};

/* A partition, or a record's day, in a tenant's work list. */
struct part {
    char device[MDX_NAME_MAX + 1];
    int64_t day_ms;
};

struct parts {
    struct part *v;
    size_t n, cap;
};

static int64_t floor_day(int64_t ms)
{
    int64_t r = ms % DAY;

    return ms - (r < 0 ? r + DAY : r);
}

int mdx_archive_key(char *buf, size_t len, const char *tenant, const char *device, int64_t day_ms,
                    int64_t seq)
{
    char iso[32];
    int n;

    mdx_format_iso_ms(day_ms, iso, sizeof(iso));
    n = snprintf(buf, len, "tenant=%s/device=%s/date=%.10s/points-%lld.csv.gz", tenant, device,
                 iso, (long long)seq);
    return n > 0 && (size_t)n < len ? MDX_OK : MDX_EINVAL;
}

struct mdx_archiver *mdx_archiver_create(const struct mdx_archive_conf *conf,
                                         struct mdx_store *st, struct mdx_objstore *os)
{
    static atomic_long created;
    struct mdx_archiver *ar = mdx_calloc(1, sizeof(*ar));
    char host[64];

    if (ar == NULL) {
        return NULL;
    }
    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "unknown");
    }
    host[sizeof(host) - 1] = '\0';
    snprintf(ar->holder, sizeof(ar->holder), "%s:%ld:%ld", host, (long)getpid(),
             atomic_fetch_add(&created, 1) + 1);
    ar->conf = *conf;
    ar->st = st;
    ar->os = os;
    ar->tier = conf->tier;
    atomic_init(&ar->stop, 0);
    return ar;
}

void mdx_archiver_destroy(struct mdx_archiver *ar)
{
    mdx_free(ar);
}

void mdx_archiver_on_progress(struct mdx_archiver *ar, mdx_archive_progress_fn fn, void *arg)
{
    ar->progress = fn;
    ar->progress_arg = arg;
}

void mdx_archiver_set_hook(struct mdx_archiver *ar, mdx_archive_hook_fn fn, void *arg)
{
    ar->hook = fn;
    ar->hook_arg = arg;
}

void mdx_archiver_stop(struct mdx_archiver *ar)
{
    atomic_store(&ar->stop, 1);
}

static int hook(struct mdx_archiver *ar, enum mdx_archive_step step,
                const struct mdx_archive_obj *obj)
{
    return ar->hook != NULL ? ar->hook(ar->hook_arg, step, obj) : MDX_OK;
}

/* ---- building an object ---- */

static void blob_fini(struct blob *b)
{
    if (b->z_ready) {
        deflateEnd(&b->z);
        b->z_ready = 0;
    }
    MDX_FREE(b->data);
    MDX_FREE(b->text);
    b->len = b->cap = 0;
}

static int blob_init(struct blob *b, size_t max)
{
    static gz_header hdr; /* all zero: no name, mtime 0; os set below */

    memset(b, 0, sizeof(*b));
    b->max = max;
    b->text = mdx_malloc(LINE_BUF);
    if (b->text == NULL) {
        return MDX_ENOMEM;
    }
    if (deflateInit2(&b->z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        return MDX_ENOMEM;
    }
    b->z_ready = 1;
    deflateTune(&b->z, GZIP_TUNE);
    hdr.os = 3; /* Unix, whatever zlib was built for: the bytes must not depend on the host */
    deflateSetHeader(&b->z, &hdr);
    memcpy(b->text, CSV_HEADER, sizeof(CSV_HEADER) - 1);
    b->text_len = sizeof(CSV_HEADER) - 1;
    return MDX_OK;
}

/* Deflates the pending text; 'flush' is Z_NO_FLUSH or Z_FINISH. */
static int blob_deflate(struct blob *b, int flush)
{
    int zrc;

    b->z.next_in = (Bytef *)b->text;
    b->z.avail_in = (uInt)b->text_len;
    do {
        if (b->cap - b->len < 16384) {
            uint8_t *d;
            if (b->len > b->max) {
                return MDX_ERANGE;
            }
            d = mdx_grow(b->data, &b->cap, b->cap + 1, 1, 65536);
            if (d == NULL) {
                return MDX_ENOMEM;
            }
            b->data = d;
        }
        b->z.next_out = b->data + b->len;
        b->z.avail_out = (uInt)(b->cap - b->len);
        zrc = deflate(&b->z, flush);
        b->len = b->cap - b->z.avail_out;
        if (zrc == Z_STREAM_ERROR) {
            return MDX_EIO;
        }
    } while (b->z.avail_in > 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
    b->text_len = 0;
    return b->len > b->max ? MDX_ERANGE : MDX_OK;
}

/* Shortest text that reads back as the same double (finite values only are stored). */
static int format_value(char *buf, size_t len, double v)
{
    int n = snprintf(buf, len, "%.15g", v);

    if (strtod(buf, NULL) != v) {
        n = snprintf(buf, len, "%.17g", v);
    }
    return n;
}

static int blob_point(void *arg, const char *sensor, int64_t ts_ms, double value, unsigned flags)
{
    struct blob *b = arg;
    char val[40];
    int n;

    if (LINE_BUF - b->text_len < MDX_NAME_MAX + 64) {
        int rc = blob_deflate(b, Z_NO_FLUSH);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    format_value(val, sizeof(val), value);
    n = snprintf(b->text + b->text_len, LINE_BUF - b->text_len, "%s,%lld,%s,%d\n", sensor,
                 (long long)ts_ms, val, (flags & MDX_POINT_TS_SUBSTITUTED) ? 1 : 0);
    if (n < 0 || (size_t)n >= LINE_BUF - b->text_len) {
        return MDX_EINVAL;
    }
    b->text_len += (size_t)n;
    b->points++;
    return MDX_OK;
}

/* Builds the object of (tenant, device, day) into b (initialised here; blob_fini frees it). */
static int build(struct mdx_archiver *ar, const char *tenant, const char *device, int64_t day_ms,
                 struct blob *b)
{
    int rc = blob_init(b, (size_t)ar->conf.max_object_mb * 1024 * 1024);

    if (rc == MDX_OK) {
        rc = mdx_store_export_points(ar->st, tenant, device, day_ms, day_ms + DAY, blob_point, b);
    }
    if (rc == MDX_OK) {
        rc = blob_deflate(b, Z_FINISH);
    }
    if (rc == MDX_OK) {
        mdx_sha256_hex(b->data, b->len, b->sha256);
    }
    if (b->z_ready) {
        deflateEnd(&b->z);
        b->z_ready = 0;
    }
    MDX_FREE(b->text);
    return rc;
}

static int count_point(void *arg, const char *sensor, int64_t ts_ms, double value, unsigned flags)
{
    (void)sensor;
    (void)ts_ms;
    (void)value;
    (void)flags;
    (*(int64_t *)arg)++;
    return MDX_OK;
}

static int count_day(struct mdx_archiver *ar, const char *tenant, const char *device,
                     int64_t day_ms, int64_t *n)
{
    *n = 0;
    return mdx_store_export_points(ar->st, tenant, device, day_ms, day_ms + DAY, count_point, n);
}

/* ---- comparing objects ---- */

/* Inflates a gzip buffer into a new NUL-terminated buffer of at most 'max' bytes. */
static int gunzip(const uint8_t *in, size_t in_len, size_t max, char **out, size_t *out_len)
{
    z_stream z;
    size_t cap = 0, len = 0; /* cap: bytes of 'buf', one kept for the NUL */
    char *buf = mdx_grow(NULL, &cap, 1, 1, 65536 + 1);
    int zrc = Z_OK;

    *out = NULL;
    if (buf == NULL) {
        return MDX_ENOMEM;
    }
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        mdx_free(buf);
        return MDX_ENOMEM;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)in_len;
    while (zrc != Z_STREAM_END) {
        if (len == cap - 1) {
            char *nb;
            if (len >= max) {
                break;
            }
            nb = mdx_grow(buf, &cap, cap + 1, 1, 0);
            if (nb == NULL) {
                break;
            }
            buf = nb;
        }
        z.next_out = (Bytef *)buf + len;
        z.avail_out = (uInt)(cap - 1 - len);
        zrc = inflate(&z, Z_NO_FLUSH);
        len = cap - 1 - z.avail_out;
        if (zrc != Z_OK && zrc != Z_STREAM_END) {
            break;
        }
    }
    inflateEnd(&z);
    if (zrc != Z_STREAM_END) {
        mdx_free(buf);
        return MDX_ECORRUPT;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return MDX_OK;
}

/* Orders CSV rows as the export does: sensor, then ts_ms as a number. */
static int row_cmp(const char *a, const char *b)
{
    const char *ca = strchr(a, ','), *cb = strchr(b, ',');
    size_t la, lb;
    int c;
    long long ta, tb;

    if (ca == NULL || cb == NULL) {
        return strcmp(a, b);
    }
    la = (size_t)(ca - a);
    lb = (size_t)(cb - b);
    c = memcmp(a, b, la < lb ? la : lb);
    if (c != 0 || la != lb) {
        return c != 0 ? c : (la < lb ? -1 : 1);
    }
    ta = strtoll(ca + 1, NULL, 10);
    tb = strtoll(cb + 1, NULL, 10);
    return ta < tb ? -1 : ta > tb;
}

static char *next_row(char **p)
{
    char *row = *p, *nl;

    if (row == NULL || *row == '\0') {
        return NULL;
    }
    nl = strchr(row, '\n');
    if (nl != NULL) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = row + strlen(row);
    }
    return row;
}

/*
 * 1 if every row of object 'old' is a row of 'fresh' (both gzip CSV in
 * export order), i.e. 'old' is an earlier build of the same day whose
 * points are all still stored; 0 if not or if 'old' is not ours at all.
 */
static int is_subset(const uint8_t *old, size_t old_len, const struct blob *fresh, size_t max)
{
    char *a = NULL, *b = NULL, *pa, *pb, *ra, *rb;
    size_t la, lb;
    int ok = 0;

    if (gunzip(old, old_len, max * 16, &a, &la) != MDX_OK ||
        gunzip(fresh->data, fresh->len, max * 16, &b, &lb) != MDX_OK) {
        goto out;
    }
    pa = a;
    pb = b;
    ra = next_row(&pa);
    rb = next_row(&pb);
    if (ra == NULL || rb == NULL || strcmp(ra, rb) != 0) {
        goto out; /* not our header */
    }
    ok = 1;
    while ((ra = next_row(&pa)) != NULL) {
        int c = 1;
        while (c > 0 && (rb = next_row(&pb)) != NULL) {
            c = row_cmp(ra, rb);
        }
        if (rb == NULL || c != 0 || strcmp(ra, rb) != 0) {
            ok = 0;
            break;
        }
    }

out:
    mdx_free(a);
    mdx_free(b);
    return ok;
}

/* ---- store and object store steps ---- */

static int os_fail(struct mdx_archiver *ar, const char *what, const struct mdx_archive_obj *o,
                   int rc)
{
    const char *why = ar->os->ops->last_error(ar->os->impl);

    if (rc == MDX_EAGAIN || rc == MDX_ECONN || rc == MDX_EBUSY) {
        mdx_log_warn(MOD, "object store unavailable; the next pass retries", MDX_F_STR("op", what),
                     MDX_F_STR("tenant", o->tenant), MDX_F_STR("device", o->device),
                     MDX_F_STR("key", o->key), MDX_F_ERR(rc), MDX_F_STR("reason", why));
        return MDX_EAGAIN;
    }
    if (rc == MDX_EDENIED) {
        mdx_log_error(MOD, "object store refused the request; check archive.store credentials, "
                           "permissions and the clock",
                      MDX_F_STR("op", what), MDX_F_STR("tenant", o->tenant),
                      MDX_F_STR("key", o->key), MDX_F_STR("reason", why));
    } else if (rc == MDX_EFULL) {
        mdx_log_error(MOD, "object store is full; free space under archive.store.local_dir",
                      MDX_F_STR("op", what), MDX_F_STR("tenant", o->tenant),
                      MDX_F_STR("key", o->key), MDX_F_STR("reason", why));
    } else {
        mdx_log_error(MOD, "object store failed", MDX_F_STR("op", what),
                      MDX_F_STR("tenant", o->tenant), MDX_F_STR("key", o->key), MDX_F_ERR(rc),
                      MDX_F_STR("reason", why));
    }
    return rc;
}

static size_t max_bytes(const struct mdx_archiver *ar)
{
    return (size_t)ar->conf.max_object_mb * 1024 * 1024;
}

/*
 * What is at o->key compared with 'b': MDX_ENOTFOUND (nothing), MDX_OK
 * (the same bytes), MDX_EEXIST (other bytes; *subset says whether all of
 * its rows are in 'b'), or a failure.
 */
static int compare_at(struct mdx_archiver *ar, const struct mdx_archive_obj *o,
                      const struct blob *b, int *subset)
{
    struct mdx_obj_info info = {0, 0, ""};
    void *data = NULL;
    size_t len = 0;
    char sha[65];
    int rc;

    *subset = 0;
    rc = ar->os->ops->head(ar->os->impl, o->key, &info);
    if (rc == MDX_ENOTFOUND) {
        return rc;
    }
    if (rc != MDX_OK) {
        return os_fail(ar, "head", o, rc);
    }
    if (info.sha256[0] != '\0' && info.size == (int64_t)b->len &&
        strcmp(info.sha256, b->sha256) == 0) {
        return MDX_OK; /* the same bytes, told by the digest kept with them: no read needed */
    }
    rc = ar->os->ops->get(ar->os->impl, o->key, &data, &len, max_bytes(ar));
    if (rc == MDX_ENOTFOUND) {
        return rc;
    }
    if (rc == MDX_ERANGE || rc == MDX_EBUSY) {
        /* larger than anything we write, or in a cold tier: other bytes, never overwritten */
        return MDX_EEXIST;
    }
    if (rc != MDX_OK) {
        return os_fail(ar, "get", o, rc);
    }
    mdx_sha256_hex(data, len, sha);
    if (len == b->len && strcmp(sha, b->sha256) == 0) {
        rc = MDX_OK;
    } else {
        *subset = is_subset(data, len, b, max_bytes(ar));
        rc = MDX_EEXIST;
    }
    mdx_free(data);
    return rc;
}

static int record(struct mdx_archiver *ar, struct mdx_archive_obj *o, int state)
{
    int rc;

    o->state = state;
    rc = mdx_store_archive_obj_put(ar->st, o);
    if (rc != MDX_OK) {
        mdx_log_error(MOD, "cannot record the archive object in the store",
                      MDX_F_STR("tenant", o->tenant), MDX_F_STR("key", o->key), MDX_F_ERR(rc));
    }
    return rc;
}

/*
 * Checks the object at o->key against the record's size and SHA-256. Where
 * the store keeps the digest with the object (S3, Azure: the server checked
 * the bytes on arrival), a HEAD tells, in every tier, cold ones included;
 * otherwise the object is read back.
 */
static int verify(struct mdx_archiver *ar, const struct mdx_archive_obj *o)
{
    struct mdx_obj_info info = {0, 0, ""};
    void *data = NULL;
    size_t len = 0;
    char sha[65];
    int rc;

    rc = ar->os->ops->head(ar->os->impl, o->key, &info);
    if (rc != MDX_OK) {
        return rc == MDX_ENOTFOUND ? MDX_ECORRUPT : os_fail(ar, "head", o, rc);
    }
    if (info.sha256[0] != '\0') {
        if (info.size != o->size || strcmp(info.sha256, o->sha256) != 0) {
            mdx_log_error(MOD, "object found differs from what was written; kept the raw points",
                          MDX_F_STR("tenant", o->tenant), MDX_F_STR("key", o->key),
                          MDX_F_INT("size", info.size), MDX_F_INT("expected", o->size));
            return MDX_ECORRUPT;
        }
        return MDX_OK;
    }
    rc = ar->os->ops->get(ar->os->impl, o->key, &data, &len, max_bytes(ar));
    if (rc != MDX_OK) {
        return rc == MDX_ENOTFOUND ? MDX_ECORRUPT : os_fail(ar, "get", o, rc);
    }
    mdx_sha256_hex(data, len, sha);
    mdx_free(data);
    if ((int64_t)len != o->size || strcmp(sha, o->sha256) != 0) {
        mdx_log_error(MOD, "object read back differs from what was written; kept the raw points",
                      MDX_F_STR("tenant", o->tenant), MDX_F_STR("key", o->key),
                      MDX_F_INT("size", (int64_t)len), MDX_F_INT("expected", o->size));
        return MDX_ECORRUPT;
    }
    return MDX_OK;
}

static void fill(struct mdx_archive_obj *o, const struct blob *b)
{
    o->size = (int64_t)b->len;
    o->points = b->points;
    memcpy(o->sha256, b->sha256, sizeof(o->sha256));
}

static int deleted_and_done(struct mdx_archiver *ar, struct mdx_archive_obj *o);

/*
 * Writes 'b' as object 'o' (key chosen): pending record, put unless
 * 'present', verify, verified record, then the delete.
 */
static int upload(struct mdx_archiver *ar, struct mdx_archive_obj *o, const struct blob *b,
                  int present)
{
    int rc;

    fill(o, b);
    if (o->created_ms == 0) {
        o->created_ms = mdx_now_ms();
    }
    rc = record(ar, o, MDX_ARCHIVE_PENDING);
    if (rc == MDX_OK) {
        rc = hook(ar, MDX_ARCHIVE_STEP_RECORDED, o);
    }
    if (rc == MDX_OK && !present) {
        rc = ar->os->ops->put(ar->os->impl, o->key, b->data, b->len, ar->tier);
        if (rc != MDX_OK) {
            return os_fail(ar, "put", o, rc);
        }
        rc = hook(ar, MDX_ARCHIVE_STEP_UPLOADED, o);
    }
    if (rc == MDX_OK) {
        rc = verify(ar, o);
    }
    if (rc == MDX_OK) {
        rc = record(ar, o, MDX_ARCHIVE_VERIFIED);
    }
    if (rc == MDX_OK) {
        rc = hook(ar, MDX_ARCHIVE_STEP_VERIFIED, o);
    }
    if (rc != MDX_OK) {
        return rc;
    }
    ar->stats.objects++;
    ar->stats.points += o->points;
    ar->stats.bytes += o->size;
    return deleted_and_done(ar, o);
}

/*
 * Rebuilds the day of verified record 'o' and settles it: the same
 * points -> delete; none -> deleted already; more (late points while the
 * object was written, all of its rows still stored) -> the object is
 * rebuilt at the same key; otherwise (the day was deleted, then late
 * points came) -> done, and the late points get the next object.
 */
static int settle_verified(struct mdx_archiver *ar, struct mdx_archive_obj *o)
{
    struct blob b;
    int rc, subset = 0;
    int64_t deleted = 0;

    rc = build(ar, o->tenant, o->device, o->day_ms, &b);
    if (rc != MDX_OK) {
        blob_fini(&b);
        return rc;
    }
    if (b.points > 0 && strcmp(b.sha256, o->sha256) == 0) {
        rc = mdx_store_delete_points(ar->st, o->tenant, o->device, o->day_ms, o->day_ms + DAY,
                                     o->points, &deleted);
        if (rc == MDX_OK) {
            ar->stats.deleted += deleted;
            rc = hook(ar, MDX_ARCHIVE_STEP_DELETED, o);
        }
        if (rc == MDX_OK) {
            rc = record(ar, o, MDX_ARCHIVE_DONE);
        }
    } else if (b.points == 0) {
        rc = record(ar, o, MDX_ARCHIVE_DONE);
    } else {
        rc = compare_at(ar, o, &b, &subset);
        if (rc == MDX_EEXIST && subset) {
            mdx_log_info(MOD, "late points for a day being archived; rewriting its object",
                         MDX_F_STR("tenant", o->tenant), MDX_F_STR("device", o->device),
                         MDX_F_STR("key", o->key));
            rc = upload(ar, o, &b, 0);
        } else if (rc == MDX_OK) {
            rc = upload(ar, o, &b, 1);
        } else if (rc == MDX_EEXIST || rc == MDX_ENOTFOUND) {
            rc = record(ar, o, MDX_ARCHIVE_DONE);
        }
    }
    blob_fini(&b);
    return rc;
}

/* After verification: delete the day's raw points if they are exactly the object's, mark done. */
static int deleted_and_done(struct mdx_archiver *ar, struct mdx_archive_obj *o)
{
    int64_t n = 0, deleted = 0;
    int rc;

    /* The points of a day only grow until we delete them: the same count is the same points. */
    rc = count_day(ar, o->tenant, o->device, o->day_ms, &n);
    if (rc != MDX_OK) {
        return rc;
    }
    if (n != o->points) {
        return settle_verified(ar, o);
    }
    rc = mdx_store_delete_points(ar->st, o->tenant, o->device, o->day_ms, o->day_ms + DAY,
                                 o->points, &deleted);
    if (rc == MDX_EAGAIN) {
        /* Points arrived for this day since it was exported: the next pass archives them too. */
        mdx_log_info(MOD, "late points for an archived day; its raw rows stay until next pass",
                     MDX_F_STR("tenant", o->tenant), MDX_F_STR("device", o->device),
                     MDX_F_STR("key", o->key));
        return MDX_OK;
    }
    if (rc != MDX_OK) {
        mdx_log_error(MOD, "cannot delete archived raw points; the next pass retries",
                      MDX_F_STR("tenant", o->tenant), MDX_F_STR("device", o->device),
                      MDX_F_ERR(rc));
        return rc;
    }
    ar->stats.deleted += deleted;
    rc = hook(ar, MDX_ARCHIVE_STEP_DELETED, o);
    if (rc == MDX_OK) {
        rc = record(ar, o, MDX_ARCHIVE_DONE);
    }
    return rc;
}

/* Finishes a pending record: same key, unless another object holds it. */
static int settle_pending(struct mdx_archiver *ar, struct mdx_archive_obj *o)
{
    struct blob b;
    int rc, subset = 0;

    rc = build(ar, o->tenant, o->device, o->day_ms, &b);
    if (rc != MDX_OK) {
        blob_fini(&b);
        return rc;
    }
    if (b.points == 0) {
        mdx_log_warn(MOD, "pending archive object whose day has no raw points; record dropped",
                     MDX_F_STR("tenant", o->tenant), MDX_F_STR("key", o->key));
        rc = mdx_store_archive_obj_delete(ar->st, o->key);
        blob_fini(&b);
        return rc;
    }
    rc = compare_at(ar, o, &b, &subset);
    if (rc == MDX_ENOTFOUND || rc == MDX_OK || (rc == MDX_EEXIST && subset)) {
        rc = upload(ar, o, &b, rc == MDX_OK);
    } else if (rc == MDX_EEXIST) {
        /* Someone else's object: keep it; the partition gets the next free key. */
        mdx_log_warn(MOD, "another object holds the key of a pending record; using the next one",
                     MDX_F_STR("tenant", o->tenant), MDX_F_STR("key", o->key));
        rc = mdx_store_archive_obj_delete(ar->st, o->key);
    }
    blob_fini(&b);
    return rc;
}

/* Archives one partition with the first key that is free (or holds these very bytes). */
static int archive_part(struct mdx_archiver *ar, const char *tenant, const struct part *p,
                        int dry_run)
{
    struct mdx_archive_obj o;
    struct blob b;
    int rc = MDX_OK, subset;

    if (dry_run) {
        int64_t n = 0;
        rc = count_day(ar, tenant, p->device, p->day_ms, &n);
        ar->stats.points += n;
        ar->stats.objects += n > 0;
        return rc;
    }
    rc = build(ar, tenant, p->device, p->day_ms, &b);
    if (rc != MDX_OK || b.points == 0) {
        blob_fini(&b);
        return rc;
    }
    memset(&o, 0, sizeof(o));
    snprintf(o.tenant, sizeof(o.tenant), "%s", tenant);
    snprintf(o.device, sizeof(o.device), "%s", p->device);
    o.day_ms = p->day_ms;
    for (o.seq = 1; o.seq <= SEQ_MAX; o.seq++) {
        rc = mdx_archive_key(o.key, sizeof(o.key), tenant, p->device, p->day_ms, o.seq);
        if (rc == MDX_OK) {
            rc = compare_at(ar, &o, &b, &subset);
        }
        if (rc != MDX_EEXIST) {
            break; /* free, ours already, or a failure */
        }
    }
    if (rc == MDX_ENOTFOUND || rc == MDX_OK) {
        rc = upload(ar, &o, &b, rc == MDX_OK);
    } else if (rc == MDX_EEXIST) {
        rc = MDX_EFULL;
    }
    blob_fini(&b);
    return rc;
}

/* ---- a pass ---- */

#define LEASE_NAME "archiver"

/* Takes the lease, or renews it once a third of its time has passed: MDX_OK while
 * this archiver holds it, MDX_EEXIST (logged) when another one does, or the store's error. */
static int lease_keep(struct mdx_archiver *ar)
{
    int64_t now = mdx_now_ms(), ttl = ar->conf.lease_s * 1000;
    struct mdx_lease other;
    char until[32];
    int rc;

    if (ar->lease_renewed_ms != 0 && now - ar->lease_renewed_ms < ttl / 3) {
        return MDX_OK;
    }
    rc = mdx_store_lease_take(ar->st, LEASE_NAME, ar->holder, now, ttl, &other);
    if (rc == MDX_OK) {
        if (ar->lease_renewed_ms == 0) {
            mdx_log_info(MOD, "archiver lease taken", MDX_F_STR("holder", ar->holder),
                         MDX_F_INT("lease_s", ar->conf.lease_s));
        }
        ar->lease_renewed_ms = now;
    } else if (rc == MDX_EEXIST) {
        mdx_format_iso_ms(other.expires_ms, until, sizeof(until));
        mdx_log_info(MOD, ar->lease_renewed_ms != 0
                              ? "archiver lease lost to another archiver; pass ends"
                              : "another archiver holds the lease; waiting",
                     MDX_F_STR("holder", other.holder), MDX_F_STR("until", until));
        ar->lease_renewed_ms = 0;
    }
    return rc;
}

static void lease_give_up(struct mdx_archiver *ar)
{
    if (ar->lease_renewed_ms != 0) {
        (void)mdx_store_lease_release(ar->st, LEASE_NAME, ar->holder);
        ar->lease_renewed_ms = 0;
    }
}

static int parts_add(struct parts *ps, const char *device, int64_t day_ms)
{
    struct part *v = mdx_grow(ps->v, &ps->cap, ps->n + 1, sizeof(*v), 64);
    if (v == NULL) {
        return MDX_ENOMEM;
    }
    ps->v = v;
    snprintf(ps->v[ps->n].device, sizeof(ps->v[ps->n].device), "%s", device);
    ps->v[ps->n].day_ms = day_ms;
    ps->n++;
    return MDX_OK;
}

static int parts_has(const struct parts *ps, const char *device, int64_t day_ms)
{
    for (size_t i = 0; i < ps->n; i++) {
        if (ps->v[i].day_ms == day_ms && strcmp(ps->v[i].device, device) == 0) {
            return 1;
        }
    }
    return 0;
}

static int on_part(void *arg, const char *tenant, const char *device, int64_t day_ms)
{
    (void)tenant;
    return parts_add(arg, device, day_ms);
}

struct objs {
    struct mdx_archive_obj *v;
    size_t n, cap;
};

static int on_obj(void *arg, const struct mdx_archive_obj *o)
{
    struct objs *os = arg;

    struct mdx_archive_obj *v = mdx_grow(os->v, &os->cap, os->n + 1, sizeof(*v), 16);
    if (v == NULL) {
        return MDX_ENOMEM;
    }
    os->v = v;
    os->v[os->n++] = *o;
    return MDX_OK;
}

/* Failures that end the whole pass (the store or the object store is unusable now). */
static int ends_pass(int rc)
{
    return rc != MDX_OK && rc != MDX_ECORRUPT && rc != MDX_ERANGE;
}

static void skip_log(const char *tenant, const char *device, int64_t day_ms, int rc)
{
    char iso[32];

    mdx_format_iso_ms(day_ms, iso, sizeof(iso));
    iso[10] = '\0';
    if (rc == MDX_ERANGE) {
        mdx_log_error(MOD, "a device-day is larger than archive.max_object_mb; raise it",
                      MDX_F_STR("tenant", tenant), MDX_F_STR("device", device),
                      MDX_F_STR("date", iso));
    } else {
        mdx_log_warn(MOD, "partition left for the next pass", MDX_F_STR("tenant", tenant),
                     MDX_F_STR("device", device), MDX_F_STR("date", iso), MDX_F_ERR(rc));
    }
}

/* Records of an earlier pass left pending or verified: finish them first. */
static int resume(struct mdx_archiver *ar, const char *tenant, struct parts *blocked)
{
    struct objs os = {NULL, 0, 0};
    int rc;

    rc = mdx_store_archive_obj_list(ar->st, tenant, MDX_ARCHIVE_PENDING, 0, on_obj, &os);
    if (rc == MDX_OK) {
        rc = mdx_store_archive_obj_list(ar->st, tenant, MDX_ARCHIVE_VERIFIED, 0, on_obj, &os);
    }
    for (size_t i = 0; i < os.n && rc == MDX_OK; i++) {
        struct mdx_archive_obj *o = &os.v[i];

        if (atomic_load(&ar->stop)) {
            rc = MDX_ESTOPPED;
            break;
        }
        rc = lease_keep(ar);
        if (rc != MDX_OK) {
            break;
        }
        mdx_log_info(MOD, "finishing an object of an earlier pass", MDX_F_STR("tenant", tenant),
                     MDX_F_STR("key", o->key),
                     MDX_F_STR("state", o->state == MDX_ARCHIVE_PENDING ? "pending" : "verified"));
        rc = o->state == MDX_ARCHIVE_PENDING ? settle_pending(ar, o) : settle_verified(ar, o);
        if (rc == MDX_OK) {
            ar->stats.resumed++;
        } else if (!ends_pass(rc)) {
            skip_log(tenant, o->device, o->day_ms, rc);
            ar->stats.skipped++;
            rc = parts_add(blocked, o->device, o->day_ms);
        }
    }
    mdx_free(os.v);
    return rc;
}

static int expire(struct mdx_archiver *ar, const char *tenant, int64_t before_day_ms, int dry_run)
{
    struct objs os = {NULL, 0, 0};
    int rc;

    rc = mdx_store_archive_obj_list(ar->st, tenant, MDX_ARCHIVE_DONE, before_day_ms, on_obj, &os);
    for (size_t i = 0; i < os.n && rc == MDX_OK; i++) {
        if (atomic_load(&ar->stop)) {
            rc = MDX_ESTOPPED;
            break;
        }
        if (!dry_run) {
            rc = ar->os->ops->del(ar->os->impl, os.v[i].key);
            if (rc != MDX_OK) {
                rc = os_fail(ar, "delete", &os.v[i], rc);
                break;
            }
            rc = mdx_store_archive_obj_delete(ar->st, os.v[i].key);
        }
        if (rc == MDX_OK) {
            ar->stats.expired++;
        }
    }
    mdx_free(os.v);
    return rc;
}

static int run_tenant(struct mdx_archiver *ar, const char *tenant, const struct parts *ps,
                      int dry_run, int64_t now_ms)
{
    struct mdx_retention r;
    struct parts blocked = {NULL, 0, 0};
    int64_t expire_before;
    int rc;

    rc = mdx_store_retention_get(ar->st, tenant, &r);
    if (rc == MDX_ENOTFOUND) {
        r.archive_after_days = ar->conf.after_days;
        r.expire_after_days = ar->conf.expire_days;
        rc = MDX_OK;
    }
    if (rc == MDX_OK && !dry_run) {
        rc = resume(ar, tenant, &blocked);
    }
    for (size_t i = 0; i < ps->n && rc == MDX_OK; i++) {
        const struct part *p = &ps->v[i];

        if (atomic_load(&ar->stop)) {
            rc = MDX_ESTOPPED;
            break;
        }
        if (parts_has(&blocked, p->device, p->day_ms)) {
            continue;
        }
        if (!dry_run && (rc = lease_keep(ar)) != MDX_OK) {
            break;
        }
        rc = archive_part(ar, tenant, p, dry_run);
        if (rc != MDX_OK && !ends_pass(rc)) {
            skip_log(tenant, p->device, p->day_ms, rc);
            ar->stats.skipped++;
            rc = MDX_OK;
        }
        ar->prog.tenant = tenant;
        ar->prog.device = p->device;
        ar->prog.day_ms = p->day_ms;
        ar->prog.done++;
        ar->prog.bytes = ar->stats.bytes;
        if (ar->progress != NULL) {
            ar->progress(ar->progress_arg, &ar->prog);
        }
    }
    if (rc == MDX_OK && !dry_run) {
        rc = lease_keep(ar);
    }
    /* Days before 1970 would read as "any day" to the store: nothing is that old. */
    expire_before = floor_day(now_ms) - r.expire_after_days * DAY - DAY + 1;
    if (rc == MDX_OK && expire_before > 0) {
        rc = expire(ar, tenant, expire_before, dry_run);
    }
    mdx_free(blocked.v);
    return rc;
}

struct names {
    char (*v)[MDX_NAME_MAX + 1];
    size_t n, cap;
};

static int on_tenant(void *arg, const char *name)
{
    struct names *ns = arg;

    char(*v)[MDX_NAME_MAX + 1] = mdx_grow(ns->v, &ns->cap, ns->n + 1, sizeof(*v), 16);
    if (v == NULL) {
        return MDX_ENOMEM;
    }
    ns->v = v;
    snprintf(ns->v[ns->n++], MDX_NAME_MAX + 1, "%s", name);
    return MDX_OK;
}

int mdx_archiver_run(struct mdx_archiver *ar, const char *tenant, int dry_run, int64_t now_ms,
                     struct mdx_archive_stats *stats)
{
    struct names ns = {NULL, 0, 0};
    struct parts *ps = NULL;
    int rc;

    memset(&ar->stats, 0, sizeof(ar->stats));
    memset(&ar->prog, 0, sizeof(ar->prog));
    atomic_store(&ar->stop, 0);
    if (!dry_run) {
        rc = lease_keep(ar);
        if (rc != MDX_OK) {
            if (stats != NULL) {
                *stats = ar->stats;
            }
            return rc == MDX_ECONN || rc == MDX_EBUSY ? MDX_EAGAIN : rc;
        }
    }
    if (tenant != NULL) {
        rc = mdx_store_tenant_exists(ar->st, tenant);
        if (rc == MDX_OK) {
            rc = on_tenant(&ns, tenant);
        }
    } else {
        rc = mdx_store_tenant_list(ar->st, on_tenant, &ns);
    }
    if (rc == MDX_OK && ns.n > 0) {
        ps = mdx_calloc(ns.n, sizeof(*ps));
        rc = ps == NULL ? MDX_ENOMEM : MDX_OK;
    }
    /* Every tenant's partitions first, so that the progress has a total. */
    for (size_t i = 0; i < ns.n && rc == MDX_OK; i++) {
        struct mdx_retention r;
        int64_t after = ar->conf.after_days;

        if (mdx_store_retention_get(ar->st, ns.v[i], &r) == MDX_OK) {
            after = r.archive_after_days;
        }
        rc = mdx_store_archive_partitions(ar->st, ns.v[i], now_ms - after * DAY, on_part, &ps[i]);
        ar->prog.total += (int64_t)ps[i].n;
        ar->stats.partitions += (int64_t)ps[i].n;
    }
    for (size_t i = 0; i < ns.n && rc == MDX_OK; i++) {
        rc = run_tenant(ar, ns.v[i], &ps[i], dry_run, now_ms);
    }
    if (rc == MDX_ECONN || rc == MDX_EBUSY) {
        rc = MDX_EAGAIN;
    }
    lease_give_up(ar);
    for (size_t i = 0; ps != NULL && i < ns.n; i++) {
        mdx_free(ps[i].v);
    }
    mdx_free(ps);
    mdx_free(ns.v);
    if (stats != NULL) {
        *stats = ar->stats;
    }
    return rc;
}
