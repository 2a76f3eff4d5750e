/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_int.h - what a store handle holds: the back end and its own
 * handle. Internal to src/store (and bench/bench_store.c, which reads the
 * SQLite writer's cache through it); everyone else sees an opaque
 * struct mdx_store.
 */
#ifndef MODAX_STORE_INT_H
#define MODAX_STORE_INT_H

#include "modax/store.h"

struct mdx_store {
    const struct mdx_store_backend *be;
    void *impl;               /* the back end's own handle */
};

#endif
