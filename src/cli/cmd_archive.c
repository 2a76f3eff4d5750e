/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_archive.c - `modax archive run|list`: one archive pass now, or the
 * archive objects recorded in the store.
 *
 * `run` shows a progress bar on a terminal (stderr) and plain log lines
 * otherwise. SIGINT/SIGTERM end the pass after the object it is on; the
 * next pass finishes what was left.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "modax/archive.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "archive"
#define BAR_WIDTH 30

static struct mdx_archiver *volatile running;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax archive run [--tenant T] [--dry-run]\n"
            "       modax archive list [--tenant T]\n\n"
            "run   archives raw points of days older than the tenant's archive age\n"
            "      (archive.after_days, or `modax tenant retention`) to the object store\n"
            "      (archive.store.*), deletes them from the store once each object is read\n"
            "      back and verified, and deletes objects older than the expiry age.\n"
            "      --dry-run only counts. Interrupted, the next run finishes the work.\n"
            "list  prints the recorded archive objects: tenant, device, date, seq, state,\n"
            "      points, bytes, key.\n");
}

static void on_signal(int sig)
{
    (void)sig;
    if (running != NULL) {
        mdx_archiver_stop(running);
    }
}

static void progress_bar(void *arg, const struct mdx_archive_progress *p)
{
    char iso[32];
    int fill = p->total > 0 ? (int)(p->done * BAR_WIDTH / p->total) : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];

    (void)arg;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '-', (size_t)(BAR_WIDTH - fill));
    bar[BAR_WIDTH] = '\0';
    mdx_format_iso_ms(p->day_ms, iso, sizeof(iso));
    fprintf(stderr, "\r[%s] %lld/%lld  %.1f MiB  %s/%s %.10s\033[K", bar, (long long)p->done,
            (long long)p->total, (double)p->bytes / 1048576.0, p->tenant, p->device, iso);
    fflush(stderr);
}

static void progress_log(void *arg, const struct mdx_archive_progress *p)
{
    char iso[32];

    (void)arg;
    mdx_format_iso_ms(p->day_ms, iso, sizeof(iso));
    iso[10] = '\0';
    mdx_log_info(MOD, "partition done", MDX_F_STR("tenant", p->tenant),
                 MDX_F_STR("device", p->device), MDX_F_STR("date", iso), MDX_F_INT("done", p->done),
                 MDX_F_INT("total", p->total));
}

static int run(struct cli_conf *conf, struct mdx_store *st, const char *tenant, int dry_run)
{
    struct mdx_objstore *os;
    struct mdx_archiver *ar;
    struct mdx_archive_stats s;
    struct sigaction sa;
    int err = MDX_OK, rc, tty = isatty(2);

    os = mdx_objstore_open(&conf->objstore, &err);
    if (os == NULL) {
        fprintf(stderr,
                "modax archive: cannot open the '%s' object store: %s; check archive.store.*\n",
                conf->objstore.kind, mdx_strerror(err));
        return err;
    }
    conf->archive.tier = conf->objstore.archive_tier;
    ar = mdx_archiver_create(&conf->archive, st, os);
    if (ar == NULL) {
        mdx_objstore_close(os);
        return MDX_ENOMEM;
    }
    mdx_archiver_on_progress(ar, tty ? progress_bar : progress_log, NULL);
    running = ar;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = mdx_archiver_run(ar, tenant, dry_run, mdx_now_ms(), &s);
    running = NULL;
    if (tty && s.partitions > 0) {
        fputc('\n', stderr);
    }
    printf("%s%lld partitions: %lld objects, %lld points, %lld bytes; %lld raw points deleted; "
           "%lld earlier objects finished; %lld objects expired; %lld left for later\n",
           dry_run ? "dry run: " : "", (long long)s.partitions, (long long)s.objects,
           (long long)s.points, (long long)s.bytes, (long long)s.deleted, (long long)s.resumed,
           (long long)s.expired, (long long)s.skipped);
    if (rc == MDX_EAGAIN) {
        fprintf(stderr, "modax archive: the object store is unavailable; nothing unverified was "
                        "deleted; run again later\n");
    } else if (rc == MDX_ESTOPPED) {
        fprintf(stderr, "modax archive: stopped; the next run finishes the work\n");
    } else if (rc == MDX_EEXIST) {
        fprintf(stderr, "modax archive: another archiver is working on this database (its lease "
                        "is in the log above); try again later\n");
    } else if (rc == MDX_ENOTFOUND) {
        fprintf(stderr, "modax archive: tenant '%s' does not exist\n", tenant);
    } else if (rc != MDX_OK) {
        fprintf(stderr, "modax archive: %s (see the log above)\n", mdx_strerror(rc));
    }
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    return rc;
}

static int print_obj(void *arg, const struct mdx_archive_obj *o)
{
    static const char *const states[] = {"pending", "verified", "done"};
    char iso[32];

    (void)arg;
    mdx_format_iso_ms(o->day_ms, iso, sizeof(iso));
    printf("%s\t%s\t%.10s\t%lld\t%s\t%lld\t%lld\t%s\n", o->tenant, o->device, iso,
           (long long)o->seq, o->state >= 0 && o->state <= 2 ? states[o->state] : "?",
           (long long)o->points, (long long)o->size, o->key);
    return MDX_OK;
}

int cmd_archive(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tenant", required_argument, NULL, 't'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *tenant = NULL, *sub;
    int dry_run = 0, rc, status;
    struct cli_conf conf;
    struct mdx_store *st;

    if (!cli_subcommand(argc, argv, usage, &sub, &status)) {
        return status;
    }
    if (strcmp(sub, "run") != 0 && strcmp(sub, "list") != 0) {
        return cli_usage_error(usage);
    }
    while ((rc = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (rc) {
        case 't': tenant = optarg; break;
        case 'n': dry_run = 1; break;
        case 'h': usage(stdout); return CLI_OK;
        default: return cli_usage_error(usage);
        }
    }
    if (optind != argc - 1 || (dry_run && strcmp(sub, "run") != 0)) {
        return cli_usage_error(usage);
    }
    status = cli_open(&conf, &st);
    if (status != CLI_OK) {
        return status;
    }
    if (strcmp(sub, "run") == 0) {
        rc = run(&conf, st, tenant, dry_run);
    } else {
        printf("tenant\tdevice\tdate\tseq\tstate\tpoints\tbytes\tkey\n");
        rc = mdx_store_archive_obj_list(st, tenant, -1, 0, print_obj, NULL);
        if (rc != MDX_OK) {
            fprintf(stderr, "modax archive list: %s\n", mdx_strerror(rc));
        }
    }
    return cli_finish(&conf, st, rc);
}
