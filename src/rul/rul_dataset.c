/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_dataset.c - reads run-to-failure histories (C-MAPSS whitespace files
 * or CSV with a header) into a mdx_rul_dataset, with the column mapping of
 * mdx_rul_read_opts. Bad input is refused with its line and column.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/rul.h"
#include "modax/status.h"

#define MAX_COLS 256
#define FILE_MAX_BYTES ((size_t)1 << 30)

/* One data row while reading, before grouping by asset. */
struct row {
    size_t asset;
    double time;
    long line;
};

struct reader {
    const struct mdx_rul_read_opts *o;
    char *why;
    size_t whylen;
    size_t n_cols;
    char names[MAX_COLS][MDX_NAME_MAX + 1];
    int asset_col, time_col;
    int input_cols[MDX_RUL_INPUTS_MAX];
    size_t n_inputs;
    /* growing arrays */
    struct row *rows;
    double *values;
    size_t n_rows, cap_rows, cap_values; /* cap_values counts doubles */
    char (*assets)[MDX_NAME_MAX + 1];
    size_t n_assets, cap_assets, last_asset;
};

static int read_file(const char *path, char **buf, size_t *len, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    struct mdx_buf b;
    char chunk[16384];
    size_t got;
    int rc;

    if (f == NULL) {
        snprintf(why, whylen, "cannot open '%s': %s", path, strerror(errno));
        return MDX_EIO;
    }
    mdx_buf_init(&b, FILE_MAX_BYTES);
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (mdx_buf_add(&b, chunk, got) != MDX_OK) {
            break;
        }
    }
    rc = b.err;
    if (rc == MDX_EFULL) {
        snprintf(why, whylen, "'%s' is larger than %zu bytes", path, FILE_MAX_BYTES);
        rc = MDX_EINVAL;
    } else if (rc != MDX_OK) {
        snprintf(why, whylen, "out of memory reading '%s'", path);
    } else if (ferror(f)) {
        snprintf(why, whylen, "cannot read '%s': %s", path, strerror(errno));
        rc = MDX_EIO;
    }
    fclose(f);
    *len = b.len;
    *buf = rc == MDX_OK ? mdx_buf_take(&b) : NULL;
    mdx_buf_fini(&b);
    if (rc == MDX_OK && *buf == NULL) {
        snprintf(why, whylen, "out of memory reading '%s'", path);
        return MDX_ENOMEM;
    }
    return rc;
}

/* Splits 'line' (modified in place) into cells; returns the count, or MAX_COLS + 1 if more. */
static size_t split(char *line, int csv, char **cells)
{
    size_t n = 0;
    char *p = line;

    if (!csv) {
        while (*p != '\0') {
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            if (*p == '\0') {
                break;
            }
            if (n == MAX_COLS) {
                return MAX_COLS + 1;
            }
            cells[n++] = p;
            while (*p != '\0' && *p != ' ' && *p != '\t') {
                p++;
            }
            if (*p != '\0') {
                *p++ = '\0';
            }
        }
        return n;
    }
    for (;;) {
        char *end = strchr(p, ',');
        char *s = p, *e;

        if (end != NULL) {
            *end = '\0';
        }
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            *--e = '\0';
        }
        if (e - s >= 2 && *s == '"' && e[-1] == '"') {
            e[-1] = '\0';
            s++;
        }
        if (n == MAX_COLS) {
            return MAX_COLS + 1;
        }
        cells[n++] = s;
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    return n;
}

/* Resolves a column given by name or 1-based index; -1 with 'why' set if there is none. */
static int resolve_col(struct reader *r, const char *spec, const char *what)
{
    char *end;
    long idx;

    while (*spec == ' ') {
        spec++;
    }
    if (*spec >= '0' && *spec <= '9') {
        idx = strtol(spec, &end, 10);
        if (*end == '\0') {
            if (idx < 1 || (size_t)idx > r->n_cols) {
                snprintf(r->why, r->whylen, "missing column: %s column %ld does not exist (the file "
                         "has %zu columns)", what, idx, r->n_cols);
                return -1;
            }
            return (int)idx - 1;
        }
    }
    for (size_t c = 0; c < r->n_cols; c++) {
        if (strcmp(r->names[c], spec) == 0) {
            return (int)c;
        }
    }
    snprintf(r->why, r->whylen, "missing column: no %s column named '%s' in the file", what, spec);
    return -1;
}

