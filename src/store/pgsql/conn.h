/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn.h - the PostgreSQL store's connection and the helpers that run
 * statements on it (conn.c), shared by the files above it. Internal to
 * src/store/pgsql.
 */
#ifndef MODAX_STORE_PGSQL_CONN_H
#define MODAX_STORE_PGSQL_CONN_H

#include <stdint.h>

#include <libpq-fe.h>

#include "modax/store.h"
#include "store/pgsql/pgsql_int.h"
#include "store/rows.h"

/* Connects if needed (lazily, after a lost connection too). MDX_ECONN while down. */
int mdx_pg_ensure(struct pg *h);
/*
 * Runs prepared statement 'id' with text parameters; *out is the result
 * on MDX_OK (the caller PQclear()s it). A lost connection marks the
 * handle for reconnection and gives MDX_ECONN; a SQL error its status.
 */
int mdx_pg_exec(struct pg *h, enum pg_stmt id, int n, const char *const *vals, PGresult **out);
/* Like mdx_pg_exec() with per-parameter lengths and formats (binary bytea). */
int mdx_pg_exec_bin(struct pg *h, enum pg_stmt id, int n, const char *const *vals,
                    const int *lens, const int *fmts, PGresult **out);
/*
 * mdx_pg_exec() of a statement whose first row is wanted: MDX_OK with the
 * result in *out (the caller PQclear()s it), MDX_ENOTFOUND (*out NULL) if
 * it returned no rows, else the error.
 */
int mdx_pg_exec_row(struct pg *h, enum pg_stmt id, int n, const char *const *vals,
                    PGresult **out);
/* mdx_pg_exec() of a statement that changes rows: MDX_OK, MDX_ENOTFOUND if it changed none. */
int mdx_pg_exec_change(struct pg *h, enum pg_stmt id, int n, const char *const *vals);
/* mdx_pg_exec() of a statement run for its effect only: MDX_OK or the error. */
int mdx_pg_exec_only(struct pg *h, enum pg_stmt id, int n, const char *const *vals);
/* Runs plain SQL (BEGIN, COMMIT, ...). */
int mdx_pg_simple(struct pg *h, const char *sql);
/* Connects if needed (mdx_pg_ensure()) and begins a transaction: MDX_OK or the error. */
int mdx_pg_begin(struct pg *h);
/*
 * Ends the transaction of mdx_pg_begin(): commits after rc == MDX_OK, else
 * rolls back (when still connected); returns rc or the commit's failure.
 */
int mdx_pg_end(struct pg *h, int rc);
/*
 * Runs 'sql' with text parameters (PQexecParams); *out is the result on
 * MDX_OK (the caller PQclear()s it). in_tx: inside the batch's
 * transaction, where a reconnection would run the statement outside it.
 */
int mdx_pg_run(struct pg *h, int in_tx, const char *sql, int n, const char *const *vals,
               PGresult **out);
/*
 * mdx_pg_run() of a statement whose first row is wanted: MDX_OK with the
 * result in *out (the caller PQclear()s it), MDX_ENOTFOUND (*out NULL) if
 * it returned no rows, else the error.
 */
int mdx_pg_run_row(struct pg *h, int in_tx, const char *sql, int n, const char *const *vals,
                   PGresult **out);
/*
 * mdx_pg_run_row() of one record, outside a transaction: MDX_OK with 'rec'
 * filled from the first row by 'layout' (mdx_pg_row_map()), MDX_ENOTFOUND
 * if there was none, else the error.
 */
int mdx_pg_run_rec(struct pg *h, const char *sql, int n, const char *const *vals,
                   const struct mdx_row_layout *layout, void *rec);
/*
 * mdx_pg_run_row() of 'sql' with $1 = tenant, outside a transaction:
 * MDX_ENOTFOUND (*out NULL) for an invalid tenant name as for an unknown one.
 */
int mdx_pg_tenant_row(struct pg *h, const char *sql, const char *tenant, PGresult **out);
/* mdx_pg_tenant_row() of prepared statement 'id' (mdx_pg_exec_row()). */
int mdx_pg_exec_tenant_row(struct pg *h, enum pg_stmt id, const char *tenant, PGresult **out);
/* mdx_pg_run() of a statement that changes rows: MDX_OK, MDX_ENOTFOUND if it changed none. */
int mdx_pg_run_change_tx(struct pg *h, int in_tx, const char *sql, int n,
                         const char *const *vals);
