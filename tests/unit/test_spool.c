/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_spool.c - the durable spool: round trips across segments, release,
 * resuming at a checkpoint, a torn tail, a corrupt record, a full spool.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/spool.h"
#include "modax/status.h"
#include "support/support.h"

static struct mdx_spool *open_spool(const char *dir, const struct mdx_spool_pos *start,
                                    uint64_t max_bytes)
{
    struct mdx_spool_conf c = {.dir = dir, .segment_bytes = 4096, .max_bytes = max_bytes,
                               .fsync_ms = -1};
    int err = 0;
    struct mdx_spool *sp = mdx_spool_open(&c, start, 1 << 20, &err);

    CHECK(sp != NULL);
    return sp;
}

static void append_n(struct mdx_spool *sp, int from, int to)
{
    char payload[64];

    for (int i = from; i < to; i++) {
        int n = snprintf(payload, sizeof(payload), "{\"seq\":%d}", i);
        CHECK_EQ_INT(mdx_spool_append(sp, 1000 + i, "modax/t/d/sensor_data", payload, (size_t)n,
                                      (size_t)n, 0),
                     MDX_OK);
    }
}

/* Reads records until none is left; checks they are seq from..to-1; returns the end position. */
static struct mdx_spool_pos read_expect(struct mdx_spool *sp, int from, int to)
{
    struct mdx_spool_rec rec;
    struct mdx_spool_pos end = {0, 0};
    char want[64];
    int i = from;

    for (;;) {
        int rc = mdx_spool_read(sp, &rec, 0);
        if (rc == MDX_EFULL) {
            mdx_spool_read_reset(sp);
            continue;
        }
        if (rc != MDX_OK) {
            CHECK_EQ_INT(rc, MDX_EAGAIN);
            break;
        }
        snprintf(want, sizeof(want), "{\"seq\":%d}", i);
        CHECK(rec.len == strlen(want) && memcmp(rec.payload, want, rec.len) == 0);
        CHECK_STR(rec.topic, "modax/t/d/sensor_data");
        CHECK_EQ_INT(rec.recv_ms, 1000 + i);
        end = rec.end;
        i++;
    }
    CHECK_EQ_INT(i, to);
    return end;
}

static int count_segments(const char *dir)
{
    char cmd[600];
    int n = 0;

    for (int seg = 0; seg < 1000; seg++) {
        struct stat st;
        snprintf(cmd, sizeof(cmd), "%s/%016x.spool", dir, seg);
        n += stat(cmd, &st) == 0;
    }
    return n;
}

static void round_trip_across_segments_and_release(void)
{
    char dir[256];
    struct mdx_spool_pos start = {0, 0}, end;
    struct mdx_spool *sp;

    tmp_make(dir, sizeof(dir), "spool-rt");
    sp = open_spool(dir, &start, 1 << 20);
    append_n(sp, 0, 500);
    CHECK(count_segments(dir) > 3);
    end = read_expect(sp, 0, 500);
    CHECK(mdx_spool_read_all(sp));
    CHECK_EQ_INT(mdx_spool_release(sp, &end), MDX_OK);
    CHECK_EQ_INT(mdx_spool_pending_bytes(sp), 0);
    CHECK_EQ_INT(count_segments(dir), 1); /* only the segment being written */
    mdx_spool_close(sp);
    tmp_remove(dir);
}

static void reopen_resumes_after_checkpoint(void)
{
    char dir[256];
    struct mdx_spool_pos start = {0, 0}, mid = {0, 0};
    struct mdx_spool_rec rec;
    struct mdx_spool *sp;

    tmp_make(dir, sizeof(dir), "spool-resume");
    sp = open_spool(dir, &start, 1 << 20);
    append_n(sp, 0, 200);
    for (int i = 0; i < 120; i++) {
        CHECK_EQ_INT(mdx_spool_read(sp, &rec, 0), MDX_OK);
        mid = rec.end;
    }
    mdx_spool_close(sp); /* as if killed: the store had committed up to 'mid' */
    sp = open_spool(dir, &mid, 1 << 20);
    read_expect(sp, 120, 200);
    append_n(sp, 200, 210);
    read_expect(sp, 200, 210);
    mdx_spool_close(sp);
    tmp_remove(dir);
}

static void torn_tail_is_cut_off_on_open(void)
{
    char dir[256], path[600];
    struct mdx_spool_pos start = {0, 0};
    struct mdx_spool *sp;
    int fd;

    tmp_make(dir, sizeof(dir), "spool-torn");
    sp = open_spool(dir, &start, 1 << 20);
    append_n(sp, 0, 3);
    mdx_spool_close(sp);
    /* Half a record at the end, as a power loss leaves it. */
    snprintf(path, sizeof(path), "%s/%016x.spool", dir, 1);
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK(write(fd, "MDM1\x40\x00\x00\x00garbage", 15) == 15);
    close(fd);
    sp = open_spool(dir, &start, 1 << 20);
    append_n(sp, 3, 5);
    read_expect(sp, 0, 5);
    mdx_spool_close(sp);
    tmp_remove(dir);
}

