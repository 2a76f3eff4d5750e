/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_api.c - HTTP API throughput and latency with the ingest running.
 *
 * Loads a store with 1,000 devices (one day at one-minute resolution of
 * a few sensors each, written through the store interface), creates a
 * viewer key, starts its own Mosquitto and `modax serve --roles ingest,api`
 * (rate limit raised), keeps a publisher sending readings at a steady rate, and
 * runs Debian's wrk (a Lua script sets the key and rotates the device
 * across the fleet, --latency for percentiles) against
 *  (a) GET /api/v1/devices/{id}/latest
 *  (b) GET /api/v1/devices/{id}/telemetry over one day at a 1-minute step.
 * (b) runs twice: saturated with --connections like (a), which gives the
 * throughput (its p99 is then mostly queueing behind the other
 * connections), and with --light-connections (4), a dashboard-like load
 * whose p99 is the latency a user sees.
 * Prints one line:
 *   api: devices=1000 latest_rps=… latest_p99_ms=… range_rps=… range_p99_ms=…
 *        range_light_rps=… range_light_p99_ms=… ingest_msgs_per_s=…
 * Targets (issue 5, 2-core machine): latest ≥ 20,000 req/s; range p99 ≤ 20 ms.
 * Options: --devices N (1000), --sensors N (3), --duration S (10) per wrk
 * run, --connections N (32), --light-connections N (4), --wrk-threads N (2),
 * --rate N ingest messages/s (1000), --range-sensors all|one (one: the
 * chart of one sensor).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "modax/alloc.h"
#include "modax/apikey.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

static const char *const sensor_names[] = {"temperature_mean", "current_mean", "vibration_x",
                                           "vibration_y", "current_max", "vibration_magnitude"};
#define SENSORS_MAX ((int)(sizeof(sensor_names) / sizeof(sensor_names[0])))

struct opts {
    int devices, sensors, duration_s, connections, light_connections, wrk_threads, rate;
    int range_all;
};

/* ---- the store ---- */

/* One day at one point a minute for every sensor of every device, ending at 'day_end'. */
static int load_store(const char *dir, const struct opts *o, int64_t day_start, char *key,
                      size_t keylen)
{
    enum { PER_DAY = 1440 };
    struct mdx_store *st = test_store_open(dir);
    struct mdx_point *pts;
    char dev[32];
    int rc;

    if (st == NULL) {
        return MDX_ESTORE;
    }
    pts = mdx_calloc((size_t)PER_DAY * (size_t)o->sensors, sizeof(*pts));
    rc = pts != NULL ? mdx_store_tenant_add(st, "bench") : MDX_ENOMEM;
    for (int d = 0; rc == MDX_OK && d < o->devices; d++) {
        struct mdx_point_group g;
        struct mdx_batch b = {0};
        struct mdx_batch_result res;
        size_t n = 0;

        snprintf(dev, sizeof(dev), "dev-%04d", d);
        rc = mdx_store_device_add(st, "bench", dev, 0);
        for (int s = 0; rc == MDX_OK && s < o->sensors; s++) {
            for (int i = 0; i < PER_DAY; i++) {
                struct mdx_point *p = &pts[n++];
                memset(p, 0, sizeof(*p));
                snprintf(p->sensor, sizeof(p->sensor), "%s", sensor_names[s]);
                p->sensor_len = (uint8_t)strlen(p->sensor);
                p->ts_ms = day_start + (int64_t)i * 60000 + (int64_t)(d % 60) * 1000;
                p->value = 40.0 + 10.0 * rnd_unit();
            }
        }
        g = (struct mdx_point_group){"bench", dev, pts, n};
        b.groups = &g;
        b.n_groups = 1;
        if (rc == MDX_OK) {
            rc = mdx_store_write(st, &b, &res);
        }
    }
    mdx_free(pts);
    if (rc == MDX_OK) {
        struct mdx_apikey rec;
        char text[MDX_APIKEY_TEXT_MAX];
        rc = mdx_apikey_generate("bench", MDX_ROLE_VIEWER, "bench", mdx_now_ms(), &rec, text);
        if (rc == MDX_OK) {
            rc = mdx_store_apikey_add(st, &rec);
        }
        snprintf(key, keylen, "%s", text);
    }
    mdx_store_close(st);
    return rc;
}

