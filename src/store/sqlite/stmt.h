/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stmt.h - the statement helpers of the SQLite store (stmt.c), shared by
 * the files above it. Internal to src/store/sqlite.
 */
#ifndef MODAX_STORE_SQLITE_STMT_H
#define MODAX_STORE_SQLITE_STMT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "modax/store.h"
#include "store/sqlite/sqlite_int.h"

/* MDX_* status for an SQLite result code. */
int mdx_sq_status(int rc);
/* Copies column 'col' as text into 'buf' (size 'len'), truncating. */
void mdx_sq_column_copy(sqlite3_stmt *st, int col, char *buf, size_t len);
/* Tenant, device and identity names: [A-Za-z0-9_-]{1,64}. */
int mdx_sq_name_valid(const char *s);
/* Prepares 'sql' into *st: MDX_OK, or the error with *st NULL. */
int mdx_sq_prepare(struct sq *h, const char *sql, sqlite3_stmt **st);
/* Steps a statement that returns at most one row, leaving it on the row to read:
 * MDX_OK if there was one, MDX_ENOTFOUND if not, else the error. The caller finalizes. */
int mdx_sq_step_row(sqlite3_stmt *st);
/*
 * Runs 'sql' with ?1 = key1 (and ?2 = key2 unless NULL) for at most one row:
 * MDX_OK with *st on the row (the caller reads it and finalizes *st),
 * MDX_ENOTFOUND if none, else the error; without a row *st is finalized.
 */
int mdx_sq_find(struct sq *h, const char *sql, const char *key1, const char *key2,
                sqlite3_stmt **st);
/* Steps a statement that returns no rows and finalizes it: MDX_OK or the error. */
int mdx_sq_run_done(sqlite3_stmt *st);
/* Steps a statement that changes rows and finalizes it: MDX_OK, MDX_ENOTFOUND if none changed. */
int mdx_sq_run_change(struct sq *h, sqlite3_stmt *st);
/* Resets kept statement 'st' after a listing and turns its last step result 'rc' into a status. */
int mdx_sq_finish(sqlite3_stmt *st, int rc);
/* Calls fn with column 0 (borrowed) of each row of kept statement 'st', then resets it:
 * MDX_OK, fn's stop value, or the error. */
int mdx_sq_each_name(sqlite3_stmt *st, mdx_name_fn fn, void *arg);
/* Id of tenant 'tenant' into *id: MDX_OK, MDX_ENOTFOUND (also for an invalid name) or an error. */
int mdx_sq_tenant_id(struct sq *h, const char *tenant, int64_t *id);

#endif