static void corrupt_record_is_skipped_by_resync(void)
{
    char dir[256], path[600];
    struct mdx_spool_pos start = {0, 0};
    struct mdx_spool_rec rec;
    struct mdx_spool *sp;
    int fd;

    tmp_make(dir, sizeof(dir), "spool-corrupt");
    sp = open_spool(dir, &start, 1 << 20);
    append_n(sp, 0, 3);
    /* Damage a byte of the second record's payload. */
    snprintf(path, sizeof(path), "%s/%016x.spool", dir, 1);
    fd = open(path, O_WRONLY);
    CHECK(pwrite(fd, "X", 1, 32 + 22 + 10 + 32 + 22 + 3) == 1);
    close(fd);
    CHECK_EQ_INT(mdx_spool_read(sp, &rec, 0), MDX_OK);
    CHECK_EQ_INT(mdx_spool_read(sp, &rec, 0), MDX_ECORRUPT);
    CHECK(mdx_spool_resync(sp) > 0);
    CHECK_EQ_INT(mdx_spool_read(sp, &rec, 0), MDX_OK);
    CHECK(rec.len == 9 && memcmp(rec.payload, "{\"seq\":2}", 9) == 0);
    mdx_spool_close(sp);
    tmp_remove(dir);
}

static void empty_payload_round_trips(void)
{
    char dir[256];
    struct mdx_spool_pos start = {0, 0};
    struct mdx_spool_rec rec;
    struct mdx_spool *sp;

    tmp_make(dir, sizeof(dir), "spool-empty");
    sp = open_spool(dir, &start, 1 << 20);
    CHECK_EQ_INT(mdx_spool_append(sp, 5, "modax/t/d/status", NULL, 0, 0, 0), MDX_OK);
    CHECK_EQ_INT(mdx_spool_read(sp, &rec, 0), MDX_OK);
    CHECK_EQ_INT(rec.len, 0);
    CHECK_STR(rec.topic, "modax/t/d/status");
    mdx_spool_close(sp);
    tmp_remove(dir);
}

struct appender {
    struct mdx_spool *sp;
    atomic_int rc; /* read by the test while the thread may still be in append */
};

static void *append_one(void *arg)
{
    struct appender *a = arg;
    int rc = mdx_spool_append(a->sp, 1, "modax/t/d/sensor_data", "{\"seq\":9}", 9, 9, 0);

    atomic_store(&a->rc, rc);
    return NULL;
}

static void full_spool_waits_for_release_then_stop_ends_the_wait(void)
{
    char dir[256];
    struct mdx_spool_pos start = {0, 0}, end;
    struct mdx_spool *sp;
    struct appender a;
    pthread_t t;

    tmp_make(dir, sizeof(dir), "spool-full");
    sp = open_spool(dir, &start, 300); /* room for about 4 records */
    append_n(sp, 0, 4);
    a.sp = sp;
    atomic_init(&a.rc, 1);
    pthread_create(&t, NULL, append_one, &a);
    mdx_sleep_ms(100); /* time for it to finish if it wrongly did not wait */
    CHECK_EQ_INT(atomic_load(&a.rc), 1); /* still waiting */
    end = read_expect(sp, 0, 4);
    mdx_spool_release(sp, &end);
    pthread_join(t, NULL);
    CHECK_EQ_INT(a.rc, MDX_OK);
    append_n(sp, 10, 13);
    a.sp = sp;
    atomic_init(&a.rc, 1);
    pthread_create(&t, NULL, append_one, &a);
    mdx_sleep_ms(50); /* most likely waiting by now; either way stop must end it */
    mdx_spool_stop(sp);
    pthread_join(t, NULL);
    CHECK_EQ_INT(a.rc, MDX_ESTOPPED);
    mdx_spool_close(sp);
    tmp_remove(dir);
}

/* The spool holds every tenant's payloads: folder 0700, segments 0600, whatever the umask. */
static void spool_folder_and_segments_are_private(void)
{
    char dir[256], sub[300], seg[600];
    struct mdx_spool_pos start = {0, 0};
    struct mdx_spool *sp;
    struct stat sb;
    mode_t old = umask(022);

    tmp_make(dir, sizeof(dir), "spool-mode");
    snprintf(sub, sizeof(sub), "%s/spool", dir);
    sp = open_spool(sub, &start, 1 << 20);
    append_n(sp, 0, 3);
    CHECK(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700);
    DIR *d = opendir(sub);
    int segments = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (strstr(e->d_name, ".spool") != NULL) {
            snprintf(seg, sizeof(seg), "%s/%s", sub, e->d_name);
            CHECK(stat(seg, &sb) == 0 && (sb.st_mode & 0777) == 0600);
            segments++;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    CHECK(segments >= 1);
    mdx_spool_close(sp);
    umask(old);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"records round-trip across segments; release deletes read segments",
     round_trip_across_segments_and_release},
    {"reopening at a checkpoint resumes after it", reopen_resumes_after_checkpoint},
    {"a torn record at the tail is cut off on open", torn_tail_is_cut_off_on_open},
    {"a corrupt record is skipped by resync", corrupt_record_is_skipped_by_resync},
    {"an empty payload round-trips", empty_payload_round_trips},
    {"a full spool waits for release; stop ends the wait",
     full_spool_waits_for_release_then_stop_ends_the_wait},
    {"issue 16: spool folder and segments are private", spool_folder_and_segments_are_private},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