static int add_input(struct reader *r, int col)
{
    if (col == r->asset_col || col == r->time_col) {
        snprintf(r->why, r->whylen, "column %d ('%s') is the asset or time column, not an input",
                 col + 1, r->names[col]);
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < r->n_inputs; i++) {
        if (r->input_cols[i] == col) {
            snprintf(r->why, r->whylen, "input column '%s' is named twice", r->names[col]);
            return MDX_EINVAL;
        }
    }
    if (r->n_inputs == MDX_RUL_INPUTS_MAX) {
        snprintf(r->why, r->whylen, "more than %d input columns", MDX_RUL_INPUTS_MAX);
        return MDX_EINVAL;
    }
    r->input_cols[r->n_inputs++] = col;
    return MDX_OK;
}

/* Maps asset, time and input columns once the column names are known. */
static int map_columns(struct reader *r)
{
    const struct mdx_rul_read_opts *o = r->o;
    int csv = o->format == MDX_RUL_FMT_CSV;
    const char *a = o->asset_col ? o->asset_col : (csv ? "1" : "unit");
    const char *t = o->time_col ? o->time_col : (csv ? "2" : "cycle");

    if ((r->asset_col = resolve_col(r, a, "asset")) < 0 ||
        (r->time_col = resolve_col(r, t, "time")) < 0) {
        return MDX_EINVAL;
    }
    if (r->asset_col == r->time_col) {
        snprintf(r->why, r->whylen, "the asset and time columns are the same column");
        return MDX_EINVAL;
    }
    if (o->inputs == NULL || o->inputs[0] == '\0') {
        for (size_t c = 0; c < r->n_cols; c++) {
            if ((int)c != r->asset_col && (int)c != r->time_col && add_input(r, (int)c) != MDX_OK) {
                return MDX_EINVAL;
            }
        }
        if (r->n_inputs == 0) {
            /* A file of only asset and time columns has nothing to learn from. */
            snprintf(r->why, r->whylen, "no input columns");
            return MDX_EINVAL;
        }
        return MDX_OK;
    }
    char list[4096];
    char *save = NULL;
    if (strlen(o->inputs) >= sizeof(list)) {
        snprintf(r->why, r->whylen, "the input list is too long");
        return MDX_EINVAL;
    }
    memcpy(list, o->inputs, strlen(o->inputs) + 1);
    for (char *tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        long lo, hi;
        char *end, *end2;

        while (*tok == ' ') {
            tok++;
        }
        lo = strtol(tok, &end, 10);
        if (end != tok && *end == '-' && isdigit((unsigned char)end[1])) {
            hi = strtol(end + 1, &end2, 10);
            if (*end2 != '\0' || lo < 1 || hi < lo || (size_t)hi > r->n_cols) {
                snprintf(r->why, r->whylen, "missing column: range '%s' is not within columns 1-%zu",
                         tok, r->n_cols);
                return MDX_EINVAL;
            }
            for (long c = lo; c <= hi; c++) {
                if (add_input(r, (int)c - 1) != MDX_OK) {
                    return MDX_EINVAL;
                }
            }
            continue;
        }
        int col = resolve_col(r, tok, "input");
        if (col < 0 || add_input(r, col) != MDX_OK) {
            return MDX_EINVAL;
        }
    }
    if (r->n_inputs == 0) {
        snprintf(r->why, r->whylen, "no input columns");
        return MDX_EINVAL;
    }
    return MDX_OK;
}

/*
 * A CSV header names each column once, with 1 to MDX_NAME_MAX bytes: columns
 * are chosen by name, and a model's inputs are named after them.
 */
static int header_ok(struct reader *r, char **cells, size_t n, long line)
{
    for (size_t c = 0; c < n; c++) {
        size_t len = strlen(cells[c]);
        if (len == 0 || len > MDX_NAME_MAX) {
            snprintf(r->why, r->whylen, "line %ld, column %zu: a column name is 1 to %d bytes",
                     line, c + 1, MDX_NAME_MAX);
            return MDX_EINVAL;
        }
        for (size_t b = 0; b < c; b++) {
            if (strcmp(cells[b], cells[c]) == 0) {
                snprintf(r->why, r->whylen, "line %ld, column %zu: column name '%s' given twice",
                         line, c + 1, cells[c]);
                return MDX_EINVAL;
            }
        }
    }
    return MDX_OK;
}

