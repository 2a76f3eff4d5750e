/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_archive_lease.c - two `modax serve --roles archiver` processes on
 * one database (issue 13, item 3). Archiver A takes the lease and hangs
 * in its first object-store request (an S3 endpoint in this test that
 * accepts connections and never answers). Archiver B, started beside it,
 * must wait and say who holds the lease; after A is killed (SIGKILL: no
 * release), B takes the lapsed lease over and archives everything.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/msg.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define DAY MDX_DAY_MS
#define LEASE_S "3"

static char dir[512];

/* A TCP listener that never accepts: connections complete in the backlog, answers never come. */
static int silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Non-zero when WORKER.log comes to contain 'text' within timeout_ms. */
static int log_says(const char *worker, const char *text, int timeout_ms)
{
    char path[700];
    static char buf[1 << 16];
    int64_t end = mdx_mono_us() / 1000 + timeout_ms;

    snprintf(path, sizeof(path), "%s/%s.log", dir, worker);
    do {
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            if (strstr(buf, text) != NULL) {
                return 1;
            }
        }
        mdx_sleep_ms(50);
    } while (mdx_mono_us() / 1000 < end);
    fprintf(stderr, "  %s.log never said \"%s\"\n", worker, text);
    return 0;
}

/* Tenant acme, device m1: 2 old days of one sensor at one point a minute, plus one recent point. */
static int64_t fill_store(void)
{
    struct mdx_store *st = test_store_open(dir);
    struct mdx_point pts[60];
    struct mdx_point_group g = {"acme", "m1", pts, 0};
    struct mdx_batch b = {.groups = &g, .n_groups = 1};
    struct mdx_batch_result res;
    int64_t day0 = (mdx_now_ms() / DAY - 120) * DAY, written = 0;

    CHECK(st != NULL);
    if (st == NULL) {
        return -1;
    }
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "m1", 0), MDX_OK);
    for (int64_t ts = day0; ts < day0 + 2 * DAY + 60000; ts += 60 * 60000) {
        memset(pts, 0, sizeof(pts));
        for (int i = 0; i < 60; i++) {
            snprintf(pts[i].sensor, sizeof(pts[i].sensor), "current");
            pts[i].sensor_len = 7;
            pts[i].ts_ms = ts + i * 60000;
            pts[i].value = 10.0 + i;
        }
        g.n = 60;
        CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
        written += 60;
    }
    pts[0].ts_ms = mdx_now_ms();
    g.n = 1;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    mdx_store_close(st);
    return written;
}

static void second_archiver_waits_and_takes_over_when_the_first_dies(void)
{
    struct serve a = {0}, b = {0};
    char buf[700], holder[64];
    int hang_port = 0, hang_fd;
    struct stat sb;

    tmp_make(dir, sizeof(dir), "arch-lease");
    CHECK(fill_store() > 2 * 24 * 60);
    CHECK_EQ_INT(store_points(dir, "acme"), 2 * 24 * 60 + 60 + 1);
    hang_fd = silent_listener(&hang_port);
    CHECK(hang_fd >= 0);
    setenv("MODAX_ARCHIVE_LEASE_S", LEASE_S, 1);
    setenv("MODAX_ARCHIVE_AFTER_DAYS", "90", 1);

    /* A: S3 on the silent listener; it takes the lease and hangs in its first request */
    setenv("MODAX_ARCHIVE_STORE_KIND", "s3", 1);
    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d", hang_port);
    setenv("MODAX_ARCHIVE_STORE_ENDPOINT", buf, 1);
    setenv("MODAX_ARCHIVE_STORE_BUCKET", "modax-archive", 1);
    setenv("MODAX_ARCHIVE_STORE_ACCESS_KEY", "S3RVER", 1);
    setenv("MODAX_ARCHIVE_STORE_SECRET_KEY", "S3RVER", 1);
    setenv("MODAX_ARCHIVE_STORE_TIMEOUT_MS", "600000", 1);
    CHECK(serve_start_worker_roles(&a, dir, 1, "a", "archiver") == 0);
    CHECK(log_says("a", "archiver lease taken", 20000));

    /* B: a local object store; it must wait and name A as the holder */
    setenv("MODAX_ARCHIVE_STORE_KIND", "local", 1);
    snprintf(buf, sizeof(buf), "%s/archive-b", dir);
    mkdir(buf, 0755);
    setenv("MODAX_ARCHIVE_STORE_LOCAL_DIR", buf, 1);
    CHECK(serve_start_worker_roles(&b, dir, 1, "b", "archiver") == 0);
    CHECK(log_says("b", "another archiver holds the lease; waiting", 20000));
    snprintf(holder, sizeof(holder), ":%ld:", (long)a.pid);
    CHECK(log_says("b", holder, 1000));
    CHECK_EQ_INT(store_points(dir, "acme"), 2 * 24 * 60 + 60 + 1); /* nothing archived yet */

    /* A dies without giving the lease up; B takes it over once it lapses, and archives */
    CHECK(serve_stop(&a, SIGKILL) == 128 + SIGKILL);
    CHECK(log_says("b", "archiver lease taken", 30000));
    CHECK(log_says("b", "archive pass done", 30000));
    CHECK_EQ_INT(store_points(dir, "acme"), 1); /* only the recent point is left */
    snprintf(buf, sizeof(buf), "%s/archive-b/tenant=acme/device=m1", dir);
    CHECK(stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK_EQ_INT(serve_stop(&b, SIGTERM), 0);

    close(hang_fd);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"issue 13: a second archiver waits, then takes over when the first dies",
     second_archiver_waits_and_takes_over_when_the_first_dies},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
