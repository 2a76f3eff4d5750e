/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_onnx.c - issue 15, item 4: `modax model export --onnx` on a model
 * trained on the whole C-MAPSS FD001 training set (../shared/data/cmapss,
 * beside the checkout, or $MODAX_CMAPSS_FD001). Debian's python3-onnx
 * checker accepts the file (rul_onnx_check.py), and onnxruntime-web in
 * Node.js (tests/js/rul-onnx.mjs) predicts what XGBoost predicts on every
 * FD001 training window, and on a share of them with missing (NaN)
 * features, within 1e-4, before and after the clip to [0, cap]; a small
 * model trained with missing values, whose splits send them both ways, too.
 * The bad
 * inputs: no model trained or active, a model file that is missing or
 * corrupt, an output path that cannot be written.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xgboost/c_api.h>

#include "check.h"
#include "modax/alloc.h"
#include "modax/rul.h"
#include "modax/status.h"
#include "modax/store.h"
#include "rul/rul_int.h"
#include "support/support.h"

#define TOLERANCE "1e-4"
#define NAN_EVERY 10 /* every 10th window is repeated with two features missing */

static char dir[512], fd001[1024], base[700], onnx_path[800];
static char out[1 << 16];

static void cleanup(void)
{
    tmp_remove(dir);
}

