/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_query.c - `modax query`: points of one sensor in a time range, as CSV
 * or JSON; with --step, aggregates per time bucket (from the rollups).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "modax/clock.h"
#include "modax/status.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax query --tenant T --device D --sensor S [--from TIME] [--to TIME]\n"
            "                   [--step DURATION [--agg avg|min|max|count]]\n"
            "                   [--format csv|json] [--limit N]\n\n"
            "Prints the stored points of one sensor, oldest first.\n"
            "TIME is 'YYYY-MM-DD HH:MM:SS' (UTC), an ISO 8601 time with T and Z, epoch\n"
            "milliseconds, or 'now' / '-10m' / '-2h' / '-7d' relative to now.\n"
            "Defaults: the last hour, CSV, no limit.\n"
            "CSV columns: time,ts_ms,value,ts_substituted (1 when the device's clock was\n"
            "implausible and the receive time was stored).\n\n"
            "--step aggregates the points into buckets of DURATION (30s, 1m, 15m, 1h, 1d:\n"
            "a whole number and s, m, h or d) aligned to the epoch in UTC; --agg picks\n"
            "the value (default avg). Every bucket that overlaps the range is counted\n"
            "whole; empty buckets are left out; --limit counts buckets. Steps of whole\n"
            "minutes or hours are answered from the rollups, so raw points the archiver\n"
            "has moved away still count. CSV columns: time,ts_ms,value,count (time and\n"
            "ts_ms: the bucket's start; count: its points).\n");
}

/* A whole number of s, m, h or d ("30s", "15m"), in ms. Refuses 0 and anything else. */
static int parse_step(const char *s, int64_t *out)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'s', 1000}, {'m', MDX_ROLLUP_MINUTE_MS}, {'h', MDX_ROLLUP_HOUR_MS},
                 {'d', MDX_DAY_MS}};
    char *end;
    long long n;

    if (s[0] < '0' || s[0] > '9') {
        return MDX_EINVAL;
    }
    n = strtoll(s, &end, 10);
    if (end == s || end[0] == '\0' || end[1] != '\0' || n <= 0) {
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (*end == units[i].unit) {
            if (n > 36500LL * MDX_DAY_MS / units[i].ms) {
                return MDX_EINVAL; /* more than a century */
            }
            *out = (int64_t)n * units[i].ms;
            return MDX_OK;
        }
    }
    return MDX_EINVAL;
}

static int parse_when(const char *s, int64_t now, int64_t *out)
{
    char *end;
    double n;

    if (strcmp(s, "now") == 0) {
        *out = now;
        return MDX_OK;
    }
    if (s[0] == '-') {
        n = strtod(s + 1, &end);
        if (end == s + 1 || !isfinite(n) || n < 0 || end[0] == '\0' || end[1] != '\0') {
            return MDX_EINVAL;
        }
        switch (*end) {
        case 's': *out = now - (int64_t)(n * 1e3); return MDX_OK;
        case 'm': *out = now - (int64_t)(n * 60e3); return MDX_OK;
        case 'h': *out = now - (int64_t)(n * 3600e3); return MDX_OK;
        case 'd': *out = now - (int64_t)(n * 86400e3); return MDX_OK;
        default: return MDX_EINVAL;
        }
    }
    return mdx_parse_time_ms(s, out);
}

struct printer {
    int json;
    int64_t n;
    enum mdx_agg agg;
};

/* Shortest of %.15g and %.17g that reads back as the same double. */
static void format_value(double v, char *buf, size_t len)
{
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v) {
        snprintf(buf, len, "%.17g", v);
    }
}

static int print_point(void *arg, int64_t ts_ms, double value, unsigned flags)
{
    struct printer *p = arg;
    char iso[40], num[40];

    mdx_format_iso_ms(ts_ms, iso, sizeof(iso));
    format_value(value, num, sizeof(num));
    if (p->json) {
        printf("%s{\"time\":\"%s\",\"ts_ms\":%lld,\"value\":%s,\"ts_substituted\":%s}",
               p->n > 0 ? ",\n " : "", iso, (long long)ts_ms, num,
               (flags & MDX_POINT_TS_SUBSTITUTED) ? "true" : "false");
    } else {
        printf("%s,%lld,%s,%d\n", iso, (long long)ts_ms, num,
               (flags & MDX_POINT_TS_SUBSTITUTED) ? 1 : 0);
    }
    p->n++;
    return MDX_OK;
}

