/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rows.h - the column layouts of the records the store hands out (rows.c):
 * which column of a row goes into which field. Both back ends select the
 * columns in this order and map a row with their own reader of a layout
 * (mdx_sq_row_map, mdx_pg_row_map). Internal to src/store.
 */
#ifndef MODAX_STORE_ROWS_H
#define MODAX_STORE_ROWS_H

#include <stddef.h>
#include <stdint.h>

/* How a column lands in its field. */
enum mdx_col_kind {
    MDX_COL_TEXT,  /* char[len], truncated, NUL-terminated */
    MDX_COL_INT,   /* int */
    MDX_COL_I64,   /* int64_t */
    MDX_COL_DBL,   /* double */
    MDX_COL_REAL,  /* double, SQL NULL read as NaN */
    MDX_COL_BYTES, /* uint8_t[len]: a value of exactly len bytes, else left zero */
};

/* Column i of a row goes into the field at 'off' (of 'len' bytes) of the record. */
struct mdx_col {
    enum mdx_col_kind kind;
    size_t off;
    size_t len;
};

/* A record of 'size' bytes filled from columns 0 .. n - 1, zeroed first. */
struct mdx_row_layout {
    size_t size;
    size_t n;
    const struct mdx_col *cols;
};

/* How a back end reads column 'col' of row 'src' (of a type of its own). */
struct mdx_row_reader {
    /* Copies the text into 'buf' of 'len' bytes, truncated, NUL-terminated. */
    void (*text)(void *src, int col, char *buf, size_t len);
    int64_t (*i64)(void *src, int col);
    double (*dbl)(void *src, int col);
    int (*is_null)(void *src, int col);
    /* Copies a value of exactly 'len' bytes into 'buf'; else leaves it zero. */
    void (*bytes)(void *src, int col, unsigned char *buf, size_t len);
};

/* Fills record 'rec' (zeroed first) from the row 'src', column i into layout->cols[i]. */
void mdx_row_fill(const struct mdx_row_layout *layout, void *rec, const struct mdx_row_reader *rd,
                  void *src);

/*
 * MDX_ROW_LISTER(name, rec_type, fn_type, row_params, map_row) defines
 * struct name (a listing's callback of type fn_type and its argument) and
 * name##_row, a back end's row function with the parameters row_params, one
 * of them 'void *ctx' (a struct name): map_row fills 'rec', a rec_type on
 * its stack, which is handed to the callback; it borrows it for the call
 * only. The back ends wrap it (MDX_SQ_LISTER, MDX_PG_LISTER).
 */
#define MDX_ROW_LISTER(name, rec_type, fn_type, row_params, map_row)                               \
    struct name {                                                                                  \
        fn_type fn;                                                                                \
        void *arg;                                                                                 \
    };                                                                                             \
    static int name##_row row_params                                                               \
    {                                                                                              \
        const struct name *l = ctx;                                                                \
        rec_type rec;                                                                              \
                                                                                                   \
        map_row;                                                                                   \
        return l->fn(l->arg, &rec);                                                                \
    }

/*
 * The SELECTs (without their WHERE) whose columns the layouts of the same
 * records below name, in order; both back ends run them.
 */
#define MDX_SELECT_CRED                                                                            \
    "SELECT t.name, d.name, c.secret_hash, c.cert_fingerprint, c.revoked_ms, c.updated_ms,"        \
    " t.legacy_topics FROM device_creds c JOIN devices d ON d.id = c.device_id"                    \
    " JOIN tenants t ON t.id = d.tenant_id"
#define MDX_SELECT_IDENTITY                                                                        \
    "SELECT i.name, i.kind, COALESCE(t.name, ''), i.secret_hash, i.created_ms, i.revoked_ms"       \
    " FROM broker_identities i LEFT JOIN tenants t ON t.id = i.tenant_id"
#define MDX_SELECT_ALERT                                                                           \
    "SELECT a.id, t.name, a.device, a.source, a.sensor, a.severity, a.state, a.opened_ms,"         \
    " a.updated_ms, a.resolved_ms, a.value, a.score, a.summary"                                    \
    " FROM alerts a JOIN tenants t ON t.id = a.tenant_id"
#define MDX_SELECT_COMMAND                                                                         \
    "SELECT c.id, t.name, d.name, c.name, c.value, c.state, c.detail, c.issued_by,"                \
    " c.created_ms, c.updated_ms FROM commands c JOIN devices d ON d.id = c.device_id"             \
    " JOIN tenants t ON t.id = d.tenant_id"
#define MDX_SELECT_MODEL "SELECT version, path, manifest, created_ms FROM rul_models"
#define MDX_SELECT_PREDICTION                                                                      \
    "SELECT t.name, d.name, l.ts_ms, l.rul, l.model_version, l.reason, l.reason_ms"                \
    " FROM rul_latest l JOIN devices d ON d.id = l.device_id JOIN tenants t ON t.id = d.tenant_id"

extern const struct mdx_row_layout mdx_row_apikey;     /* struct mdx_apikey */
extern const struct mdx_row_layout mdx_row_identity;   /* struct mdx_broker_identity */
extern const struct mdx_row_layout mdx_row_cred;       /* struct mdx_device_cred */
extern const struct mdx_row_layout mdx_row_rule;       /* struct mdx_rule */
extern const struct mdx_row_layout mdx_row_alert;      /* struct mdx_alert */
extern const struct mdx_row_layout mdx_row_command;    /* struct mdx_command */
extern const struct mdx_row_layout mdx_row_model;      /* struct mdx_rul_model_rec */
extern const struct mdx_row_layout mdx_row_prediction; /* struct mdx_rul_prediction */

#endif