/* mdx_pg_run_change_tx() outside a transaction. */
int mdx_pg_run_change(struct pg *h, const char *sql, int n, const char *const *vals);
/* MDX_* status of a failed result (SQLSTATE), marking a lost connection. */
int mdx_pg_status(struct pg *h, const PGresult *res);
/* Parses column text as int64 / double (0 for NULL or garbage). */
int64_t mdx_pg_i64(const PGresult *res, int row, int col);
double mdx_pg_dbl(const PGresult *res, int row, int col);
/* Fills record 'rec' (zeroed first) from row 'row' of 'res', column i into layout->cols[i]. */
void mdx_pg_row_map(const PGresult *res, int row, const struct mdx_row_layout *layout, void *rec);
/* Formats v into buf (at least 24 bytes) and returns buf. */
const char *mdx_pg_fmt(char *buf, int64_t v);
/* Tenant and device names: [A-Za-z0-9_-]{1,64}. */
int mdx_pg_valid_name(const char *s);
/* The tenant's id as text into buf (24 bytes): MDX_OK, MDX_ENOTFOUND if unknown. */
int mdx_pg_tenant_text(struct pg *h, const char *tenant, char *buf);
/* Device id of (tenant, device): MDX_ENOTFOUND if unknown. */
int mdx_pg_device_id(struct pg *h, const char *tenant, const char *device, int64_t *id);
/*
 * mdx_pg_exec() of a listing of names, then fn with column 0 of each row
 * (borrowed), stopping at the first non-MDX_OK: MDX_OK, fn's stop value,
 * or the error.
 */
int mdx_pg_exec_names(struct pg *h, enum pg_stmt id, int n, const char *const *vals,
                      mdx_name_fn fn, void *arg);
/* Called for row 'row' of a listing's result: MDX_OK goes on, anything else stops. */
typedef int (*mdx_pg_row_fn)(const PGresult *res, int row, void *ctx);
/*
 * mdx_pg_run() of a listing (outside a transaction), then row(res, i, ctx)
 * for each row until it returns other than MDX_OK; the result is cleared
 * here. MDX_OK, row's stop value, or the error.
 */
int mdx_pg_list(struct pg *h, const char *sql, int n, const char *const *vals, mdx_pg_row_fn row,
                void *ctx);
/*
 * mdx_pg_list() of 'sql' with $1 = the id of tenant 'tenant' as text (NULL
 * when tenant is NULL): MDX_ENOTFOUND for an unknown tenant.
 */
int mdx_pg_tenant_list(struct pg *h, const char *tenant, const char *sql, mdx_pg_row_fn row,
                       void *ctx);
/*
 * A listing of tenant 'tenant' or, when 'device' is not NULL, of that
 * device of it, at most 'limit' rows (0: all): 'by_tenant' ($1 = the
 * tenant, $2 = the limit or NULL) or 'by_device' (also $3 = the device)
 * run through mdx_pg_list(). MDX_EINVAL for a negative limit,
 * MDX_ENOTFOUND for an unknown tenant or device.
 */
int mdx_pg_device_list(struct pg *h, const char *tenant, const char *device, int64_t limit,
                       const char *by_tenant, const char *by_device, mdx_pg_row_fn row, void *ctx);
/*
 * MDX_PG_LISTER(name, rec_type, layout, fn_type): MDX_ROW_LISTER (rows.h)
 * for mdx_pg_list(), name##_row mapping each row by its column 'layout'.
 */
#define MDX_PG_LISTER(name, rec_type, layout, fn_type)                                             \
    MDX_ROW_LISTER(name, rec_type, fn_type, (const PGresult *res, int row, void *ctx),             \
                   mdx_pg_row_map(res, row, &layout, &rec))

/* Creates the partitions of [today, today + days_ahead] (also at every new connection). */
int mdx_pg_partitions_ahead(struct pg *h);
/* Makes sure the partition of UTC day 'day' (ms) exists; remembered once done. */
int mdx_pg_partition_ensure(struct pg *h, int64_t day);

#endif
