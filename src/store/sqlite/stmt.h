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
#include "store/chunk.h"
#include "store/rows.h"
#include "store/sqlite/sqlite_int.h"

/* MDX_* status for an SQLite result code. */
int mdx_sq_status(int rc);
/* Copies column 'col' as text into 'buf' (size 'len'), truncating. */
void mdx_sq_column_copy(sqlite3_stmt *st, int col, char *buf, size_t len);
/* Tenant, device and identity names: [A-Za-z0-9_-]{1,64}. */
int mdx_sq_name_valid(const char *s);
/* Fills record 'rec' (zeroed first) from the row 'st' is on, column i into layout->cols[i]. */
void mdx_sq_row_map(sqlite3_stmt *st, const struct mdx_row_layout *layout, void *rec);
/* Starts *it on the chunk of the row 'st' is on: its data in column 3, its t_start in 'start_col'. */
int mdx_sq_chunk_iter(sqlite3_stmt *st, int start_col, struct mdx_chunk_iter *it);
/* Prepares 'sql' into *st: MDX_OK, or the error with *st NULL. */
int mdx_sq_prepare(struct sq *h, const char *sql, sqlite3_stmt **st);
/*
 * Prepares 'sql' into *st and binds ?col = the id of tenant 'tenant':
 * MDX_OK, MDX_ENOTFOUND for an unknown or invalid tenant, else the error;
 * *st is NULL unless MDX_OK.
 */
int mdx_sq_prepare_tenant(struct sq *h, const char *sql, const char *tenant, int col,
                          sqlite3_stmt **st);
/*
 * Prepares 'sql' into *st and binds ?1 = key1 (and ?2 = key2 unless NULL)
 * as text, borrowed until *st is finalized: MDX_OK, or the error with *st NULL.
 */
int mdx_sq_prepare_keys(struct sq *h, const char *sql, const char *key1, const char *key2,
                        sqlite3_stmt **st);
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
/*
 * mdx_sq_find() of 'sql' with ?1 = tenant: MDX_ENOTFOUND (*st NULL) for an
 * invalid tenant name as for an unknown one.
 */
int mdx_sq_tenant_find(struct sq *h, const char *sql, const char *tenant, sqlite3_stmt **st);
/*
 * mdx_sq_find() of one record: MDX_OK with 'rec' filled from the row by
 * 'layout' (mdx_sq_row_map()), MDX_ENOTFOUND if none, else the error.
 */
int mdx_sq_find_rec(struct sq *h, const char *sql, const char *key1, const char *key2,
                    const struct mdx_row_layout *layout, void *rec);
/*
 * One record by its id: 'sql' with ?1 = id and ?2 = tenant (left NULL when
 * tenant is NULL), 'rec' filled from its row by 'layout': MDX_OK,
 * MDX_ENOTFOUND if none, else the error.
 */
int mdx_sq_find_id_rec(struct sq *h, const char *sql, int64_t id, const char *tenant,
                       const struct mdx_row_layout *layout, void *rec);
/* Steps a statement that returns no rows and finalizes it: MDX_OK or the error. */
int mdx_sq_run_done(sqlite3_stmt *st);
/* Steps a statement that changes rows and finalizes it: MDX_OK, MDX_ENOTFOUND if none changed. */
int mdx_sq_run_change(struct sq *h, sqlite3_stmt *st);
/*
 * Steps an INSERT and finalizes it: MDX_OK, MDX_EEXIST when a constraint
 * (a taken key) refused the row, else the error.
 */
int mdx_sq_run_insert(sqlite3_stmt *st);
/*
 * Runs 'sql' (an UPDATE) with ?1 = key (text) and ?2 = value: MDX_OK,
 * MDX_ENOTFOUND when no row changed, else the error.
 */
int mdx_sq_update_key(struct sq *h, const char *sql, const char *key, int64_t value);
/* Runs body(h, ctx) inside BEGIN IMMEDIATE .. COMMIT, rolling back when it fails: its status. */
int mdx_sq_in_tx(struct sq *h, int (*body)(struct sq *h, const void *ctx), const void *ctx);
/* Called for each row of a listing with the statement on the row: MDX_OK goes on, else stops. */
typedef int (*mdx_sq_row_fn)(sqlite3_stmt *st, void *ctx);
/*
 * Steps every row of kept statement 'st' through row(st, ctx) until it
 * returns other than MDX_OK, then resets 'st': MDX_OK, row's stop value,
 * or the error.
 */
int mdx_sq_each_kept(sqlite3_stmt *st, mdx_sq_row_fn row, void *ctx);
/* mdx_sq_each_kept() of a prepared statement, finalized after it. */
int mdx_sq_each_row(sqlite3_stmt *st, mdx_sq_row_fn row, void *ctx);
/*
 * A listing of tenant 'tenant' or, when 'device' is not NULL, of that
 * device of it, at most 'limit' rows (0: all): 'by_tenant' (?1 = the
 * tenant's id, ?3 = the limit) or 'by_device' (also ?2 = the device) run
 * through mdx_sq_each_row(). MDX_EINVAL for a negative limit,
 * MDX_ENOTFOUND for an unknown tenant or device.
 */
int mdx_sq_device_list(struct sq *h, const char *tenant, const char *device, int64_t limit,
                       const char *by_tenant, const char *by_device, mdx_sq_row_fn row, void *ctx);
/* A listing of 'sql' (no parameters) run through mdx_sq_each_row(). */
int mdx_sq_list(struct sq *h, const char *sql, mdx_sq_row_fn row, void *ctx);
/*
 * A listing of 'sql' with ?1 = the id of tenant 'tenant' (unbound when
 * tenant is NULL) run through mdx_sq_each_row(): MDX_ENOTFOUND for an
 * unknown tenant, else as mdx_sq_each_row().
 */
int mdx_sq_tenant_list(struct sq *h, const char *tenant, const char *sql, mdx_sq_row_fn row,
                       void *ctx);
/*
 * MDX_SQ_LISTER(name, rec_type, layout, fn_type): MDX_ROW_LISTER (rows.h)
 * for mdx_sq_each_row(), name##_row mapping each row by its column 'layout'.
 */
#define MDX_SQ_LISTER(name, rec_type, layout, fn_type)                                             \
    MDX_ROW_LISTER(name, rec_type, fn_type, (sqlite3_stmt *st, void *ctx),                         \
                   mdx_sq_row_map(st, &layout, &rec))
/* Resets kept statement 'st' after a listing and turns its last step result 'rc' into a status. */
int mdx_sq_finish(sqlite3_stmt *st, int rc);
/* Steps kept statement 'st' for its effect, then resets it and clears its bindings:
 * MDX_OK or the error. */
int mdx_sq_step_reset(sqlite3_stmt *st);
/* Steps kept INSERT 'st' and resets it: MDX_OK, MDX_EEXIST when a constraint
 * (a taken key) refused the row, else the error. */
int mdx_sq_insert_reset(sqlite3_stmt *st);
/* Calls fn with column 0 (borrowed) of each row of kept statement 'st', then resets it:
 * MDX_OK, fn's stop value, or the error. */
int mdx_sq_each_name(sqlite3_stmt *st, mdx_name_fn fn, void *arg);
/* Id of tenant 'tenant' into *id: MDX_OK, MDX_ENOTFOUND (also for an invalid name) or an error. */
int mdx_sq_tenant_id(struct sq *h, const char *tenant, int64_t *id);

#endif