static void cmapss_names(struct reader *r)
{
    for (size_t c = 0; c < r->n_cols; c++) {
        if (c == 0) {
            snprintf(r->names[c], sizeof(r->names[c]), "unit");
        } else if (c == 1) {
            snprintf(r->names[c], sizeof(r->names[c]), "cycle");
        } else if (c < 5) {
            snprintf(r->names[c], sizeof(r->names[c]), "setting%zu", c - 1);
        } else {
            snprintf(r->names[c], sizeof(r->names[c]), "s%zu", c - 4);
        }
    }
}

static size_t asset_index(struct reader *r, const char *name)
{
    if (r->n_assets > 0 && strcmp(r->assets[r->last_asset], name) == 0) {
        return r->last_asset;
    }
    for (size_t a = 0; a < r->n_assets; a++) {
        if (strcmp(r->assets[a], name) == 0) {
            return r->last_asset = a;
        }
    }
    void *p = mdx_grow(r->assets, &r->cap_assets, r->n_assets + 1, sizeof(*r->assets), 64);
    if (p == NULL) {
        return (size_t)-1;
    }
    r->assets = p;
    snprintf(r->assets[r->n_assets], sizeof(r->assets[0]), "%s", name);
    return r->last_asset = r->n_assets++;
}

/* Parses one data row's cells. */
static int parse_row(struct reader *r, char **cells, size_t n, long line)
{
    struct row *row;
    double *vals;
    char *end;

    if (n != r->n_cols) {
        snprintf(r->why, r->whylen, "line %ld: %zu columns, expected %zu (missing or extra columns)",
                 line, n, r->n_cols);
        return MDX_EINVAL;
    }
    struct row *nr = mdx_grow(r->rows, &r->cap_rows, r->n_rows + 1, sizeof(*nr), 1024);
    if (nr == NULL) {
        return MDX_ENOMEM;
    }
    r->rows = nr;
    size_t k = r->n_inputs ? r->n_inputs : 1;
    double *nv = mdx_grow(r->values, &r->cap_values, (r->n_rows + 1) * k, sizeof(*nv), 1024 * k);
    if (nv == NULL) {
        return MDX_ENOMEM;
    }
    r->values = nv;
    row = &r->rows[r->n_rows];
    vals = &r->values[r->n_rows * r->n_inputs];
    row->line = line;
    const char *a = cells[r->asset_col];
    if (a[0] == '\0' || strlen(a) > MDX_NAME_MAX || strcasecmp(a, "nan") == 0) {
        snprintf(r->why, r->whylen, "line %ld, column %d (%s): asset id '%.40s' is empty, NaN or "
                 "longer than %d bytes", line, r->asset_col + 1, r->names[r->asset_col], a,
                 MDX_NAME_MAX);
        return MDX_EINVAL;
    }
    row->asset = asset_index(r, a);
    if (row->asset == (size_t)-1) {
        return MDX_ENOMEM;
    }
    const char *t = cells[r->time_col];
    errno = 0;
    row->time = strtod(t, &end);
    if (end == t || *end != '\0' || errno == ERANGE || !isfinite(row->time)) {
        int64_t ms;
        if (mdx_parse_time_ms(t, &ms) != MDX_OK) {
            snprintf(r->why, r->whylen, "line %ld, column %d (%s): '%.40s' is not a number, a "
                     "finite number or a timestamp", line, r->time_col + 1, r->names[r->time_col], t);
            return MDX_EINVAL;
        }
        row->time = (double)ms;
    }
    for (size_t i = 0; i < r->n_inputs; i++) {
        int c = r->input_cols[i];
        const char *s = cells[c];

        errno = 0;
        vals[i] = s[0] == '\0' ? NAN : strtod(s, &end);
        if (s[0] != '\0' && (end == s || *end != '\0' || errno == ERANGE || isinf(vals[i]))) {
            snprintf(r->why, r->whylen, "line %ld, column %d (%s): '%.40s' is not a number", line,
                     c + 1, r->names[c], s);
            return MDX_EINVAL;
        }
        if (isnan(vals[i]) && !r->o->nan_carry) {
            snprintf(r->why, r->whylen, "line %ld, column %d (%s): NaN or empty cell (refused; "
                     "--nan carry carries the asset's previous value)", line, c + 1, r->names[c]);
            return MDX_EINVAL;
        }
    }
    r->n_rows++;
    return MDX_OK;
}

