/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_api_hub.c - the live-stream hub without HTTP: which clients get an
 * event, the SSE text they read, partial reads, dropping a client whose
 * queue or byte budget fills, the client cap, oversized events, pings and
 * shutdown with clients still open; and the hub's watch (issue 11): the
 * lock-free "does anyone watch" check, and which sensor_data filters an
 * API alone is told to subscribe to as viewers come and go.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"

#include <stdio.h>

#include "api/hub.h"
#include "api/watch.h"
#include "modax/status.h"

#define HELLO ": stream open\n\n"

static struct mdx_api_conf conf_of(int64_t queue, int64_t max_clients)
{
    struct mdx_api_conf c;

    memset(&c, 0, sizeof(c));
    c.stream_queue = queue;
    c.stream_max_clients = max_clients;
    return c;
}

/* Everything the client has to read now, NUL-terminated, into buf; the reader's last result. */
static ssize_t drain(struct api_hub_client *c, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t got;

    do {
        got = api_hub_client_read(c, n, buf + n, len - 1 - n);
        if (got > 0) {
            n += (size_t)got;
        }
    } while (got > 0 && n < len - 1);
    buf[n] = '\0';
    return got < 0 ? got : (ssize_t)n;
}

static void test_tenant_and_device_filter(void)
{
    struct mdx_api_conf conf = conf_of(16, 10);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *all = NULL, *one = NULL, *other = NULL;
    struct api_hub_stats st;
    char buf[4096];
    const char *d1 = "{\"device\":\"press-1\",\"points\":[]}";
    const char *d2 = "{\"device\":\"press-2\",\"points\":[]}";

    CHECK(h != NULL);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &all), MDX_OK);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", "press-1", NULL, -1, &one), MDX_OK);
    CHECK_EQ_INT(api_hub_client_open(h, "globex", "", NULL, -1, &other), MDX_OK);
    api_hub_publish(h, "acme", "press-1", "point", d1, strlen(d1));
    api_hub_publish(h, "acme", "press-2", "point", d2, strlen(d2));

    drain(all, buf, sizeof(buf));
    CHECK_STR(buf, HELLO "event: point\ndata: {\"device\":\"press-1\",\"points\":[]}\n\n"
                         "event: point\ndata: {\"device\":\"press-2\",\"points\":[]}\n\n");
    drain(one, buf, sizeof(buf));
    CHECK_STR(buf, HELLO "event: point\ndata: {\"device\":\"press-1\",\"points\":[]}\n\n");
    drain(other, buf, sizeof(buf));
    CHECK_STR(buf, HELLO);
    /* Nothing more: the reader answers 0 (a connection would be suspended). */
    CHECK_EQ_INT(api_hub_client_read(all, 0, buf, sizeof(buf)), 0);

    api_hub_stats(h, &st);
    CHECK_EQ_INT(st.clients, 3);
    CHECK_EQ_INT(st.opened, 3);
    CHECK_EQ_INT(st.events, 3);
    CHECK_EQ_INT(st.dropped_slow, 0);
    api_hub_client_free(all);
    api_hub_client_free(one);
    api_hub_client_free(other);
    api_hub_stats(h, &st);
    CHECK_EQ_INT(st.clients, 0);
    api_hub_destroy(h);
}

/* MHD may offer less room than a frame: the rest comes with the next call. */
static void test_partial_reads(void)
{
    struct mdx_api_conf conf = conf_of(8, 10);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *c = NULL;
    char out[512], piece[7];
    size_t n = 0;
    ssize_t got;

    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &c), MDX_OK);
    api_hub_publish(h, "acme", "d", "status", "{\"device\":\"d\",\"state\":\"online\"}", 31);
    api_hub_publish(h, "acme", "d", "alert", "{\"id\":7}", 8);
    while ((got = api_hub_client_read(c, n, piece, sizeof(piece))) > 0) {
        CHECK(got <= (ssize_t)sizeof(piece));
        CHECK(n + (size_t)got < sizeof(out));
        memcpy(out + n, piece, (size_t)got);
        n += (size_t)got;
    }
    out[n] = '\0';
    /* The hello (15 bytes) never fits 7 bytes, so it is skipped rather than cut. */
    CHECK_STR(out, "event: status\ndata: {\"device\":\"d\",\"state\":\"online\"}\n\n"
                   "event: alert\ndata: {\"id\":7}\n\n");
    api_hub_client_free(c);
    api_hub_destroy(h);
}

