/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrations.h - schema migrations of the PostgreSQL store (internal).
 */
#ifndef MODAX_STORE_MIGRATIONS_PGSQL_H
#define MODAX_STORE_MIGRATIONS_PGSQL_H

#include <stdint.h>

#include <libpq-fe.h>

/*
 * Applies, in order, every migration newer than the version recorded in
 * schema_migrations, each in its own transaction under an advisory lock
 * (two processes starting at once do not both migrate). The points table
 * is a TimescaleDB hypertable when that extension is installed or
 * available, else natively partitioned by day; *timescale says which.
 * Returns MDX_OK, MDX_ESTORE for a database newer than this program or a
 * failed migration (rolled back; the reason is logged), or MDX_ECONN.
 */
int mdx_pgsql_migrate(PGconn *conn, int64_t now_ms, int *timescale);

/* Newest schema version this program knows. */
int mdx_pgsql_schema_version(void);

#endif
