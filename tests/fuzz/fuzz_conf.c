/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_conf.c - fuzz target for the configuration file parser
 * (mdx_conf_load in src/base/conf.c).
 *
 * The input is written as a config file and loaded against a table with
 * a key of each type (string, bounded integer, boolean, bounded double,
 * secret, a required string). A load that succeeds must leave every value
 * inside its bounds; it is written back as a file (strings quoted) and
 * loaded again, which must give the same values. A secret in the file is
 * refused, and so is a file with a NUL byte; a load that fails must say
 * why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modax/conf.h"
#include "modax/status.h"

/* Longest string value written back (the loader's lines are at most 4094 bytes). */
#define ROUND_TRIP_MAX 2000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_conf {
    char *host;
    char *name;
    int64_t port;
    int on;
    double ratio;
    char *token;
};

static const struct mdx_conf_key fz_keys[] = {
    MDX_CONF_STR("fz.host", "localhost", struct fz_conf, host, "host"),
    MDX_CONF_STR("fz.name", NULL, struct fz_conf, name, "required name"),
    MDX_CONF_INT("fz.port", "1883", 1, 65535, struct fz_conf, port, "port"),
    MDX_CONF_BOOL("fz.on", "false", struct fz_conf, on, "switch"),
    MDX_CONF_DBL("fz.ratio", "0.5", -1e6, 1e6, struct fz_conf, ratio, "ratio"),
    MDX_CONF_SECRET("fz.token", struct fz_conf, token, "secret"),
    MDX_CONF_END,
};

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        abort();
    }
}

/* `key = "value"` with \" and \\ escaped. */
static void put_quoted(FILE *f, const char *key, const char *v)
{
    fprintf(f, "%s = \"", key);
    for (; *v != '\0'; v++) {
        if (*v == '"' || *v == '\\') {
            fputc('\\', f);
        }
        fputc(*v, f);
    }
    fputs("\"\n", f);
}

static int load(const char *path, struct fz_conf *c, char *err, size_t errlen)
{
    const struct mdx_conf_section sec = {"fuzz", fz_keys, c};

    memset(c, 0, sizeof(*c));
    err[0] = '\0';
    return mdx_conf_load(&sec, 1, path, err, errlen);
}

static void fini(struct fz_conf *c)
{
    const struct mdx_conf_section sec = {"fuzz", fz_keys, c};

    mdx_conf_fini(&sec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/fuzz_conf.XXXXXX", err[1024];
    struct fz_conf a, b;
    FILE *f;
    int fd = mkstemp(path);

    if (fd < 0) {
        abort();
    }
    close(fd);
    write_file(path, data, size);
    if (load(path, &a, err, sizeof(err)) != MDX_OK) {
        if (err[0] == '\0') {
            abort();
        }
        fini(&a);
        unlink(path);
        return 0;
    }
    /* A NUL byte would cut a value short: the file is refused. */
    if (memchr(data, '\0', size) != NULL) {
        abort();
    }
    if (a.host == NULL || a.name == NULL || a.port < 1 || a.port > 65535 ||
        (a.on != 0 && a.on != 1) || !(a.ratio >= -1e6 && a.ratio <= 1e6) || a.token != NULL) {
        abort();
    }
    /* Quoted and escaped, a value may double: the written line must stay under 4 KiB. */
    if (strlen(a.host) > ROUND_TRIP_MAX || strlen(a.name) > ROUND_TRIP_MAX) {
        fini(&a);
        unlink(path);
        return 0;
    }
    f = fopen(path, "w");
    if (f == NULL) {
        abort();
    }
    put_quoted(f, "fz.host", a.host);
    put_quoted(f, "fz.name", a.name);
    fprintf(f, "fz.port = %lld\nfz.on = %s\nfz.ratio = %.17g\n", (long long)a.port,
            a.on ? "true" : "false", a.ratio);
    if (fclose(f) != 0) {
        abort();
    }
    if (load(path, &b, err, sizeof(err)) != MDX_OK || strcmp(a.host, b.host) != 0 ||
        strcmp(a.name, b.name) != 0 || a.port != b.port || a.on != b.on || a.ratio != b.ratio) {
        abort();
    }
    fini(&a);
    fini(&b);
    unlink(path);
    return 0;
}