static void test_full_queue_drops_the_slow_client(void)
{
    struct mdx_api_conf conf = conf_of(8, 10);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *slow = NULL, *fast = NULL;
    struct api_hub_stats st;
    char buf[4096];

    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &slow), MDX_OK);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &fast), MDX_OK);
    for (int i = 0; i < 20; i++) {
        char data[32];
        int n = snprintf(data, sizeof(data), "{\"i\":%d}", i);
        api_hub_publish(h, "acme", "d", "point", data, (size_t)n);
        drain(fast, buf, sizeof(buf)); /* keeps up */
        CHECK(strstr(buf, data) != NULL);
    }
    api_hub_stats(h, &st);
    CHECK_EQ_INT(st.dropped_slow, 1);
    CHECK_EQ_INT(st.clients, 2); /* until its connection closes */
    CHECK_EQ_INT(st.events, 20 + 8);
    /* Its stream ends: the reader reports the end instead of the queued events. */
    CHECK_EQ_INT(api_hub_client_read(slow, 0, buf, sizeof(buf)),
                 MHD_CONTENT_READER_END_WITH_ERROR);
    api_hub_client_free(slow);
    api_hub_client_free(fast);
    api_hub_destroy(h);
}

/* Large events fill the byte budget before the slots: dropped as well. */
static void test_byte_budget_drops_the_client(void)
{
    struct mdx_api_conf conf = conf_of(1024, 10);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *c = NULL;
    struct api_hub_stats st;
    size_t len = API_HUB_EVENT_MAX - 100;
    char *data = malloc(len);
    size_t fits = API_HUB_CLIENT_BYTES_MAX / (len + 16);

    CHECK(data != NULL);
    memset(data, 'x', len);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &c), MDX_OK);
    for (size_t i = 0; i < fits; i++) {
        api_hub_publish(h, "acme", "d", "point", data, len);
    }
    api_hub_stats(h, &st);
    CHECK_EQ_INT(st.dropped_slow, 0);
    CHECK_EQ_INT(st.events, fits);
    for (size_t i = 0; i < 3; i++) {
        api_hub_publish(h, "acme", "d", "point", data, len);
    }
    api_hub_stats(h, &st);
    CHECK_EQ_INT(st.dropped_slow, 1);
    CHECK(st.events < 1024);
    api_hub_client_free(c);
    api_hub_destroy(h);
    free(data);
}

static void test_client_cap(void)
{
    struct mdx_api_conf conf = conf_of(8, 2);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *a = NULL, *b = NULL, *c = NULL;
    struct api_hub_stats st;

    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &a), MDX_OK);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &b), MDX_OK);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &c), MDX_EFULL);
    CHECK(c == NULL);
    api_hub_stats(h, &st);
    CHECK_EQ_INT(st.refused_full, 1);
    CHECK_EQ_INT(st.clients, 2);
    api_hub_client_free(a);
    /* A closed stream frees its place. */
    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &c), MDX_OK);
    api_hub_client_free(b);
    api_hub_client_free(c);
    api_hub_destroy(h);
}

static void test_bad_events_are_refused(void)
{
    struct mdx_api_conf conf = conf_of(8, 2);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *c = NULL;
    struct api_hub_stats st;
    char *big = malloc(API_HUB_EVENT_MAX);
    char buf[256];

    CHECK(big != NULL);
    memset(big, 'y', API_HUB_EVENT_MAX);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &c), MDX_OK);
    api_hub_publish(h, "acme", "d", "point", big, API_HUB_EVENT_MAX);
    api_hub_publish(h, "acme", "d", "point", "{\"a\":1}\ndata: {}", 16); /* would forge a line */
    api_hub_stats(h, &st);
    CHECK_EQ_INT(st.too_large, 2);
    CHECK_EQ_INT(st.events, 0);
    CHECK_EQ_INT(st.dropped_slow, 0);
    drain(c, buf, sizeof(buf));
    CHECK_STR(buf, HELLO);
    api_hub_client_free(c);
    api_hub_destroy(h);
    free(big);
}

