/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rows.c - the column layouts of the store's records (rows.h): one table
 * per record, in the order the back ends' SELECTs name the columns.
 */
#include <math.h>
#include <string.h>

#include "modax/alert.h"
#include "modax/store.h"
#include "store/rows.h"

void mdx_row_fill(const struct mdx_row_layout *layout, void *rec, const struct mdx_row_reader *rd,
                  void *src)
{
    memset(rec, 0, layout->size);
    for (size_t i = 0; i < layout->n; i++) {
        const struct mdx_col *c = &layout->cols[i];
        unsigned char *f = (unsigned char *)rec + c->off;
        int col = (int)i;

        switch (c->kind) {
        case MDX_COL_TEXT:
            rd->text(src, col, (char *)f, c->len);
            break;
        case MDX_COL_INT:
            *(int *)f = (int)rd->i64(src, col);
            break;
        case MDX_COL_I64:
            *(int64_t *)f = rd->i64(src, col);
            break;
        case MDX_COL_DBL:
            *(double *)f = rd->dbl(src, col);
            break;
        case MDX_COL_REAL:
            *(double *)f = rd->is_null(src, col) ? NAN : rd->dbl(src, col);
            break;
        case MDX_COL_BYTES:
            rd->bytes(src, col, f, c->len);
            break;
        }
    }
}

#define COL(kind, type, field) {kind, offsetof(type, field), sizeof(((type *)0)->field)}
#define LAYOUT(type, cols) {sizeof(type), sizeof(cols) / sizeof(cols[0]), cols}

static const struct mdx_col apikey_cols[] = {
    COL(MDX_COL_TEXT, struct mdx_apikey, id),
    COL(MDX_COL_TEXT, struct mdx_apikey, tenant),
    COL(MDX_COL_INT, struct mdx_apikey, role),
    COL(MDX_COL_BYTES, struct mdx_apikey, hash),
    COL(MDX_COL_TEXT, struct mdx_apikey, label),
    COL(MDX_COL_I64, struct mdx_apikey, created_ms),
    COL(MDX_COL_I64, struct mdx_apikey, revoked_ms),
};
const struct mdx_row_layout mdx_row_apikey = LAYOUT(struct mdx_apikey, apikey_cols);

static const struct mdx_col identity_cols[] = {
    COL(MDX_COL_TEXT, struct mdx_broker_identity, name),
    COL(MDX_COL_INT, struct mdx_broker_identity, kind),
    COL(MDX_COL_TEXT, struct mdx_broker_identity, tenant),
    COL(MDX_COL_TEXT, struct mdx_broker_identity, secret_hash),
    COL(MDX_COL_I64, struct mdx_broker_identity, created_ms),
    COL(MDX_COL_I64, struct mdx_broker_identity, revoked_ms),
};
const struct mdx_row_layout mdx_row_identity = LAYOUT(struct mdx_broker_identity, identity_cols);

static const struct mdx_col cred_cols[] = {
    COL(MDX_COL_TEXT, struct mdx_device_cred, tenant),
    COL(MDX_COL_TEXT, struct mdx_device_cred, device),
    COL(MDX_COL_TEXT, struct mdx_device_cred, secret_hash),
    COL(MDX_COL_TEXT, struct mdx_device_cred, cert_fingerprint),
    COL(MDX_COL_I64, struct mdx_device_cred, revoked_ms),
    COL(MDX_COL_I64, struct mdx_device_cred, updated_ms),
    COL(MDX_COL_INT, struct mdx_device_cred, legacy_topics),
};
const struct mdx_row_layout mdx_row_cred = LAYOUT(struct mdx_device_cred, cred_cols);

