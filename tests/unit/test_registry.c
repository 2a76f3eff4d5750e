/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_registry.c - the ingest's registry (src/pipeline/registry.h) over an
 * in-memory SQLite store: known devices come with their type, unknown
 * tenants and devices are refused with the reason, refusals are
 * remembered for their TTL, the cache stays within its bound, and a type
 * changed by an operator reaches the answer within MDX_REGISTRY_REFRESH_MS.
 * Time is the 'now_ms' the tests pass, so TTLs need no waiting.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "modax/status.h"
#include "modax/store.h"
#include "pipeline/registry.h"

#define T0 1767225600000LL /* 2026-01-01 */

/* An in-memory store with tenant "acme", its press "press-1" and its untyped "m-1". */
static struct mdx_store *open_acme_store(void)
{
    struct mdx_store_conf conf = {.backend = "sqlite", .sqlite_path = ":memory:",
                                  .busy_timeout_ms = 1000, .chunk_points = 64,
                                  .cache_series = 1000, .deadletter_max = 100};
    int err = 0;
    struct mdx_store *st = mdx_store_open(&conf, &err);

    CHECK(st != NULL);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "press-1", 0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "press-1", "press"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "m-1", 0), MDX_OK);
    return st;
}

/* The registry's verdict for (tenant, device) at 'now': MDX_OK or the refusal's reason. */
static const char *verdict(struct mdx_registry *reg, const char *tenant, const char *device,
                           int64_t now, struct mdx_device_ref *dev)
{
    const char *why = NULL;
    int rc = mdx_registry_check(reg, tenant, device, now, dev, &why);

    if (rc == MDX_OK) {
        return "ok";
    }
    return rc == MDX_EINVAL && why != NULL ? why : "store error";
}

static void known_device_carries_its_type(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_registry *reg = mdx_registry_create(st, 100, 0);
    struct mdx_device_ref dev;

    CHECK(reg != NULL);
    memset(&dev, 0, sizeof(dev));
    CHECK_STR(verdict(reg, "acme", "press-1", T0, &dev), "ok");
    CHECK_STR(dev.tenant, "acme");
    CHECK_STR(dev.device, "press-1");
    CHECK_STR(dev.type, "press");
    /* From the cache now, still with its type. */
    CHECK_STR(verdict(reg, "acme", "press-1", T0 + 1, &dev), "ok");
    CHECK_STR(dev.type, "press");
    CHECK_STR(verdict(reg, "acme", "m-1", T0 + 2, &dev), "ok");
    CHECK_STR(dev.type, "");
    mdx_registry_destroy(reg);
    mdx_store_close(st);
}

static void unknown_tenant_and_device_refused_with_reason(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_registry *reg = mdx_registry_create(st, 100, 0);
    struct mdx_device_ref dev;

    CHECK_STR(verdict(reg, "ghost", "press-1", T0, &dev), "unknown tenant");
    CHECK_STR(verdict(reg, "acme", "ghost", T0, &dev), "unknown device");
    /* Remembered: the same answers from the cache. */
    CHECK_STR(verdict(reg, "ghost", "press-1", T0 + 1, &dev), "unknown tenant");
    CHECK_STR(verdict(reg, "acme", "ghost", T0 + 1, &dev), "unknown device");
    mdx_registry_destroy(reg);
    mdx_store_close(st);
}

static void refusal_remembered_then_rechecked_after_ttl(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_registry *reg = mdx_registry_create(st, 100, 0);
    struct mdx_device_ref dev;

    CHECK_STR(verdict(reg, "acme", "press-2", T0, &dev), "unknown device");
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "press-2", 0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "press-2", "press"), MDX_OK);
    /* Registered meanwhile, but the refusal stands until its TTL is over. */
    CHECK_STR(verdict(reg, "acme", "press-2", T0 + MDX_REGISTRY_REFUSAL_TTL_MS - 1, &dev),
              "unknown device");
    CHECK_STR(verdict(reg, "acme", "press-2", T0 + MDX_REGISTRY_REFUSAL_TTL_MS, &dev), "ok");
    CHECK_STR(dev.type, "press");
    /* The same for a tenant that appears. */
    CHECK_STR(verdict(reg, "globex", "g-1", T0, &dev), "unknown tenant");
    CHECK_EQ_INT(mdx_store_tenant_add(st, "globex"), MDX_OK);
    CHECK_STR(verdict(reg, "globex", "g-1", T0 + 1, &dev), "unknown tenant");
    CHECK_STR(verdict(reg, "globex", "g-1", T0 + MDX_REGISTRY_REFUSAL_TTL_MS, &dev),
              "unknown device");
    mdx_registry_destroy(reg);
    mdx_store_close(st);
}