static void test_ping_on_idle_stream(void)
{
    struct mdx_api_conf conf = conf_of(8, 2);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *c = NULL;
    char buf[256];

    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &c), MDX_OK);
    drain(c, buf, sizeof(buf));
    CHECK_STR(buf, HELLO);
    api_hub_ping(h);
    drain(c, buf, sizeof(buf));
    CHECK_STR(buf, ": ping\n\n");
    CHECK_EQ_INT(api_hub_client_read(c, 0, buf, sizeof(buf)), 0); /* once per ping */
    /* An event pending at ping time goes instead of the comment. */
    api_hub_ping(h);
    api_hub_publish(h, "acme", "d", "point", "{}", 2);
    drain(c, buf, sizeof(buf));
    CHECK_STR(buf, "event: point\ndata: {}\n\n");
    api_hub_client_free(c);
    api_hub_destroy(h);
}

/* Destroy ends open streams; the last client to go frees the hub (ASan checks). */
static void test_destroy_with_open_stream(void)
{
    struct mdx_api_conf conf = conf_of(8, 2);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *c = NULL;
    char buf[256];

    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &c), MDX_OK);
    api_hub_publish(h, "acme", "d", "point", "{}", 2);
    api_hub_hold(h); /* as the MQTT link does */
    api_hub_destroy(h);
    /* A late publisher is ignored; the stream ends. */
    api_hub_publish(h, "acme", "d", "point", "{}", 2);
    CHECK_EQ_INT(api_hub_client_read(c, 0, buf, sizeof(buf)), MHD_CONTENT_READER_END_WITH_ERROR);
    struct api_hub_client *late = NULL;
    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &late), MDX_ESTOPPED);
    api_hub_client_free(c);
    api_hub_release(h);
}

/* ---- the watch ---- */

static void test_watched_follows_open_streams(void)
{
    struct mdx_api_conf conf = conf_of(16, 10);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *one = NULL, *all = NULL;

    CHECK(h != NULL);
    CHECK_EQ_INT(api_hub_watched(h, "acme", "press-1"), 0);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", "press-1", NULL, -1, &one), MDX_OK);
    CHECK_EQ_INT(api_hub_watched(h, "acme", "press-1"), 1);
    CHECK_EQ_INT(api_hub_watched(h, "acme", "press-2"), 0);
    CHECK_EQ_INT(api_hub_watched(h, "globex", "press-1"), 0);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", NULL, NULL, -1, &all), MDX_OK);
    CHECK_EQ_INT(api_hub_watched(h, "acme", "press-2"), 1);
    CHECK_EQ_INT(api_hub_watched(h, "globex", "mill-1"), 0);
    api_hub_client_free(all);
    CHECK_EQ_INT(api_hub_watched(h, "acme", "press-2"), 0);
    CHECK_EQ_INT(api_hub_watched(h, "acme", "press-1"), 1);
    api_hub_client_free(one);
    CHECK_EQ_INT(api_hub_watched(h, "acme", "press-1"), 0);
    api_hub_destroy(h);
}

static char wlog[1024];

/* Listener: appends "+tenant/device " or "-tenant/device " ('+' for a tenant-wide filter). */
static void record(void *arg, const char *tenant, const char *device, int on)
{
    size_t n = strlen(wlog);

    (void)arg;
    snprintf(wlog + n, sizeof(wlog) - n, "%c%s/%s ", on ? '+' : '-', tenant,
             device[0] != '\0' ? device : "+");
}