static const struct mdx_col rule_cols[] = {
    COL(MDX_COL_I64, struct mdx_rule, id),
    COL(MDX_COL_TEXT, struct mdx_rule, tenant),
    COL(MDX_COL_TEXT, struct mdx_rule, name),
    COL(MDX_COL_TEXT, struct mdx_rule, device_type),
    COL(MDX_COL_TEXT, struct mdx_rule, device),
    COL(MDX_COL_TEXT, struct mdx_rule, sensor),
    COL(MDX_COL_INT, struct mdx_rule, cmp),
    COL(MDX_COL_DBL, struct mdx_rule, threshold),
    COL(MDX_COL_DBL, struct mdx_rule, hysteresis),
    COL(MDX_COL_I64, struct mdx_rule, min_duration_ms),
    COL(MDX_COL_INT, struct mdx_rule, severity),
    COL(MDX_COL_INT, struct mdx_rule, enabled),
};
const struct mdx_row_layout mdx_row_rule = LAYOUT(struct mdx_rule, rule_cols);

static const struct mdx_col alert_cols[] = {
    COL(MDX_COL_I64, struct mdx_alert, id),
    COL(MDX_COL_TEXT, struct mdx_alert, tenant),
    COL(MDX_COL_TEXT, struct mdx_alert, device),
    COL(MDX_COL_TEXT, struct mdx_alert, source),
    COL(MDX_COL_TEXT, struct mdx_alert, sensor),
    COL(MDX_COL_INT, struct mdx_alert, severity),
    COL(MDX_COL_INT, struct mdx_alert, state),
    COL(MDX_COL_I64, struct mdx_alert, opened_ms),
    COL(MDX_COL_I64, struct mdx_alert, updated_ms),
    COL(MDX_COL_I64, struct mdx_alert, resolved_ms),
    COL(MDX_COL_REAL, struct mdx_alert, value),
    COL(MDX_COL_REAL, struct mdx_alert, score),
    COL(MDX_COL_TEXT, struct mdx_alert, summary),
};
const struct mdx_row_layout mdx_row_alert = LAYOUT(struct mdx_alert, alert_cols);

static const struct mdx_col command_cols[] = {
    COL(MDX_COL_I64, struct mdx_command, id),
    COL(MDX_COL_TEXT, struct mdx_command, tenant),
    COL(MDX_COL_TEXT, struct mdx_command, device),
    COL(MDX_COL_TEXT, struct mdx_command, name),
    COL(MDX_COL_DBL, struct mdx_command, value),
    COL(MDX_COL_INT, struct mdx_command, state),
    COL(MDX_COL_TEXT, struct mdx_command, detail),
    COL(MDX_COL_TEXT, struct mdx_command, issued_by),
    COL(MDX_COL_I64, struct mdx_command, created_ms),
    COL(MDX_COL_I64, struct mdx_command, updated_ms),
};
const struct mdx_row_layout mdx_row_command = LAYOUT(struct mdx_command, command_cols);

static const struct mdx_col model_cols[] = {
    COL(MDX_COL_TEXT, struct mdx_rul_model_rec, version),
    COL(MDX_COL_TEXT, struct mdx_rul_model_rec, path),
    COL(MDX_COL_TEXT, struct mdx_rul_model_rec, manifest),
    COL(MDX_COL_I64, struct mdx_rul_model_rec, created_ms),
};
const struct mdx_row_layout mdx_row_model = LAYOUT(struct mdx_rul_model_rec, model_cols);

static const struct mdx_col prediction_cols[] = {
    COL(MDX_COL_TEXT, struct mdx_rul_prediction, tenant),
    COL(MDX_COL_TEXT, struct mdx_rul_prediction, device),
    COL(MDX_COL_I64, struct mdx_rul_prediction, ts_ms),
    COL(MDX_COL_REAL, struct mdx_rul_prediction, rul),
    COL(MDX_COL_TEXT, struct mdx_rul_prediction, model_version),
    COL(MDX_COL_TEXT, struct mdx_rul_prediction, reason),
    COL(MDX_COL_I64, struct mdx_rul_prediction, reason_ms),
};
const struct mdx_row_layout mdx_row_prediction = LAYOUT(struct mdx_rul_prediction, prediction_cols);
