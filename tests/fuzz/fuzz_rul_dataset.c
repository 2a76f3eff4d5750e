/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_rul_dataset.c - fuzz target for the C-MAPSS and CSV readers of
 * run-to-failure histories (mdx_rul_dataset_read in src/rul/rul_dataset.c).
 *
 * Byte 0 of the input picks the format (C-MAPSS or CSV), NaN carrying,
 * min_rows (0..3) and whether the inputs are named ("s2,s3-5" / "3-4");
 * the rest is written as the file. A dataset read must hold together:
 * inputs are named, each found by its name; assets partition the rows in
 * order, each asset's times strictly rise,
 * asset names are unique and non-empty, no value or time is NaN or
 * infinite, no kept asset is shorter than min_rows, and sha256 is that of
 * the file's bytes. A refusal must say why.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/encode.h"
#include "modax/rul.h"
#include "modax/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        abort();
    }
}

static void holds(const struct mdx_rul_dataset *d, const struct mdx_rul_read_opts *o,
                  const uint8_t *file, size_t n)
{
    char sha[65];

    if (d->n_assets == 0 || d->n_inputs == 0 || d->n_inputs > MDX_RUL_INPUTS_MAX ||
        d->asset_start[0] != 0 || d->asset_start[d->n_assets] != d->n_rows) {
        abort();
    }
    for (size_t i = 0; i < d->n_inputs; i++) {
        if (d->inputs[i][0] == '\0' || memchr(d->inputs[i], '\0', sizeof(d->inputs[i])) == NULL ||
            mdx_rul_dataset_input(d, d->inputs[i]) != (int)i) {
            abort();
        }
    }
    for (size_t a = 0; a < d->n_assets; a++) {
        size_t s = d->asset_start[a], e = d->asset_start[a + 1];
        if (e <= s || e - s < o->min_rows || d->asset[a][0] == '\0') {
            abort();
        }
        for (size_t b = 0; b < a; b++) {
            if (strcmp(d->asset[a], d->asset[b]) == 0) {
                abort();
            }
        }
        for (size_t r = s; r < e; r++) {
            if (!isfinite(d->time[r]) || (r > s && !(d->time[r] > d->time[r - 1]))) {
                abort();
            }
            for (size_t i = 0; i < d->n_inputs; i++) {
                if (!isfinite(d->values[r * d->n_inputs + i])) {
                    abort();
                }
            }
        }
    }
    mdx_sha256_hex(file, n, sha);
    if (strcmp(sha, d->sha256) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/fuzz_rul_dataset.XXXXXX", why[256] = "";
    struct mdx_rul_read_opts o;
    struct mdx_rul_dataset *d = NULL;
    unsigned flags = size > 0 ? data[0] : 0;
    const uint8_t *file = data + (size > 0);
    size_t n = size > 0 ? size - 1 : 0;
    int fd = mkstemp(path), rc;

    if (fd < 0) {
        abort();
    }
    close(fd);
    write_file(path, file, n);
    memset(&o, 0, sizeof(o));
    o.format = (flags & 1) ? MDX_RUL_FMT_CSV : MDX_RUL_FMT_CMAPSS;
    o.nan_carry = (flags & 2) != 0;
    o.min_rows = (flags >> 2) & 3;
    if (flags & 16) {
        o.inputs = (flags & 1) ? "3-4" : "s2,s3-5";
    }
    rc = mdx_rul_dataset_read(path, &o, &d, why, sizeof(why));
    unlink(path);
    if (rc != MDX_OK) {
        if (why[0] == '\0' || d != NULL) {
            abort();
        }
        return 0;
    }
    holds(d, &o, file, n);
    mdx_rul_dataset_free(d);
    return 0;
}