static void test_watch_wants_each_filter_once(void)
{
    struct api_watch *w = api_watch_create();

    CHECK(w != NULL);
    if (w == NULL) {
        return;
    }
    wlog[0] = '\0';
    CHECK_EQ_INT(api_watch_add(w, "acme", "press-1"), MDX_OK);
    /* A listener set later hears what is wanted already. */
    api_watch_listen(w, record, NULL);
    CHECK_STR(wlog, "+acme/press-1 ");
    /* A second viewer of the same device changes nothing at the broker. */
    wlog[0] = '\0';
    CHECK_EQ_INT(api_watch_add(w, "acme", "press-1"), MDX_OK);
    CHECK_STR(wlog, "");
    /* A tenant-wide viewer: the wider filter first, then the device's goes (no duplicates). */
    CHECK_EQ_INT(api_watch_add(w, "acme", NULL), MDX_OK);
    CHECK_STR(wlog, "+acme/+ -acme/press-1 ");
    wlog[0] = '\0';
    CHECK_EQ_INT(api_watch_add(w, "acme", "press-2"), MDX_OK);
    CHECK_EQ_INT(api_watch_add(w, "globex", "mill-1"), MDX_OK);
    CHECK_STR(wlog, "+globex/mill-1 ");
    /* The tenant-wide viewer leaves: its watched devices come back before the filter goes. */
    wlog[0] = '\0';
    api_watch_remove(w, "acme", "");
    CHECK(strstr(wlog, "+acme/press-1 ") != NULL);
    CHECK(strstr(wlog, "+acme/press-2 ") != NULL);
    CHECK(strlen(wlog) > 8 && strcmp(wlog + strlen(wlog) - 8, "-acme/+ ") == 0);
    /* What a reconnected link subscribes to. */
    wlog[0] = '\0';
    api_watch_each(w, record, NULL);
    CHECK(strstr(wlog, "+acme/press-1 ") != NULL);
    CHECK(strstr(wlog, "+acme/press-2 ") != NULL);
    CHECK(strstr(wlog, "+globex/mill-1 ") != NULL);
    CHECK(strstr(wlog, "acme/+") == NULL);
    /* Unsubscribed when the last of its viewers leaves, not before. */
    wlog[0] = '\0';
    api_watch_remove(w, "acme", "press-1");
    CHECK_STR(wlog, "");
    api_watch_remove(w, "acme", "press-1");
    CHECK_STR(wlog, "-acme/press-1 ");
    /* No listener: nothing is told any more. */
    wlog[0] = '\0';
    api_watch_listen(w, NULL, NULL);
    api_watch_remove(w, "acme", "press-2");
    api_watch_remove(w, "globex", "mill-1");
    CHECK_STR(wlog, "");
    CHECK_EQ_INT(api_watch_any(w, "globex", "mill-1"), 0);
    api_watch_destroy(w);
}

/* The hub counts a stream in the watch when it opens and out when it goes. */
static void test_hub_streams_drive_the_watch(void)
{
    struct mdx_api_conf conf = conf_of(16, 1);
    struct api_hub *h = api_hub_create(&conf);
    struct api_hub_client *one = NULL, *refused = NULL;

    CHECK(h != NULL);
    wlog[0] = '\0';
    api_watch_listen(api_hub_watch(h), record, NULL);
    CHECK_EQ_INT(api_hub_client_open(h, "acme", "press-1", NULL, -1, &one), MDX_OK);
    CHECK_STR(wlog, "+acme/press-1 ");
    /* Refused at the cap: counted in and out again, the broker told nothing lasting. */
    wlog[0] = '\0';
    CHECK_EQ_INT(api_hub_client_open(h, "acme", "press-2", NULL, -1, &refused), MDX_EFULL);
    CHECK_STR(wlog, "+acme/press-2 -acme/press-2 ");
    CHECK_EQ_INT(api_hub_watched(h, "acme", "press-2"), 0);
    wlog[0] = '\0';
    api_hub_client_free(one);
    CHECK_STR(wlog, "-acme/press-1 ");
    api_watch_listen(api_hub_watch(h), NULL, NULL);
    api_hub_destroy(h);
}

static const struct mdx_test tests[] = {
    {"tenant_and_device_filter", test_tenant_and_device_filter},
    {"partial_reads", test_partial_reads},
    {"full_queue_drops_the_slow_client", test_full_queue_drops_the_slow_client},
    {"byte_budget_drops_the_client", test_byte_budget_drops_the_client},
    {"client_cap", test_client_cap},
    {"bad_events_are_refused", test_bad_events_are_refused},
    {"ping_on_idle_stream", test_ping_on_idle_stream},
    {"destroy_with_open_stream", test_destroy_with_open_stream},
    {"issue 11: watched follows the open streams", test_watched_follows_open_streams},
    {"issue 11: watch wants each sensor_data filter once", test_watch_wants_each_filter_once},
    {"issue 11: hub streams drive the watch", test_hub_streams_drive_the_watch},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
