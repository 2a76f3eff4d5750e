/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spool.c - append-only spool between the MQTT callback and the store writer.
 *
 * Record layout (little endian as the host writes it; the spool never
 * leaves the machine):
 *   u32 magic, u32 body_len, u32 crc32(bytes 12..31 + body),
 *   u16 topic_len, u16 flags, i64 recv_ms, u64 orig_len,
 *   body = topic + NUL + payload.
 * A record is appended with one writev(2). The CRC finds a record torn by
 * power loss at the tail, which recovery cuts off. Knows nothing of MQTT
 * or SQL.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/spool.h"
#include "modax/status.h"

#define REC_MAGIC 0x314d444du /* "MDM1" */
#define REC_HEADER 32u
#define PATH_MAX_LEN 4096

struct mdx_spool {
    char dir[PATH_MAX_LEN];
    uint64_t segment_bytes;
    uint64_t max_bytes;
    int64_t fsync_ms;

    pthread_mutex_t lock;
    pthread_cond_t changed;       /* appended, released or stopped */
    int stopping;

    /* Appender side (guarded by lock for the fields the reader looks at). */
    int append_fd;
    struct mdx_spool_pos head;    /* where the next record goes */
    int64_t last_sync_us;
    uint64_t appended;            /* bytes appended since open, counting the backlog */
    uint64_t released;            /* bytes released since open */

    /* Reader side (reader thread only). */
    int read_fd;
    uint64_t read_fd_segment;
    struct mdx_spool_pos rpos;    /* next record to read */
    struct mdx_spool_pos relpos;  /* released up to here */
    uint8_t *buf;                 /* records handed out since the last reset */
    size_t buf_cap, buf_used;
};

static void segment_path(const struct mdx_spool *sp, uint64_t seg, char *out, size_t len)
{
    snprintf(out, len, "%s/%016" PRIx64 ".spool", sp->dir, seg);
}

static int errno_status(int e)
{
    return (e == ENOSPC || e == EDQUOT) ? MDX_EFULL : MDX_EIO;
}

/* mkdir -p; folders it makes are 0700: the spool holds every tenant's payloads. */
static int mkdir_p(const char *dir)
{
    char tmp[PATH_MAX_LEN];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(tmp)) {
        return MDX_EINVAL;
    }
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
                return MDX_EIO;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        return MDX_EIO;
    }
    return MDX_OK;
}

/* Lists segment numbers in ascending order into 'segs' (at most 'cap'); returns the count. */
static int list_segments(const char *dir, uint64_t *segs, int cap)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (d == NULL) {
        return -1;
    }
    while ((de = readdir(d)) != NULL && n < cap) {
        char *end;
        uint64_t seg;

        if (strlen(de->d_name) != 22 || strcmp(de->d_name + 16, ".spool") != 0) {
            continue;
        }
        errno = 0;
        seg = strtoull(de->d_name, &end, 16);
        if (errno == 0 && end == de->d_name + 16) {
            segs[n++] = seg;
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++) { /* few segments: insertion sort */
        uint64_t v = segs[i];
        int j = i - 1;
        while (j >= 0 && segs[j] > v) {
            segs[j + 1] = segs[j];
            j--;
        }
        segs[j + 1] = v;
    }
    return n;
}

static uint32_t record_crc(const uint8_t *hdr, const uint8_t *body, size_t body_len)
{
    uLong crc = crc32(0L, Z_NULL, 0);

    crc = crc32(crc, hdr + 12, REC_HEADER - 12);
    if (body_len > 0) {
        crc = crc32(crc, body, (uInt)body_len);
    }
    return (uint32_t)crc;
}

/*
 * Scans 'fd' from offset 0 and returns the offset after the last whole,
 * valid record. Reads with a bounded buffer.
 */