static int cmp_rows(const void *a, const void *b)
{
    const struct row *x = a, *y = b;

    if (x->asset != y->asset) {
        return x->asset < y->asset ? -1 : 1;
    }
    if (x->time != y->time) {
        return x->time < y->time ? -1 : 1;
    }
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Groups rows by asset in time order, carries NaN, skips short assets, builds 'd'. */
static int assemble(struct reader *r, struct mdx_rul_dataset *d)
{
    size_t k = r->n_inputs, kept_rows = 0;
    size_t *count;
    struct row *sorted = r->rows;

    /* sort an index so values move with their rows */
    size_t *order = mdx_malloc(r->n_rows * sizeof(*order));
    struct row *tmp = mdx_malloc(r->n_rows * sizeof(*tmp));
    count = mdx_calloc(r->n_assets + 1, sizeof(*count));
    if (order == NULL || tmp == NULL || count == NULL) {
        mdx_free(order);
        mdx_free(tmp);
        mdx_free(count);
        return MDX_ENOMEM;
    }
    for (size_t i = 0; i < r->n_rows; i++) {
        tmp[i] = r->rows[i];
        tmp[i].line = (long)i; /* position, to find the values */
    }
    for (size_t i = 0; i < r->n_rows; i++) {
        count[r->rows[i].asset]++;
    }
    /* order by (asset, time, file position) */
    qsort(tmp, r->n_rows, sizeof(*tmp), cmp_rows);
    for (size_t i = 0; i < r->n_rows; i++) {
        order[i] = (size_t)tmp[i].line;
    }
    int rc = MDX_OK;
    for (size_t i = 1; i < r->n_rows && rc == MDX_OK; i++) {
        const struct row *p = &sorted[order[i - 1]], *q = &sorted[order[i]];
        if (p->asset == q->asset && p->time == q->time) {
            snprintf(r->why, r->whylen, "line %ld: asset '%s' has time %.17g twice (also line %ld)",
                     q->line, r->assets[q->asset], q->time, p->line);
            rc = MDX_EINVAL;
        }
    }
    size_t n_keep = 0;
    for (size_t a = 0; a < r->n_assets && rc == MDX_OK; a++) {
        if (r->o->min_rows > 0 && count[a] < r->o->min_rows) {
            mdx_log_warn("rul", "asset skipped: fewer rows than the window",
                         MDX_F_STR("asset", r->assets[a]), MDX_F_INT("rows", count[a]),
                         MDX_F_INT("needed", r->o->min_rows));
            d->skipped_assets++;
        } else {
            n_keep++;
            kept_rows += count[a];
        }
    }
    if (rc == MDX_OK && n_keep == 0) {
        snprintf(r->why, r->whylen, "no asset has at least %zu rows (the window); %zu skipped",
                 r->o->min_rows, d->skipped_assets);
        rc = MDX_EINVAL;
    }
    if (rc == MDX_OK) {
        d->values = mdx_malloc((kept_rows ? kept_rows : 1) * k * sizeof(double));
        d->time = mdx_malloc((kept_rows ? kept_rows : 1) * sizeof(double));
        d->asset = mdx_calloc(n_keep, sizeof(*d->asset));
        d->asset_start = mdx_calloc(n_keep + 1, sizeof(size_t));
        if (d->values == NULL || d->time == NULL || d->asset == NULL || d->asset_start == NULL) {
            rc = MDX_ENOMEM;
        }
    }
    for (size_t i = 0, a_out = 0; rc == MDX_OK && i < r->n_rows;) {
        size_t a = sorted[order[i]].asset, n = count[a];
        if (r->o->min_rows > 0 && n < r->o->min_rows) {
            i += n;
            continue;
        }
        memcpy(d->asset[a_out], r->assets[a], sizeof(d->asset[0]));
        for (size_t j = 0; j < n && rc == MDX_OK; j++) {
            const struct row *src = &sorted[order[i + j]];
            const double *v = &r->values[order[i + j] * k];
            double *out = &d->values[d->n_rows * k];
            for (size_t c = 0; c < k; c++) {
                out[c] = v[c];
                if (isnan(out[c])) {
                    if (j == 0) {
                        snprintf(r->why, r->whylen, "line %ld, column %d (%s): NaN in the first row "
                                 "of asset '%s' (nothing to carry)", src->line,
                                 r->input_cols[c] + 1, r->names[r->input_cols[c]], r->assets[a]);
                        rc = MDX_EINVAL;
                        break;
                    }
                    out[c] = (out - k)[c]; /* the asset's previous row (c - k would wrap) */
                }
            }
            d->time[d->n_rows++] = src->time;
        }
        a_out++;
        d->asset_start[a_out] = d->n_rows;
        d->n_assets = a_out;
        i += n;
    }
    mdx_free(order);
    mdx_free(tmp);
    mdx_free(count);
    return rc;
}

static int parse(struct reader *r, char *buf, struct mdx_rul_dataset *d)
{
    int csv = r->o->format == MDX_RUL_FMT_CSV, have_cols = 0, rc;
    char *cells[MAX_COLS + 1];
    long line = 0;
    char *p = buf;

    while (*p != '\0') {
        char *nl = strchr(p, '\n'), *l = p;
        size_t n;

        line++;
        if (nl != NULL) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p += strlen(p);
        }
        n = strlen(l);
        if (n > 0 && l[n - 1] == '\r') {
            l[--n] = '\0';
        }
        if (strspn(l, " \t") == n) {
            continue; /* blank line */
        }
        n = split(l, csv, cells);
        if (n > MAX_COLS) {
            snprintf(r->why, r->whylen, "line %ld: more than %d columns", line, MAX_COLS);
            return MDX_EINVAL;
        }
        if (!have_cols) {
            have_cols = 1;
            r->n_cols = n;
            if (csv) {
                if (header_ok(r, cells, n, line) != MDX_OK) {
                    return MDX_EINVAL;
                }
                for (size_t c = 0; c < n; c++) {
                    snprintf(r->names[c], sizeof(r->names[c]), "%s", cells[c]);
                }
            } else {
                cmapss_names(r);
            }
            if (map_columns(r) != MDX_OK) {
                char tmp[512];
                snprintf(tmp, sizeof(tmp), "line %ld: %s", line, r->why);
                snprintf(r->why, r->whylen, "%s", tmp);
                return MDX_EINVAL;
            }
            if (csv) {
                continue; /* the header */
            }
        }
        rc = parse_row(r, cells, n, line);
        if (rc != MDX_OK) {
            if (rc == MDX_ENOMEM) {
                snprintf(r->why, r->whylen, "out of memory");
            }
            return rc;
        }
    }
    if (r->n_rows == 0) {
        snprintf(r->why, r->whylen, have_cols ? "no data rows (only a header)" : "empty file");
        return MDX_EINVAL;
    }
    d->n_inputs = r->n_inputs;
    for (size_t i = 0; i < r->n_inputs; i++) {
        memcpy(d->inputs[i], r->names[r->input_cols[i]], sizeof(d->inputs[i]));
    }
    rc = assemble(r, d);
    if (rc == MDX_ENOMEM) {
        snprintf(r->why, r->whylen, "out of memory");
    }
    return rc;
}