/*
 * The cache holds at most its bound: past it, it is emptied and asks the
 * store again, which shows as a remembered refusal that is forgotten early.
 */
static void cache_bound_holds(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_registry *reg = mdx_registry_create(st, 4, 0);
    struct mdx_device_ref dev;
    char name[16];

    CHECK_STR(verdict(reg, "acme", "late", T0, &dev), "unknown device");
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "late", 0), MDX_OK);
    for (int i = 0; i < 3; i++) { /* 4 entries with "late": within the bound */
        snprintf(name, sizeof(name), "d-%d", i);
        CHECK_EQ_INT(mdx_store_device_add(st, "acme", name, 0), MDX_OK);
        CHECK_STR(verdict(reg, "acme", name, T0, &dev), "ok");
    }
    CHECK_STR(verdict(reg, "acme", "late", T0, &dev), "unknown device"); /* still cached */
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "d-3", 0), MDX_OK);
    CHECK_STR(verdict(reg, "acme", "d-3", T0, &dev), "ok"); /* the fifth: the cache is emptied */
    CHECK_STR(verdict(reg, "acme", "late", T0, &dev), "ok"); /* asked the store again */
    /* Many more devices than the bound: every answer stays right. */
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "x-%d", i);
        CHECK_STR(verdict(reg, "acme", name, T0, &dev), "unknown device");
        CHECK_STR(verdict(reg, "acme", "press-1", T0, &dev), "ok");
        CHECK_STR(dev.type, "press");
    }
    mdx_registry_destroy(reg);
    mdx_store_close(st);
}

static void type_change_reaches_answer_within_refresh(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_registry *reg = mdx_registry_create(st, 100, 0);
    struct mdx_device_ref dev;

    CHECK_STR(verdict(reg, "acme", "press-1", T0, &dev), "ok");
    CHECK_STR(dev.type, "press");
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "press-1", "oven"), MDX_OK);
    CHECK_STR(verdict(reg, "acme", "press-1", T0 + MDX_REGISTRY_REFRESH_MS - 1, &dev), "ok");
    CHECK_STR(dev.type, "press"); /* the cached answer, until it is due */
    CHECK_STR(verdict(reg, "acme", "press-1", T0 + MDX_REGISTRY_REFRESH_MS, &dev), "ok");
    CHECK_STR(dev.type, "oven");
    /* Deleted meanwhile: refused once re-read. */
    CHECK_EQ_INT(mdx_store_device_delete(st, "acme", "press-1"), MDX_OK);
    CHECK_STR(verdict(reg, "acme", "press-1", T0 + 2 * MDX_REGISTRY_REFRESH_MS, &dev),
              "unknown device");
    mdx_registry_destroy(reg);
    mdx_store_close(st);
}

static void auto_register_adds_devices_of_known_tenants(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_registry *reg = mdx_registry_create(st, 100, 1);
    struct mdx_device_info info;
    struct mdx_device_ref dev;

    CHECK_STR(verdict(reg, "acme", "new-1", T0, &dev), "ok");
    CHECK_STR(dev.type, "");
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "new-1", &info), MDX_OK);
    CHECK_EQ_INT(info.auto_registered, 1);
    CHECK_STR(verdict(reg, "ghost", "new-1", T0, &dev), "unknown tenant");
    mdx_registry_destroy(reg);
    mdx_store_close(st);
}

static const struct mdx_test tests[] = {
    {"known device carries its type", known_device_carries_its_type},
    {"unknown tenant and device refused with the reason",
     unknown_tenant_and_device_refused_with_reason},
    {"refusal remembered, then re-checked after its TTL",
     refusal_remembered_then_rechecked_after_ttl},
    {"cache bound holds", cache_bound_holds},
    {"type change reaches the answer within MDX_REGISTRY_REFRESH_MS",
     type_change_reaches_answer_within_refresh},
    {"auto-register adds devices of known tenants only",
     auto_register_adds_devices_of_known_tenants},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