/* ---- the ingest load: a publisher at a steady rate ---- */

struct feeder {
    const struct opts *o;
    int port;
    atomic_int stop;
    pthread_t thread;
    uint64_t sent;
    struct pub *pub;
};

static void *feeder_main(void *arg)
{
    struct feeder *f = arg;
    char topic[128], payload[512];
    int64_t start = mdx_mono_us();
    uint64_t k = 0;

    while (!atomic_load(&f->stop)) {
        /* Messages due by now at the configured rate. */
        uint64_t due = (uint64_t)((mdx_mono_us() - start) * (int64_t)f->o->rate / 1000000);
        if (k >= due) {
            mdx_sleep_ms(1);
            continue;
        }
        int d = (int)(k % (uint64_t)f->o->devices);
        int64_t ts = mdx_now_ms();
        int n = snprintf(payload, sizeof(payload),
                         "{\"device_id\":\"dev-%04d\",\"timestamp\":%lld,\"sensor_data\":"
                         "{\"temperature_mean\":%.2f,\"current_mean\":%.2f,\"vibration_x\":%.3f}}",
                         d, (long long)ts, 40 + 10 * rnd_unit(), 4 + rnd_unit(), rnd_unit());
        snprintf(topic, sizeof(topic), "modax/bench/dev-%04d/sensor_data", d);
        pub_send(f->pub, topic, payload, (size_t)n);
        k++;
    }
    f->sent = k;
    return NULL;
}

/* ---- wrk ---- */

struct wrk_result {
    double rps;
    double p99_ms;
    long non2xx;
    long requests;
};

/* "12.34ms" / "850.00us" / "1.02s" in milliseconds. */
static double wrk_ms(const char *s)
{
    char *end;
    double v = strtod(s, &end);

    if (strncmp(end, "us", 2) == 0) {
        return v / 1000.0;
    }
    if (strncmp(end, "ms", 2) == 0) {
        return v;
    }
    if (strncmp(end, "s", 1) == 0) {
        return v * 1000.0;
    }
    if (strncmp(end, "m", 1) == 0) {
        return v * 60000.0;
    }
    return -1;
}