static int64_t valid_length(int fd)
{
    uint8_t hdr[REC_HEADER];
    uint8_t *body = NULL;
    size_t body_cap = 0;
    int64_t off = 0;

    for (;;) {
        uint32_t magic, body_len, crc;

        if (pread(fd, hdr, REC_HEADER, off) != (ssize_t)REC_HEADER) {
            break;
        }
        memcpy(&magic, hdr, 4);
        memcpy(&body_len, hdr + 4, 4);
        memcpy(&crc, hdr + 8, 4);
        if (magic != REC_MAGIC || body_len > (64u << 20)) {
            break;
        }
        if (body_len > body_cap) {
            uint8_t *nb = mdx_realloc(body, body_len);
            if (nb == NULL) {
                break;
            }
            body = nb;
            body_cap = body_len;
        }
        if (pread(fd, body, body_len, off + REC_HEADER) != (ssize_t)body_len ||
            record_crc(hdr, body, body_len) != crc) {
            break;
        }
        off += REC_HEADER + body_len;
    }
    mdx_free(body);
    return off;
}

static int open_append_segment(struct mdx_spool *sp, uint64_t seg)
{
    char path[PATH_MAX_LEN + 32];
    int fd;

    segment_path(sp, seg, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno_status(errno);
    }
    if (sp->append_fd >= 0) {
        fdatasync(sp->append_fd);
        close(sp->append_fd);
    }
    sp->append_fd = fd;
    sp->head.segment = seg;
    sp->head.offset = (uint64_t)lseek(fd, 0, SEEK_END);
    return MDX_OK;
}

/* Finds the segments, cuts a torn tail, deletes what the store already has. */
static int recover(struct mdx_spool *sp, const struct mdx_spool_pos *start)
{
    uint64_t segs[4096];
    int n = list_segments(sp->dir, segs, 4096);
    uint64_t first = 0, last;
    char path[PATH_MAX_LEN + 32];
    int rc;

    if (n < 0) {
        return MDX_EIO;
    }
    for (int i = 0; i < n; i++) {
        if (segs[i] < start->segment) {
            segment_path(sp, segs[i], path, sizeof(path));
            unlink(path);
        } else if (first == 0) {
            first = segs[i];
        }
    }
    if (first == 0) {
        /* Nothing left to read: start a fresh segment after the checkpoint. */
        last = start->segment + 1;
        sp->rpos.segment = last;
        sp->rpos.offset = 0;
        rc = open_append_segment(sp, last);
        sp->relpos = sp->rpos;
        return rc;
    }
    last = segs[n - 1];
    segment_path(sp, last, path, sizeof(path));
    {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        int64_t good;
        struct stat st;

        if (fd < 0) {
            return MDX_EIO;
        }
        good = valid_length(fd);
        if (fstat(fd, &st) == 0 && st.st_size > good && ftruncate(fd, good) != 0) {
            close(fd);
            return MDX_EIO;
        }
        close(fd);
    }
    rc = open_append_segment(sp, last);
    if (rc != MDX_OK) {
        return rc;
    }
    sp->rpos.segment = first;
    sp->rpos.offset = first == start->segment ? start->offset : 0;
    sp->relpos = sp->rpos;
    /* Backlog counts against max_bytes like fresh appends. */
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (segs[i] < first) {
            continue;
        }
        segment_path(sp, segs[i], path, sizeof(path));
        if (stat(path, &st) == 0) {
            sp->appended += (uint64_t)st.st_size;
        }
    }
    sp->appended -= sp->rpos.offset <= sp->appended ? sp->rpos.offset : sp->appended;
    return MDX_OK;
}

struct mdx_spool *mdx_spool_open(const struct mdx_spool_conf *conf,
                                 const struct mdx_spool_pos *start, size_t read_buf_bytes,
                                 int *err)
{
    struct mdx_spool *sp;
    int rc = MDX_ENOMEM;

    sp = mdx_calloc(1, sizeof(*sp));
    if (sp == NULL) {
        goto fail;
    }
    sp->append_fd = -1;
    sp->read_fd = -1;
    pthread_mutex_init(&sp->lock, NULL);
    pthread_cond_init(&sp->changed, NULL);
    if (strlen(conf->dir) >= sizeof(sp->dir) - 32) {
        rc = MDX_EINVAL;
        goto fail;
    }
    memcpy(sp->dir, conf->dir, strlen(conf->dir) + 1);
    sp->segment_bytes = conf->segment_bytes;
    sp->max_bytes = conf->max_bytes;
    sp->fsync_ms = conf->fsync_ms;
    sp->buf_cap = read_buf_bytes;
    sp->buf = mdx_malloc(read_buf_bytes);
    if (sp->buf == NULL) {
        goto fail;
    }
    rc = mkdir_p(conf->dir);
    if (rc != MDX_OK) {
        goto fail;
    }
    rc = recover(sp, start);
    if (rc != MDX_OK) {
        goto fail;
    }
    sp->last_sync_us = mdx_mono_us();
    return sp;

fail:
    if (err != NULL) {
        *err = rc;
    }
    mdx_spool_close(sp);
    return NULL;
}

