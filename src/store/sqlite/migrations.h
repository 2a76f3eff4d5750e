/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrations.h - schema migrations of the SQLite store (internal).
 */
#ifndef MODAX_STORE_MIGRATIONS_SQLITE_H
#define MODAX_STORE_MIGRATIONS_SQLITE_H

#include <stdint.h>

#include <sqlite3.h>

/*
 * Applies, in order, every migration newer than the version recorded in
 * schema_migrations, each in its own transaction. Returns the SQLite
 * result code of the first failure (that migration is rolled back), or
 * SQLITE_OK. A database newer than this program gives SQLITE_MISMATCH.
 */
int mdx_sqlite_migrate(sqlite3 *db, int64_t now_ms);

/* Newest schema version this program knows. */
int mdx_sqlite_schema_version(void);

#endif
