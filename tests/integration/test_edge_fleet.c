/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_fleet.c - the simulated fleet (modax-edge) into the ingest with
 * a real Mosquitto: every reading it reports as published is stored, in
 * both payload forms, single and batched, and devices register themselves
 * when auto-register is on.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support/support.h"

static char out[1 << 16];

/* The published=N figure of modax-edge's summary line. */
static long published(const char *summary)
{
    const char *p = strstr(summary, "published=");
    return p != NULL ? strtol(p + 10, NULL, 10) : -1;
}

static void fleet_run(const char *form, const char *batch, int sensors_per_reading)
{
    char dir[256], port[16];
    struct broker b;
    struct serve s;
    long n;

    tmp_make(dir, sizeof(dir), "fleet");
    CHECK(broker_start(&b, dir, 0) == 0);
    snprintf(port, sizeof(port), "%d", b.port);
    modax_env(dir, b.port);
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "plant", NULL), 0);
    CHECK(serve_start(&s, dir, b.port) == 0);
    CHECK_EQ_INT(edge_run(out, sizeof(out), "--port", port, "--tenant", "plant", "--machines", "5",
                          "--count", "120", "--time-scale", "600", "--form", form, "--batch",
                          batch, "--no-safety", "--seed", "7", NULL),
                 0);
    n = published(out);
    CHECK_EQ_INT(n, 5 * 120);
    CHECK_EQ_INT(wait_points(dir, "plant", n * sensors_per_reading, 20000),
                 n * sensors_per_reading);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "list", "plant", NULL), 0);
    CHECK(strstr(out, "m-0001") != NULL && strstr(out, "m-0005") != NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "show", "plant", "m-0003", NULL), 0);
    CHECK(strstr(out, "event") != NULL); /* the retained online status */
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    broker_stop(&b, SIGTERM);
    unsetenv("MODAX_INGEST_AUTO_REGISTER");
    tmp_remove(dir);
}

static void cloud_form_single_readings_all_stored(void)
{
    fleet_run("cloud", "1", 7);
}

static void field_form_batches_of_ten_all_stored(void)
{
    fleet_run("field", "10", 7);
}

static const struct mdx_test tests[] = {
    {"simulated fleet, cloud form, single readings: every reading stored",
     cloud_form_single_readings_all_stored},
    {"simulated fleet, field form, batches of 10: every reading stored",
     field_form_batches_of_ten_all_stored},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