void mdx_spool_close(struct mdx_spool *sp)
{
    if (sp == NULL) {
        return;
    }
    if (sp->append_fd >= 0) {
        fdatasync(sp->append_fd);
        close(sp->append_fd);
    }
    if (sp->read_fd >= 0) {
        close(sp->read_fd);
    }
    pthread_mutex_destroy(&sp->lock);
    pthread_cond_destroy(&sp->changed);
    mdx_free(sp->buf);
    mdx_free(sp);
}

static void wait_ms(pthread_cond_t *cv, pthread_mutex_t *m, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, m, &ts);
}

int mdx_spool_append(struct mdx_spool *sp, int64_t recv_ms, const char *topic,
                     const void *payload, size_t len, size_t orig_len, unsigned flags)
{
    size_t topic_len = strlen(topic);
    uint32_t body_len = (uint32_t)(topic_len + 1 + len);
    uint64_t rec_len = REC_HEADER + (uint64_t)body_len;
    uint8_t hdr[REC_HEADER];
    uint32_t magic = REC_MAGIC, crc;
    uint16_t tl = (uint16_t)topic_len, fl = (uint16_t)flags;
    uint64_t ol = orig_len;
    struct iovec iov[3];
    ssize_t w;
    uLong c;
    int rc = MDX_OK;

    if (topic_len > UINT16_MAX || len > (32u << 20)) {
        return MDX_EINVAL;
    }
    memcpy(hdr, &magic, 4);
    memcpy(hdr + 4, &body_len, 4);
    memcpy(hdr + 12, &tl, 2);
    memcpy(hdr + 14, &fl, 2);
    memcpy(hdr + 16, &recv_ms, 8);
    memcpy(hdr + 24, &ol, 8);
    c = crc32(crc32(0L, Z_NULL, 0), hdr + 12, REC_HEADER - 12);
    c = crc32(c, (const Bytef *)topic, (uInt)topic_len + 1); /* includes the NUL */
    if (len > 0) { /* zlib's crc32() with a NULL buffer restarts the checksum */
        c = crc32(c, payload, (uInt)len);
    }
    crc = (uint32_t)c;
    memcpy(hdr + 8, &crc, 4);
    iov[0] = (struct iovec){.iov_base = hdr, .iov_len = REC_HEADER};
    iov[1] = (struct iovec){.iov_base = (void *)topic, .iov_len = topic_len + 1};
    iov[2] = (struct iovec){.iov_base = (void *)payload, .iov_len = len};

    pthread_mutex_lock(&sp->lock);
    while (!sp->stopping && sp->appended - sp->released + rec_len > sp->max_bytes &&
           sp->appended > sp->released) {
        wait_ms(&sp->changed, &sp->lock, 200);
    }
    if (sp->stopping && sp->appended - sp->released + rec_len > sp->max_bytes) {
        pthread_mutex_unlock(&sp->lock);
        return MDX_ESTOPPED;
    }
    if (sp->head.offset > 0 && sp->head.offset + rec_len > sp->segment_bytes) {
        rc = open_append_segment(sp, sp->head.segment + 1);
        if (rc != MDX_OK) {
            pthread_mutex_unlock(&sp->lock);
            return rc;
        }
    }
    pthread_mutex_unlock(&sp->lock);

    /* Only this thread appends, so the write itself needs no lock. */
    w = writev(sp->append_fd, iov, 3);
    if (w != (ssize_t)rec_len) {
        rc = errno_status(w < 0 ? errno : ENOSPC);
        if (w > 0) {
            /* A partial record would poison the segment: cut it back. */
            if (ftruncate(sp->append_fd, (off_t)sp->head.offset) != 0) {
                rc = MDX_EIO;
            }
        }
        return rc;
    }
    if (sp->fsync_ms == 0 ||
        (sp->fsync_ms > 0 && mdx_mono_us() - sp->last_sync_us >= sp->fsync_ms * 1000)) {
        fdatasync(sp->append_fd);
        sp->last_sync_us = mdx_mono_us();
    }
    pthread_mutex_lock(&sp->lock);
    sp->head.offset += rec_len;
    sp->appended += rec_len;
    pthread_cond_broadcast(&sp->changed);
    pthread_mutex_unlock(&sp->lock);
    return MDX_OK;
}