/* train_FD001.txt: $MODAX_CMAPSS_FD001, else shared/data/cmapss/ in a folder above the source. */
static int find_fd001(void)
{
    const char *env = getenv("MODAX_CMAPSS_FD001");
    char up[960]; /* room for the data path after it in fd001 */

    if (env != NULL) {
        snprintf(fd001, sizeof(fd001), "%s", env);
        return access(fd001, R_OK) == 0;
    }
    snprintf(up, sizeof(up), "%s", getenv("MODAX_SOURCE_DIR"));
    while (strlen(up) > 1) {
        char *slash = strrchr(up, '/');
        if (slash == NULL) {
            break;
        }
        *slash = '\0';
        snprintf(fd001, sizeof(fd001), "%s/shared/data/cmapss/train_FD001.txt",
                 up[0] ? up : "");
        if (access(fd001, R_OK) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Runs argv (a program on PATH or a path) with the test's stdout and stderr; its exit status. */
static int run(char *const argv[])
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s\n", argv[0]);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int write_floats(const char *name, const float *v, size_t n)
{
    char path[800];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL) {
        return 0;
    }
    ok = fwrite(v, sizeof(float), n, f) == n;
    return fclose(f) == 0 && ok;
}

static int file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static void test_train_and_export(void)
{
    int rc;

    tmp_make(dir, sizeof(dir), "rul-onnx");
    atexit(cleanup);
    if (!find_fd001()) {
        fprintf(stderr, "test_rul_onnx: no C-MAPSS train_FD001.txt (shared/data/cmapss beside "
                        "the checkout); set MODAX_CMAPSS_FD001\n");
        CHECK(0);
        exit(1);
    }
    snprintf(base, sizeof(base), "%s/fd001", dir);
    snprintf(onnx_path, sizeof(onnx_path), "%s/fd001.onnx", dir);
    rc = modax_run(out, sizeof(out), "train", "--data", fd001, "--format", "cmapss", "--folds",
                   "2", "--threads", "2", "--rounds", "150", "--out", base, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(out, "100 assets (0 skipped)") != NULL);
    rc = modax_run(out, sizeof(out), "model", "export", "--onnx", onnx_path, base, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(out, "exported rul-") != NULL && strstr(out, "(86 features, window 80)") != NULL);
}

static void test_onnx_checker(void)
{
    char script[700], manifest[800];
    const char *py = getenv("MODAX_PYTHON3") ? getenv("MODAX_PYTHON3") : "/usr/bin/python3";

    snprintf(script, sizeof(script), "%s/tests/integration/rul_onnx_check.py",
             getenv("MODAX_SOURCE_DIR"));
    snprintf(manifest, sizeof(manifest), "%s.manifest.json", base);
    char *const argv[] = {(char *)py, script, onnx_path, manifest, NULL};
    CHECK_EQ_INT(run(argv), 0);
}

/* onnxruntime-web on dir/PREFIX{x,raw,rul}.f32 against 'model_onnx'. */
static void node_compare(const char *model_onnx, const char *prefix, size_t nf)
{
    char nfs[32], script[700], xp[800], rawp[800], rulp[800];

    snprintf(nfs, sizeof(nfs), "%zu", nf);
    snprintf(script, sizeof(script), "%s/tests/js/rul-onnx.mjs", getenv("MODAX_SOURCE_DIR"));
    snprintf(xp, sizeof(xp), "%s/%sx.f32", dir, prefix);
    snprintf(rawp, sizeof(rawp), "%s/%sraw.f32", dir, prefix);
    snprintf(rulp, sizeof(rulp), "%s/%srul.f32", dir, prefix);
    char *const argv[] = {(char *)"node", script, (char *)model_onnx, xp, nfs, rawp, rulp,
                          (char *)TOLERANCE, NULL};
    CHECK_EQ_INT(run(argv), 0);
}

/* XGBoost itself (the C API, not our wrapper) on n rows: the unclipped sum of the trees. */
static int xgboost_raw(const char *model, const float *x, size_t n, size_t nf, float *raw)
{
    static const char config[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                 "\"iteration_end\": 0, \"strict_shape\": false, "
                                 "\"cache_id\": 0, \"missing\": NaN}";
    char arr[200], path[800];
    BoosterHandle b = NULL;
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    int ok;

    snprintf(path, sizeof(path), "%s.json", model);
    snprintf(arr, sizeof(arr),
             "{\"data\": [%" PRIuPTR ", true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
             "\"version\": 3}", (uintptr_t)x, n, nf);
    ok = XGBoosterCreate(NULL, 0, &b) == 0 && XGBoosterLoadModel(b, path) == 0 &&
         XGBoosterPredictFromDense(b, arr, config, NULL, &shape, &dim, &res) == 0 && res != NULL;
    if (ok) {
        memcpy(raw, res, n * sizeof(float));
    }
    XGBoosterFree(b);
    return ok;
}

static void test_onnxruntime_web_agrees(void)
{
    struct mdx_rul_read_opts ro = {.format = MDX_RUL_FMT_CMAPSS};
    struct mdx_rul_dataset *d = NULL;
    struct mdx_rul_window *w = mdx_malloc(sizeof(*w));
    struct mdx_rul_model *m;
    const struct mdx_rul_manifest *man;
    char why[512];
    float *x = NULL, *raw = NULL, *rul = NULL;
    size_t nf, n = 0, n_plain;
    int err;

    m = mdx_rul_model_load(base, why, sizeof(why), &err);
    CHECK(m != NULL && w != NULL);
    CHECK_EQ_INT(mdx_rul_dataset_read(fd001, &ro, &d, why, sizeof(why)), MDX_OK);
    if (m == NULL || w == NULL || d == NULL) {
        goto out;
    }
    man = mdx_rul_model_manifest(m);
    nf = mdx_rul_n_features(&man->spec);
    x = mdx_malloc((d->n_rows + d->n_rows / NAN_EVERY + 1) * nf * sizeof(float));
    CHECK(x != NULL);
    if (x == NULL) {
        goto out;
    }
    /* every training window the live pipeline would predict for */
    for (size_t a = 0; a < d->n_assets; a++) {
        double v[MDX_RUL_INPUTS_MAX];
        mdx_rul_window_init(w);
        for (size_t r = d->asset_start[a]; r < d->asset_start[a + 1]; r++) {
            for (size_t i = 0; i < man->spec.n_inputs; i++) {
                v[i] = d->values[r * d->n_inputs +
                                 (size_t)mdx_rul_dataset_input(d, man->spec.inputs[i])];
            }
            mdx_rul_window_push(w, &man->spec, v);
            if (mdx_rul_window_features(w, &man->spec, x + n * nf) == MDX_OK) {
                n++;
            }
        }
    }
    CHECK(n > 19000); /* 20,631 rows of 100 engines, less 14 per engine before min_rows */
    /* and a share of them with two features missing: XGBoost's default branches */
    n_plain = n;
    for (size_t r = 0; r < n_plain; r += NAN_EVERY) {
        memcpy(x + n * nf, x + r * nf, nf * sizeof(float));
        x[n * nf + (r * 7) % nf] = NAN;
        x[n * nf + (r * 13 + 5) % nf] = NAN;
        n++;
    }
    raw = mdx_malloc(n * sizeof(float));
    rul = mdx_malloc(n * sizeof(float));
    CHECK(raw != NULL && rul != NULL);
    if (raw == NULL || rul == NULL) {
        goto out;
    }
    CHECK(xgboost_raw(base, x, n, nf, raw));
    CHECK_EQ_INT(mdx_rul_predict(m, x, n, rul), MDX_OK); /* what `modax serve` stores */
    CHECK(write_floats("x.f32", x, n * nf) && write_floats("raw.f32", raw, n) &&
          write_floats("rul.f32", rul, n));
    node_compare(onnx_path, "", nf);
out:
    mdx_free(rul);
    mdx_free(raw);
    mdx_free(x);
    mdx_free(w);
    mdx_rul_dataset_free(d);
    mdx_rul_model_free(m);
}

/*
 * A booster on two features where a missing first feature means a long
 * life and a missing second one a short life: XGBoost learns splits that
 * send missing values to the "yes" side and others to the "no" side.
 */
static void test_missing_both_ways(void)
{
    enum { N = 400, NF = 2 };
    static float x[N * NF], y[N], raw[N], rul[N];
    DMatrixHandle dm = NULL;
    BoosterHandle b = NULL;
    struct mdx_rul_manifest man;
    struct mdx_rul_model *m = NULL;
    char mbase[700], monnx[800], script[700], manifest[800], why[256] = "";
    const char *py = getenv("MODAX_PYTHON3") ? getenv("MODAX_PYTHON3") : "/usr/bin/python3";
    int rc, err;

    for (int i = 0; i < N; i++) {
        float v = (float)(i % 100);
        x[i * NF] = x[i * NF + 1] = v;
        y[i] = 100.0f - v;
        if (i % 7 == 0) {
            x[i * NF] = NAN; /* missing first feature: long life, as small values */
            y[i] = 100.0f;
        } else if (i % 11 == 0) {
            x[i * NF + 1] = NAN; /* missing second feature: short life, as large values */
            y[i] = 0.0f;
        }
    }
    rc = XGDMatrixCreateFromMat(x, N, NF, NAN, &dm) == 0 &&
         XGDMatrixSetFloatInfo(dm, "label", y, N) == 0 && XGBoosterCreate(&dm, 1, &b) == 0 &&
         XGBoosterSetParam(b, "max_depth", "3") == 0 && XGBoosterSetParam(b, "eta", "0.3") == 0 &&
         XGBoosterSetParam(b, "base_score", "37.5") == 0 &&
         XGBoosterSetParam(b, "nthread", "1") == 0;
    for (int it = 0; rc && it < 40; it++) {
        rc = XGBoosterUpdateOneIter(b, it, dm) == 0;
    }
    CHECK(rc);
    memset(&man, 0, sizeof(man));
    snprintf(man.version, sizeof(man.version), "missing-both-ways");
    man.spec.n_inputs = 1;
    snprintf(man.spec.inputs[0], sizeof(man.spec.inputs[0]), "wear");
    man.spec.window = 5;
    man.spec.stats = MDX_RUL_LEVEL | MDX_RUL_MEAN;
    man.spec.ewma_alpha = 0.1;
    man.cap = 90;
    man.rounds = 40;
    snprintf(mbase, sizeof(mbase), "%s/nan-model", dir);
    snprintf(monnx, sizeof(monnx), "%s/nan-model.onnx", dir);
    CHECK_EQ_INT(rul_model_save(b, &man, "test", "", mbase, why, sizeof(why)), MDX_OK);
    XGBoosterFree(b);
    XGDMatrixFree(dm);
    m = mdx_rul_model_load(mbase, why, sizeof(why), &err);
    CHECK(m != NULL);
    if (m == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_rul_model_export_onnx(m, monnx, why, sizeof(why)), MDX_OK);
    /* the training rows, both missing, and values between the training ones */
    {
        static const float odd[8] = {NAN, NAN, 12.5f, NAN, NAN, 77.25f, -3.0f, 250.0f};
        memcpy(x + (N - 4) * NF, odd, sizeof(odd));
    }
    CHECK(xgboost_raw(mbase, x, N, NF, raw));
    CHECK_EQ_INT(mdx_rul_predict(m, x, N, rul), MDX_OK);
    mdx_rul_model_free(m);
    CHECK(write_floats("m-x.f32", x, N * NF) && write_floats("m-raw.f32", raw, N) &&
          write_floats("m-rul.f32", rul, N));
    node_compare(monnx, "m-", NF);
    snprintf(script, sizeof(script), "%s/tests/integration/rul_onnx_check.py",
             getenv("MODAX_SOURCE_DIR"));
    snprintf(manifest, sizeof(manifest), "%s.manifest.json", mbase);
    char *const argv[] = {(char *)py, script, monnx, manifest, (char *)"--missing-both-ways",
                          NULL};
    CHECK_EQ_INT(run(argv), 0);
}

static void test_no_model(void)
{
    char err[4096], path[800];
    int rc;

    /* an empty store: nothing trained, registered or active */
    modax_env(dir, 1);
    snprintf(path, sizeof(path), "%s/none.onnx", dir);
    rc = modax_stderr(err, sizeof(err), "model", "export", "--onnx", path, (char *)NULL);
    CHECK_EQ_INT(rc, 3);
    CHECK(strstr(err, "no RUL model is active") != NULL);
    rc = modax_stderr(err, sizeof(err), "model", "export", "--onnx", path, "v-unknown",
                      (char *)NULL);
    CHECK_EQ_INT(rc, 3);
    CHECK(strstr(err, "no model version 'v-unknown'") != NULL);
    /* a model file that is not there */
    snprintf(path, sizeof(path), "%s/missing.json", dir);
    rc = modax_stderr(err, sizeof(err), "model", "export", "--onnx", onnx_path, path,
                      (char *)NULL);
    CHECK_EQ_INT(rc, 3);
    CHECK(strstr(err, "cannot open") != NULL);
    snprintf(path, sizeof(path), "%s/none.onnx", dir);
    CHECK(!file_exists(path));
    /* no --onnx: usage */
    rc = modax_stderr(err, sizeof(err), "model", "export", base, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(err, "usage: modax model export --onnx FILE") != NULL);
}

static void test_registered_model(void)
{
    struct mdx_rul_model_rec *rec = calloc(1, sizeof(*rec));
    struct mdx_store *st = test_store_open(dir);
    char path[800];
    int rc;

    /* the model in the registry (as modax model register stores it), active by default */
    CHECK(rec != NULL && st != NULL);
    if (rec == NULL || st == NULL) {
        free(rec);
        mdx_store_close(st);
        return;
    }
    snprintf(rec->version, sizeof(rec->version), "fd001-v1");
    snprintf(rec->path, sizeof(rec->path), "%s.json", base);
    snprintf(rec->manifest, sizeof(rec->manifest), "{}");
    rec->created_ms = 1;
    CHECK_EQ_INT(mdx_store_rul_model_put(st, rec), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "", "fd001-v1", 2), MDX_OK);
    mdx_store_close(st);
    free(rec);
    snprintf(path, sizeof(path), "%s/active.onnx", dir);
    rc = modax_run(out, sizeof(out), "model", "export", "--onnx", path, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK(file_exists(path));
    snprintf(path, sizeof(path), "%s/by-version.onnx", dir);
    rc = modax_run(out, sizeof(out), "model", "export", "--onnx", path, "fd001-v1", (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK(file_exists(path));
}

static void test_unwritable_output(void)
{
    char err[4096], path[800];
    int rc;

    /* a folder that does not exist */
    snprintf(path, sizeof(path), "%s/no-such-dir/fd001.onnx", dir);
    rc = modax_stderr(err, sizeof(err), "model", "export", "--onnx", path, base, (char *)NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(err, "cannot write") != NULL && strstr(err, "No such file") != NULL);
    /* a path that is a folder: the temporary file is written, the rename refused, none left */
    snprintf(path, sizeof(path), "%s/a-folder", dir);
    CHECK(mkdir(path, 0755) == 0);
    rc = modax_stderr(err, sizeof(err), "model", "export", "--onnx", path, base, (char *)NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(err, "cannot write") != NULL);
    snprintf(path, sizeof(path), "%s/a-folder.tmp", dir);
    CHECK(!file_exists(path));
}

/* Writes the first 'keep' bytes of 'from' (or 'text' when given) to 'to'. */
static void write_model(const char *from, long keep, const char *text, const char *to)
{
    FILE *in = from ? fopen(from, "rb") : NULL, *f = fopen(to, "wb");
    char buf[4096];
    long left = keep;

    CHECK(f != NULL && (from == NULL || in != NULL));
    if (f == NULL || (from != NULL && in == NULL)) {
        goto out;
    }
    if (text != NULL) {
        fputs(text, f);
    }
    while (in != NULL && left > 0) {
        size_t got = fread(buf, 1, left < (long)sizeof(buf) ? (size_t)left : sizeof(buf), in);
        if (got == 0) {
            break;
        }
        fwrite(buf, 1, got, f);
        left -= (long)got;
    }
out:
    if (in != NULL) {
        fclose(in);
    }
    if (f != NULL) {
        fclose(f);
    }
}

static void test_corrupt_model(void)
{
    char err[4096], src[800], man[800], path[800], mpath[800], onnx[800];
    int rc;

    snprintf(src, sizeof(src), "%s.json", base);
    snprintf(man, sizeof(man), "%s.manifest.json", base);
    snprintf(onnx, sizeof(onnx), "%s/corrupt.onnx", dir);
    /* the XGBoost JSON cut in half, with a good manifest */
    snprintf(path, sizeof(path), "%s/cut.json", dir);
    snprintf(mpath, sizeof(mpath), "%s/cut.manifest.json", dir);
    write_model(src, 200000, NULL, path);
    write_model(man, 1L << 20, NULL, mpath);
    rc = modax_stderr(err, sizeof(err), "model", "export", "--onnx", onnx, path, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(err, "cannot load the model") != NULL &&
          strstr(err, "not an XGBoost JSON model") != NULL);
    CHECK(!file_exists(onnx));
    /* bytes that are not JSON at all */
    snprintf(path, sizeof(path), "%s/junk.json", dir);
    snprintf(mpath, sizeof(mpath), "%s/junk.manifest.json", dir);
    write_model(NULL, 0, "\x01\x02garbage\xff", path);
    write_model(man, 1L << 20, NULL, mpath);
    rc = modax_stderr(err, sizeof(err), "model", "export", "--onnx", onnx, path, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(err, "not an XGBoost JSON model") != NULL);
    /* a good model whose manifest is cut */
    snprintf(path, sizeof(path), "%s/noman.json", dir);
    snprintf(mpath, sizeof(mpath), "%s/noman.manifest.json", dir);
    write_model(src, 1L << 30, NULL, path);
    write_model(man, 300, NULL, mpath);
    rc = modax_stderr(err, sizeof(err), "model", "export", "--onnx", onnx, path, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(err, "manifest") != NULL);
    CHECK(!file_exists(onnx));
}

static const struct mdx_test tests[] = {
    {"issue 15: train on FD001 and export it as ONNX", test_train_and_export},
    {"issue 15: python3-onnx's full checker accepts the export", test_onnx_checker},
    {"issue 15: onnxruntime-web predicts as XGBoost on every FD001 window",
     test_onnxruntime_web_agrees},
    {"issue 15: missing values follow XGBoost's default branch, both ways",
     test_missing_both_ways},
    {"issue 15: no model trained or active is refused", test_no_model},
    {"issue 15: the active and a registered version are exported", test_registered_model},
    {"issue 15: an unwritable output path is refused, nothing left", test_unwritable_output},
    {"issue 15: a corrupt model file is refused", test_corrupt_model},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
