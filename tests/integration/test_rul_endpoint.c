/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_endpoint.c - issue 15, item 4: RUL predictions from a model
 * endpoint. A local stand-in for Triton on SageMaker or Azure ML
 * (tests/js/kserve-standin.mjs: KServe v2 requests answered by the ONNX
 * export through onnxruntime-web) and `modax predict --endpoint` give the
 * predictions `modax predict` computes in-process, to the printed digit;
 * an endpoint that is not there, answers 503, or answers the wrong number
 * of values is an error with the reason, never a prediction.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "support/support.h"

static char dir[512], subset[700], base[700], onnx[800];
static int port; /* the stand-in's */
static char out[1 << 16], local[1 << 16];
static pid_t standin = -1;

static void cleanup(void)
{
    if (standin > 0) {
        kill(standin, SIGTERM);
        waitpid(standin, NULL, 0);
    }
    tmp_remove(dir);
}

/* The stand-in's port once it listens (it writes PORT_FILE whole), else 0. */
static int read_port(const char *file)
{
    FILE *f = fopen(file, "r");
    int p = 0;

    if (f != NULL) {
        if (fscanf(f, "%d", &p) != 1) {
            p = 0;
        }
        fclose(f);
    }
    return p;
}

static void test_start(void)
{
    char script[700], portfile[800];
    int rc;

    tmp_make(dir, sizeof(dir), "rul-endpoint");
    atexit(cleanup);
    snprintf(subset, sizeof(subset), "%s/cmapss/train_FD001_units1-10.txt",
             getenv("MODAX_TEST_DATA"));
    snprintf(base, sizeof(base), "%s/m", dir);
    snprintf(onnx, sizeof(onnx), "%s/m.onnx", dir);
    rc = modax_run(out, sizeof(out), "train", "--data", subset, "--folds", "2", "--rounds", "60",
                   "--out", base, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    rc = modax_run(out, sizeof(out), "model", "export", "--onnx", onnx, base, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    snprintf(script, sizeof(script), "%s/tests/js/kserve-standin.mjs", getenv("MODAX_SOURCE_DIR"));
    snprintf(portfile, sizeof(portfile), "%s/standin.port", dir);
    standin = fork();
    if (standin == 0) {
        execlp("node", "node", script, onnx, portfile, (char *)NULL);
        _exit(127);
    }
    CHECK(standin > 0);
    CHECK_WAIT((port = read_port(portfile)) > 0, 30000);
}

static void endpoint_url(char *buf, size_t len, const char *model)
{
    snprintf(buf, len, "http://127.0.0.1:%d/v2/models/%s/infer", port, model);
}

static void test_same_predictions(void)
{
    char ep[256];
    int rc, lines = 0;

    rc = modax_run(local, sizeof(local), "predict", "--model", base, "--data", subset,
                   (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    endpoint_url(ep, sizeof(ep), "rul");
    rc = modax_run(out, sizeof(out), "predict", "--model", base, "--data", subset, "--endpoint",
                   ep, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK_STR(out, local);
    for (const char *p = out; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    CHECK_EQ_INT(lines, 10);
}

static void test_endpoint_errors(void)
{
    char ep[256], err[4096];
    int rc;

    /* nothing listens there */
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/v2/models/rul/infer", free_port());
    rc = modax_stderr(err, sizeof(err), "predict", "--model", base, "--data", subset,
                      "--endpoint", ep, (char *)NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(err, "modax predict: endpoint http://127.0.0.1:") != NULL);
    /* busy */
    endpoint_url(ep, sizeof(ep), "busy");
    rc = modax_stderr(err, sizeof(err), "predict", "--model", base, "--data", subset,
                      "--endpoint", ep, (char *)NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(err, "answered HTTP 503") != NULL);
    /* one value short: no prediction printed from a wrong answer */
    endpoint_url(ep, sizeof(ep), "short");
    rc = modax_run(out, sizeof(out), "predict", "--model", base, "--data", subset, "--endpoint",
                   ep, (char *)NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK_STR(out, "");
    rc = modax_stderr(err, sizeof(err), "predict", "--model", base, "--data", subset,
                      "--endpoint", ep, (char *)NULL);
    CHECK(strstr(err, "answered 9 values for 10 rows") != NULL);
}

static const struct mdx_test tests[] = {
    {"issue 15: train, export and serve it from a KServe v2 stand-in", test_start},
    {"issue 15: modax predict --endpoint predicts as in-process", test_same_predictions},
    {"issue 15: an endpoint down, busy or answering short is an error", test_endpoint_errors},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