static int open_read_segment(struct mdx_spool *sp, uint64_t seg)
{
    char path[PATH_MAX_LEN + 32];

    if (sp->read_fd >= 0 && sp->read_fd_segment == seg) {
        return MDX_OK;
    }
    if (sp->read_fd >= 0) {
        close(sp->read_fd);
        sp->read_fd = -1;
    }
    segment_path(sp, seg, path, sizeof(path));
    sp->read_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (sp->read_fd < 0) {
        return MDX_EIO;
    }
    sp->read_fd_segment = seg;
    return MDX_OK;
}

int mdx_spool_read(struct mdx_spool *sp, struct mdx_spool_rec *rec, int wait)
{
    struct mdx_spool_pos head;
    uint8_t *hdr, *body;
    uint32_t magic, body_len, crc;
    uint16_t tl, fl;
    uint64_t ol;
    int rc;

    pthread_mutex_lock(&sp->lock);
    head = sp->head;
    if (sp->rpos.segment == head.segment && sp->rpos.offset >= head.offset && wait > 0 &&
        !sp->stopping) {
        wait_ms(&sp->changed, &sp->lock, wait);
        head = sp->head;
    }
    pthread_mutex_unlock(&sp->lock);

    if (sp->rpos.segment == head.segment && sp->rpos.offset >= head.offset) {
        return MDX_EAGAIN;
    }
    rc = open_read_segment(sp, sp->rpos.segment);
    if (rc != MDX_OK) {
        return rc;
    }
    if (sp->rpos.segment < head.segment) {
        struct stat st;
        if (fstat(sp->read_fd, &st) != 0) {
            return MDX_EIO;
        }
        if (sp->rpos.offset >= (uint64_t)st.st_size) {
            /* This segment is done: go on with the next one. */
            sp->rpos.segment++;
            sp->rpos.offset = 0;
            return mdx_spool_read(sp, rec, 0);
        }
    }
    if (sp->buf_cap - sp->buf_used < REC_HEADER) {
        return MDX_EFULL;
    }
    hdr = sp->buf + sp->buf_used;
    if (pread(sp->read_fd, hdr, REC_HEADER, (off_t)sp->rpos.offset) != (ssize_t)REC_HEADER) {
        return MDX_ECORRUPT;
    }
    memcpy(&magic, hdr, 4);
    memcpy(&body_len, hdr + 4, 4);
    memcpy(&crc, hdr + 8, 4);
    memcpy(&tl, hdr + 12, 2);
    memcpy(&fl, hdr + 14, 2);
    memcpy(&ol, hdr + 24, 8);
    if (magic != REC_MAGIC || (size_t)tl + 1 > body_len) {
        return MDX_ECORRUPT;
    }
    if (sp->buf_cap - sp->buf_used < REC_HEADER + (size_t)body_len) {
        if (sp->buf_used == 0) {
            return MDX_ECORRUPT; /* larger than the whole buffer: cannot be ours */
        }
        return MDX_EFULL;
    }
    body = hdr + REC_HEADER;
    if (pread(sp->read_fd, body, body_len, (off_t)(sp->rpos.offset + REC_HEADER)) !=
            (ssize_t)body_len ||
        record_crc(hdr, body, body_len) != crc || body[tl] != '\0' ||
        memchr(body, '\0', tl) != NULL) {
        /* The writer's topics hold no NUL: one inside would cut the topic short. */
        return MDX_ECORRUPT;
    }
    sp->buf_used += REC_HEADER + (size_t)body_len;
    memcpy(&rec->recv_ms, hdr + 16, 8);
    rec->topic = (const char *)body;
    rec->payload = body + tl + 1;
    rec->len = body_len - tl - 1u;
    rec->orig_len = (size_t)ol;
    rec->flags = fl;
    sp->rpos.offset += REC_HEADER + (uint64_t)body_len;
    rec->end = sp->rpos;
    return MDX_OK;
}