int mdx_rul_dataset_read(const char *path, const struct mdx_rul_read_opts *o,
                         struct mdx_rul_dataset **out, char *why, size_t whylen)
{
    struct reader *r;
    struct mdx_rul_dataset *d;
    char *buf = NULL;
    size_t len = 0;
    unsigned char md[32];
    unsigned mdlen = 0;
    int rc;

    *out = NULL;
    rc = read_file(path, &buf, &len, why, whylen);
    if (rc != MDX_OK) {
        return rc;
    }
    r = mdx_calloc(1, sizeof(*r));
    d = mdx_calloc(1, sizeof(*d));
    if (r == NULL || d == NULL) {
        mdx_free(r);
        mdx_free(d);
        mdx_free(buf);
        snprintf(why, whylen, "out of memory");
        return MDX_ENOMEM;
    }
    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        snprintf(why, whylen, "SHA-256 failed");
        rc = MDX_EIO;
    } else {
        for (size_t i = 0; i < 32; i++) {
            snprintf(d->sha256 + 2 * i, 3, "%02x", md[i]);
        }
        r->o = o;
        r->why = why;
        r->whylen = whylen;
        rc = parse(r, buf, d);
    }
    mdx_free(r->rows);
    mdx_free(r->values);
    mdx_free(r->assets);
    mdx_free(r);
    mdx_free(buf);
    if (rc != MDX_OK) {
        mdx_rul_dataset_free(d);
        return rc;
    }
    *out = d;
    return MDX_OK;
}

void mdx_rul_dataset_free(struct mdx_rul_dataset *d)
{
    if (d == NULL) {
        return;
    }
    mdx_free(d->values);
    mdx_free(d->time);
    mdx_free(d->asset);
    mdx_free(d->asset_start);
    mdx_free(d);
}

int mdx_rul_dataset_input(const struct mdx_rul_dataset *d, const char *name)
{
    for (size_t i = 0; i < d->n_inputs; i++) {
        if (strcmp(d->inputs[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}