static int print_bucket(void *arg, const struct mdx_bucket *b)
{
    struct printer *p = arg;
    char iso[40], num[40];

    mdx_format_iso_ms(b->start_ms, iso, sizeof(iso));
    format_value(mdx_bucket_value(b, p->agg), num, sizeof(num));
    if (p->json) {
        printf("%s{\"time\":\"%s\",\"ts_ms\":%lld,\"value\":%s,\"count\":%lld}",
               p->n > 0 ? ",\n " : "", iso, (long long)b->start_ms, num, (long long)b->count);
    } else {
        printf("%s,%lld,%s,%lld\n", iso, (long long)b->start_ms, num, (long long)b->count);
    }
    p->n++;
    return MDX_OK;
}

int cmd_query(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, 't'}, {"device", required_argument, NULL, 'd'},
        {"sensor", required_argument, NULL, 's'}, {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 'u'},     {"format", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'l'},  {"step", required_argument, NULL, 'p'},
        {"agg", required_argument, NULL, 'a'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *from_s = "-1h", *to_s = "now", *format = "csv", *agg_s = NULL;
    struct mdx_query q = {0};
    struct printer p = {0, 0, MDX_AGG_AVG};
    int64_t step_ms = 0;
    struct cli_conf conf;
    struct mdx_store *st;
    int64_t now = mdx_now_ms();
    char *end;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't': q.tenant = optarg; break;
        case 'd': q.device = optarg; break;
        case 's': q.sensor = optarg; break;
        case 'f': from_s = optarg; break;
        case 'u': to_s = optarg; break;
        case 'o': format = optarg; break;
        case 'l':
            q.limit = strtoll(optarg, &end, 10);
            if (*end != '\0' || q.limit < 0) {
                fprintf(stderr, "modax query: --limit needs a whole number >= 0\n");
                return CLI_USAGE;
            }
            break;
        case 'p':
            if (parse_step(optarg, &step_ms) != MDX_OK) {
                fprintf(stderr, "modax query: --step '%s' is not a duration; use a whole number "
                                "> 0 with s, m, h or d, e.g. 30s, 15m, 1h, 1d\n", optarg);
                return CLI_USAGE;
            }
            break;
        case 'a':
            agg_s = optarg;
            if (mdx_agg_parse(optarg, &p.agg) != MDX_OK) {
                fprintf(stderr, "modax query: --agg must be avg, min, max or count, not '%s'\n",
                        optarg);
                return CLI_USAGE;
            }
            break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_usage_error(usage);
        }
    }
    if (optind != argc || q.tenant == NULL || q.device == NULL || q.sensor == NULL) {
        fprintf(stderr, "modax query: --tenant, --device and --sensor are required\n");
        return cli_usage_error(usage);
    }
    if (parse_when(from_s, now, &q.from_ms) != MDX_OK || parse_when(to_s, now, &q.to_ms) != MDX_OK) {
        fprintf(stderr, "modax query: cannot read the time '%s'; use 'YYYY-MM-DD HH:MM:SS', "
                        "epoch ms or -1h\n", parse_when(from_s, now, &q.from_ms) ? from_s : to_s);
        return CLI_USAGE;
    }
    if (q.from_ms > q.to_ms) {
        fprintf(stderr, "modax query: --from is after --to\n");
        return CLI_USAGE;
    }
    if (agg_s != NULL && step_ms == 0) {
        fprintf(stderr, "modax query: --agg needs --step, e.g. --step 1h --agg %s\n", agg_s);
        return CLI_USAGE;
    }
    if (strcmp(format, "json") == 0) {
        p.json = 1;
    } else if (strcmp(format, "csv") != 0) {
        fprintf(stderr, "modax query: --format must be csv or json\n");
        return CLI_USAGE;
    }
    rc = cli_open(&conf, &st);
    if (rc != CLI_OK) {
        return rc;
    }
    rc = mdx_store_device_get(st, q.tenant, q.device, &(struct mdx_device_info){0});
    if (rc == MDX_OK && step_ms > 0) {
        printf(p.json ? "[" : "time,ts_ms,value,count\n");
        rc = mdx_store_query_buckets(st, &q, step_ms, print_bucket, &p);
        if (p.json) {
            printf("]\n");
        }
    } else if (rc == MDX_OK) {
        printf(p.json ? "[" : "time,ts_ms,value,ts_substituted\n");
        rc = mdx_store_query_points(st, &q, print_point, &p);
        if (p.json) {
            printf("]\n");
        }
    }
    if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax query: no device '%s' in tenant '%s'; see 'modax device list %s'\n",
                q.device, q.tenant, q.tenant);
    } else if (rc != MDX_OK) {
        fprintf(stderr, "modax query: %s\n", mdx_strerror(rc));
    }
    return cli_finish(&conf, st, rc);
}