/* Non-zero if a whole, valid record starts at 'off' of the open read segment. */
static int record_at(struct mdx_spool *sp, uint64_t off, uint8_t *scratch, size_t cap)
{
    uint32_t magic, body_len, crc;

    if (cap < REC_HEADER ||
        pread(sp->read_fd, scratch, REC_HEADER, (off_t)off) != (ssize_t)REC_HEADER) {
        return 0;
    }
    memcpy(&magic, scratch, 4);
    memcpy(&body_len, scratch + 4, 4);
    memcpy(&crc, scratch + 8, 4);
    if (magic != REC_MAGIC || body_len > cap - REC_HEADER) {
        return 0;
    }
    return pread(sp->read_fd, scratch + REC_HEADER, body_len, (off_t)(off + REC_HEADER)) ==
               (ssize_t)body_len &&
           record_crc(scratch, scratch + REC_HEADER, body_len) == crc;
}

uint64_t mdx_spool_resync(struct mdx_spool *sp)
{
    struct mdx_spool_pos head;
    uint64_t off, end;
    struct stat st;

    pthread_mutex_lock(&sp->lock);
    head = sp->head;
    pthread_mutex_unlock(&sp->lock);
    if (open_read_segment(sp, sp->rpos.segment) != MDX_OK || fstat(sp->read_fd, &st) != 0) {
        return 0;
    }
    end = sp->rpos.segment == head.segment ? head.offset : (uint64_t)st.st_size;
    for (off = sp->rpos.offset + 1; off < end; off++) {
        if (record_at(sp, off, sp->buf + sp->buf_used, sp->buf_cap - sp->buf_used)) {
            break;
        }
    }
    if (off > end) {
        off = end;
    }
    off -= sp->rpos.offset;
    sp->rpos.offset += off;
    return off;
}

void mdx_spool_seek(struct mdx_spool *sp, const struct mdx_spool_pos *pos)
{
    sp->rpos = *pos;
}

void mdx_spool_read_pos(struct mdx_spool *sp, struct mdx_spool_pos *pos)
{
    *pos = sp->rpos;
}

void mdx_spool_read_reset(struct mdx_spool *sp)
{
    sp->buf_used = 0;
}

int mdx_spool_release(struct mdx_spool *sp, const struct mdx_spool_pos *pos)
{
    char path[PATH_MAX_LEN + 32];
    uint64_t bytes = 0;

    /* Whole segments strictly before pos->segment are deleted. */
    for (uint64_t seg = sp->relpos.segment; seg < pos->segment; seg++) {
        struct stat st;
        segment_path(sp, seg, path, sizeof(path));
        if (stat(path, &st) == 0) {
            bytes += (uint64_t)st.st_size - (seg == sp->relpos.segment ? sp->relpos.offset : 0);
        }
        unlink(path);
    }
    bytes += pos->segment == sp->relpos.segment ? pos->offset - sp->relpos.offset : pos->offset;
    sp->relpos = *pos;
    pthread_mutex_lock(&sp->lock);
    sp->released += bytes;
    if (sp->released > sp->appended) {
        sp->released = sp->appended;
    }
    pthread_cond_broadcast(&sp->changed);
    pthread_mutex_unlock(&sp->lock);
    return MDX_OK;
}

uint64_t mdx_spool_pending_bytes(struct mdx_spool *sp)
{
    uint64_t n;

    pthread_mutex_lock(&sp->lock);
    n = sp->appended - sp->released;
    pthread_mutex_unlock(&sp->lock);
    return n;
}

int mdx_spool_read_all(struct mdx_spool *sp)
{
    int done;

    pthread_mutex_lock(&sp->lock);
    done = sp->rpos.segment == sp->head.segment && sp->rpos.offset >= sp->head.offset;
    pthread_mutex_unlock(&sp->lock);
    return done;
}

void mdx_spool_stop(struct mdx_spool *sp)
{
    pthread_mutex_lock(&sp->lock);
    sp->stopping = 1;
    pthread_cond_broadcast(&sp->changed);
    pthread_mutex_unlock(&sp->lock);
}