/* Runs wrk with 'script' against 'url'; its output into 'log'. 0 on success. */
static int run_wrk(const struct opts *o, int connections, const char *url, const char *script,
                   const char *log, struct wrk_result *out)
{
    char threads[16], conns[16], duration[16], line[512];
    int threads_n = o->wrk_threads < connections ? o->wrk_threads : connections;
    int status = -1;
    pid_t pid;
    FILE *f;

    memset(out, 0, sizeof(*out));
    out->p99_ms = -1;
    snprintf(threads, sizeof(threads), "-t%d", threads_n);
    snprintf(conns, sizeof(conns), "-c%d", connections);
    snprintf(duration, sizeof(duration), "-d%ds", o->duration_s);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
            _exit(127);
        }
        execlp("wrk", "wrk", threads, conns, duration, "--latency", "-s", script, url,
               (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_api: wrk failed; see %s\n", log);
        return -1;
    }
    f = fopen(log, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char pct[16], val[32];
        long a, b;
        if (sscanf(line, "Requests/sec: %lf", &out->rps) == 1) {
            continue;
        }
        if (sscanf(line, " %15s %31s", pct, val) == 2 && strcmp(pct, "99%") == 0) {
            out->p99_ms = wrk_ms(val);
        } else if (sscanf(line, " Non-2xx or 3xx responses: %ld", &a) == 1) {
            out->non2xx = a;
        } else if (sscanf(line, " %ld requests in %ld", &a, &b) == 2) {
            out->requests = a;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return out->rps > 0 && out->p99_ms >= 0 ? 0 : -1;
}

static int write_script(const char *path, const char *key, int devices, const char *fmt)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        return -1;
    }
    /* Each wrk thread has its own Lua state: start them at different devices. */
    fprintf(f,
            "local i = math.random(0, %d)\n"
            "wrk.headers[\"Authorization\"] = \"Bearer %s\"\n"
            "request = function()\n"
            "  i = (i + 1) %% %d\n"
            "  return wrk.format(\"GET\", string.format(\"%s\", i))\n"
            "end\n",
            devices - 1, key, devices, fmt);
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct opts o = {.devices = 1000, .sensors = 3, .duration_s = 10, .connections = 32, .light_connections = 4,
                     .wrk_threads = 2, .rate = 1000, .range_all = 0};
    char dir[256], key[MDX_APIKEY_TEXT_MAX], url[128], script[600], log[600];
    char fmt[512];
    struct broker b;
    struct serve s;
    struct feeder fd = {0};
    struct wrk_result latest = {0}, range = {0}, range_light = {0};
    int64_t day_start, day_end;
    double t0, t1;
    int rc;

    for (int i = 1; i < argc; i++) {
        long v = i + 1 < argc ? bench_parse_num(argv[i + 1], 1, 100000000) : -1;
        if (strcmp(argv[i], "--devices") == 0 && v > 0 && v <= 9999) {
            o.devices = (int)v;
        } else if (strcmp(argv[i], "--sensors") == 0 && v > 0 && v <= SENSORS_MAX) {
            o.sensors = (int)v;
        } else if (strcmp(argv[i], "--duration") == 0 && v > 0) {
            o.duration_s = (int)v;
        } else if (strcmp(argv[i], "--connections") == 0 && v > 0) {
            o.connections = (int)v;
        } else if (strcmp(argv[i], "--light-connections") == 0 && v > 0) {
            o.light_connections = (int)v;
        } else if (strcmp(argv[i], "--wrk-threads") == 0 && v > 0 && v <= 64) {
            o.wrk_threads = (int)v;
        } else if (strcmp(argv[i], "--rate") == 0 && v > 0) {
            o.rate = (int)v;
        } else if (strcmp(argv[i], "--range-sensors") == 0 && i + 1 < argc &&
                   (strcmp(argv[i + 1], "all") == 0 || strcmp(argv[i + 1], "one") == 0)) {
            o.range_all = strcmp(argv[i + 1], "all") == 0;
        } else {
            fprintf(stderr, "usage: bench_api [--devices N] [--sensors N] [--duration S] "
                            "[--connections N] [--light-connections N] [--wrk-threads N] [--rate MSGS_PER_S] "
                            "[--range-sensors all|one]\n");
            return 2;
        }
        i++;
    }
    if (o.connections < o.wrk_threads) {
        o.connections = o.wrk_threads;
    }

    tmp_make(dir, sizeof(dir), "bench-api");
    if (broker_start(&b, dir, 0) != 0) {
        return 1;
    }
    modax_env(dir, b.port);
    /* The loaded day ends on the last whole minute, an hour ago: ingest writes after it. */
    day_end = (mdx_now_ms() / 60000) * 60000 - 3600000;
    day_start = day_end - MDX_DAY_MS;
    t0 = now_s();
    rc = load_store(dir, &o, day_start, key, sizeof(key));
    t1 = now_s();
    if (rc != MDX_OK) {
        fprintf(stderr, "bench_api: loading the store failed: %s\n", mdx_strerror(rc));
        broker_stop(&b, SIGTERM);
        return 1;
    }
    fprintf(stderr, "bench_api: loaded %d devices x %d sensors x 1440 points in %.1f s\n",
            o.devices, o.sensors, t1 - t0);

    setenv("MODAX_API_RATE_LIMIT_RPS", "1000000", 1);
    setenv("MODAX_API_RATE_LIMIT_BURST", "1000000", 1);
    setenv("MODAX_ALERT_DETECT", "false", 1);
    setenv("MODAX_ALERT_RULES", "false", 1);
    setenv("MODAX_LOG_LEVEL", "warn", 0);
    if (serve_start_roles(&s, dir, b.port, "ingest,api") != 0) {
        fprintf(stderr, "bench_api: cannot start modax serve; see %s/serve.log\n", dir);
        broker_stop(&b, SIGTERM);
        return 1;
    }

    /* Ingest running through the measurements. */
    fd.o = &o;
    fd.port = b.port;
    fd.pub = pub_connect(b.port, "bench-api-feeder");
    if (fd.pub == NULL) {
        fprintf(stderr, "bench_api: publisher cannot connect\n");
        serve_stop(&s, SIGTERM);
        broker_stop(&b, SIGTERM);
        return 1;
    }
    int64_t points0 = store_points(dir, "bench");
    int64_t feed_t0 = mdx_mono_us();
    pthread_create(&fd.thread, NULL, feeder_main, &fd);
    mdx_sleep_ms(1000);

    /* (a) latest values of one device, rotating over the fleet. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.api_port);
    snprintf(script, sizeof(script), "%s/latest.lua", dir);
    snprintf(log, sizeof(log), "%s/wrk-latest.txt", dir);
    rc = write_script(script, key, o.devices, "/api/v1/devices/dev-%04d/latest");
    if (rc == 0) {
        rc = run_wrk(&o, o.connections, url, script, log, &latest);
    }

    /* (b) one day at a one-minute step. */
    if (rc == 0) {
        snprintf(fmt, sizeof(fmt),
                 "/api/v1/devices/dev-%%04d/telemetry?from=%lld&to=%lld&step=1m%s",
                 (long long)day_start, (long long)day_end - 1,
                 o.range_all ? "" : "&sensor=temperature_mean");
        snprintf(script, sizeof(script), "%s/range.lua", dir);
        snprintf(log, sizeof(log), "%s/wrk-range.txt", dir);
        rc = write_script(script, key, o.devices, fmt);
        if (rc == 0) {
            rc = run_wrk(&o, o.connections, url, script, log, &range);
        }
        snprintf(log, sizeof(log), "%s/wrk-range-light.txt", dir);
        if (rc == 0) {
            rc = run_wrk(&o, o.light_connections, url, script, log, &range_light);
        }
    }

    atomic_store(&fd.stop, 1);
    pthread_join(fd.thread, NULL);
    double feed_s = (double)(mdx_mono_us() - feed_t0) / 1e6;
    pub_wait_acked(fd.pub, 30000);
    /* Readings stored while the API was measured (3 sensors a message). */
    int64_t stored = wait_points(dir, "bench", points0 + (int64_t)fd.sent * 3, 30000) - points0;
    pub_close(fd.pub);
    serve_stop(&s, SIGTERM);
    broker_stop(&b, SIGTERM);
    if (rc != 0) {
        fprintf(stderr, "bench_api: a measurement failed; see %s\n", dir);
        return 1;
    }
    if (latest.non2xx > 0 || range.non2xx > 0 || range_light.non2xx > 0) {
        fprintf(stderr, "bench_api: non-2xx answers: latest %ld of %ld, range %ld of %ld; see %s\n",
                latest.non2xx, latest.requests, range.non2xx, range.requests, dir);
        return 1;
    }
    if (stored < (int64_t)fd.sent * 3) {
        fprintf(stderr, "bench_api: only %lld of %llu readings' points were stored\n",
                (long long)stored, (unsigned long long)fd.sent * 3);
    }
    printf("api: devices=%d latest_rps=%.0f latest_p99_ms=%.2f range_rps=%.0f range_p99_ms=%.2f "
           "range_light_rps=%.0f range_light_p99_ms=%.2f ingest_msgs_per_s=%.0f\n",
           o.devices, latest.rps, latest.p99_ms, range.rps, range.p99_ms, range_light.rps,
           range_light.p99_ms, (double)stored / 3.0 / feed_s);
    tmp_remove(dir);
    return 0;
}
