/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_model.c - RUL models on disk and in memory: an XGBoost booster in
 * XGBoost's own JSON format (loadable by SageMaker/Vertex/Azure ML tooling)
 * plus MODEL.manifest.json with the feature specification, cap, training
 * data hash and metrics; loading validates both. Prediction goes through
 * XGBoosterPredictFromDense (no DMatrix per call), one call per batch.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <xgboost/c_api.h>

#include "modax/alloc.h"
#include "modax/status.h"
#include "rul/rul_int.h"

#define MODEL_MAX_BYTES ((long)256 << 20)

struct mdx_rul_model {
    BoosterHandle booster;
    struct mdx_rul_manifest man;
    size_t n_features;
};

static const char predict_config[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                     "\"iteration_end\": 0, \"strict_shape\": false, "
                                     "\"cache_id\": 0, \"missing\": NaN}";

static const char *const stat_names[] = {"level", "mean", "slope", "spread", "ewma", "minmax"};

/* "DIR/NAME", "DIR/NAME.json" or "DIR/NAME.manifest.json" -> "DIR/NAME". */
static int base_of(const char *path, char *base, size_t len)
{
    size_t n = strlen(path);

    if (n > 14 && strcmp(path + n - 14, ".manifest.json") == 0) {
        n -= 14;
    } else if (n > 5 && strcmp(path + n - 5, ".json") == 0) {
        n -= 5;
    }
    if (n == 0 || n + 16 > len) {
        return MDX_EINVAL;
    }
    memcpy(base, path, n);
    base[n] = '\0';
    return MDX_OK;
}

static char *slurp(const char *path, size_t *len, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    long size;
    char *buf;

    if (f == NULL) {
        snprintf(why, whylen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        size > MODEL_MAX_BYTES) {
        snprintf(why, whylen, "cannot read '%s' (unreadable or larger than %ld bytes)", path,
                 MODEL_MAX_BYTES);
        fclose(f);
        return NULL;
    }
    buf = mdx_malloc((size_t)size + 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        snprintf(why, whylen, "cannot read '%s'", path);
        mdx_free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[size] = '\0';
    *len = (size_t)size;
    return buf;
}

cJSON *rul_feature_names_json(const struct mdx_rul_spec *s)
{
    cJSON *feat = cJSON_CreateArray();

    for (size_t i = 0; feat != NULL && i < mdx_rul_n_features(s); i++) {
        char fn[MDX_NAME_MAX + 16];
        mdx_rul_feature_name(s, i, fn, sizeof(fn));
        cJSON_AddItemToArray(feat, cJSON_CreateString(fn));
    }
    return feat;
}

cJSON *rul_spec_json(const struct mdx_rul_spec *s)
{
    cJSON *o = cJSON_CreateObject(), *in = cJSON_AddArrayToObject(o, "inputs");
    cJSON *st;

    for (size_t i = 0; i < s->n_inputs; i++) {
        cJSON_AddItemToArray(in, cJSON_CreateString(s->inputs[i]));
    }
    cJSON_AddNumberToObject(o, "window", s->window);
    cJSON_AddNumberToObject(o, "min_rows", mdx_rul_spec_min_rows(s));
    st = cJSON_AddArrayToObject(o, "stats");
    for (unsigned b = 0; b < 6; b++) {
        if (s->stats & (1u << b)) {
            cJSON_AddItemToArray(st, cJSON_CreateString(stat_names[b]));
        }
    }
    cJSON_AddNumberToObject(o, "ewma_alpha", s->ewma_alpha);
    cJSON_AddBoolToObject(o, "with_age", s->with_age);
    return o;
}

cJSON *rul_add_training_facts(cJSON *o, const struct mdx_rul_manifest *m)
{
    cJSON *met;

    cJSON_AddNumberToObject(o, "cap", m->cap);
    cJSON_AddStringToObject(o, "data_sha256", m->data_sha256);
    cJSON_AddNumberToObject(o, "trained_ms", (double)m->trained_ms);
    cJSON_AddNumberToObject(o, "rounds", (double)m->rounds);
    cJSON_AddNumberToObject(o, "n_assets", (double)m->n_assets);
    cJSON_AddNumberToObject(o, "n_rows", (double)m->n_rows);
    met = cJSON_AddObjectToObject(o, "metrics");
    cJSON_AddNumberToObject(met, "cv_rmse", m->cv_rmse);
    cJSON_AddNumberToObject(met, "cv_phm08", m->cv_phm08);
    cJSON_AddNumberToObject(met, "cv_last_rmse", m->cv_last_rmse);
    cJSON_AddNumberToObject(met, "cv_last_phm08", m->cv_last_phm08);
    return met;
}

int rul_model_save(void *booster, const struct mdx_rul_manifest *m, const char *protocol,
                   const char *dropped, const char *base, char *why, size_t whylen)
{
    char path[4096], name[128];
    const char *slash;
    cJSON *root, *met;
    char *text;
    FILE *f;
    int ok;

    if (snprintf(path, sizeof(path), "%s.json", base) >= (int)sizeof(path)) {
        snprintf(why, whylen, "output path too long");
        return MDX_EINVAL;
    }
    if (XGBoosterSaveModel(booster, path) != 0) {
        snprintf(why, whylen, "cannot save '%s': %s", path, XGBGetLastError());
        return MDX_EIO;
    }
    slash = strrchr(base, '/');
    snprintf(name, sizeof(name), "%s.json", slash ? slash + 1 : base);
    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", RUL_MANIFEST_FORMAT);
    cJSON_AddNumberToObject(root, "manifest_version", RUL_MANIFEST_VERSION);
    cJSON_AddStringToObject(root, "version", m->version);
    cJSON_AddStringToObject(root, "model", name);
    cJSON_AddStringToObject(root, "model_format", "xgboost-json");
    {
        int maj = 0, min = 0, pat = 0;
        char v[32];
        XGBoostVersion(&maj, &min, &pat);
        snprintf(v, sizeof(v), "%d.%d.%d", maj, min, pat);
        cJSON_AddStringToObject(root, "xgboost_version", v);
    }
    cJSON_AddItemToObject(root, "spec", rul_spec_json(&m->spec));
    cJSON_AddNumberToObject(root, "n_features", (double)mdx_rul_n_features(&m->spec));
    cJSON_AddItemToObject(root, "features", rul_feature_names_json(&m->spec));
    cJSON_AddStringToObject(root, "dropped_constant_inputs", dropped ? dropped : "");
    met = rul_add_training_facts(root, m);
    cJSON_AddStringToObject(met, "protocol", protocol ? protocol : "");
    text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) {
        snprintf(why, whylen, "out of memory");
        return MDX_ENOMEM;
    }
    snprintf(path, sizeof(path), "%s.manifest.json", base);
    f = fopen(path, "w");
    ok = f != NULL && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f != NULL && fclose(f) != 0) {
        ok = 0;
    }
    cJSON_free(text);
    if (!ok) {
        snprintf(why, whylen, "cannot write '%s': %s", path, strerror(errno));
        return MDX_EIO;
    }
    return MDX_OK;
}

/* Reads the manifest at 'path' into 'm'. */
static int manifest_parse(const char *path, struct mdx_rul_manifest *m, char *why, size_t whylen)
{
    size_t len;
    char *text = slurp(path, &len, why, whylen);
    cJSON *root, *spec, *it, *feat;
    int rc = MDX_EINVAL;

    if (text == NULL) {
        return MDX_EINVAL;
    }
    root = cJSON_ParseWithLength(text, len);
    mdx_free(text);
    memset(m, 0, sizeof(*m));
    if (!cJSON_IsObject(root) || !cJSON_IsString(cJSON_GetObjectItem(root, "format")) ||
        strcmp(cJSON_GetObjectItem(root, "format")->valuestring, RUL_MANIFEST_FORMAT) != 0) {
        snprintf(why, whylen, "'%s' is not a MODAX RUL manifest", path);
        goto out;
    }
    spec = cJSON_GetObjectItem(root, "spec");
    it = cJSON_GetObjectItem(spec, "inputs");
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > MDX_RUL_INPUTS_MAX) {
        snprintf(why, whylen, "manifest '%s': spec.inputs missing or more than %d", path,
                 MDX_RUL_INPUTS_MAX);
        goto out;
    }
    cJSON *e;
    cJSON_ArrayForEach(e, it) {
        if (!cJSON_IsString(e) || strlen(e->valuestring) > MDX_NAME_MAX ||
            m->spec.n_inputs >= MDX_RUL_INPUTS_MAX) {
            snprintf(why, whylen, "manifest '%s': spec.inputs holds a bad name", path);
            goto out;
        }
        memcpy(m->spec.inputs[m->spec.n_inputs++], e->valuestring, strlen(e->valuestring) + 1);
    }
    it = cJSON_GetObjectItem(spec, "window");
    m->spec.window = cJSON_IsNumber(it) ? it->valueint : 0;
    it = cJSON_GetObjectItem(spec, "min_rows"); /* absent in older manifests: the window */
    m->spec.min_rows = cJSON_IsNumber(it) ? it->valueint : 0;
    it = cJSON_GetObjectItem(spec, "stats");
    cJSON_ArrayForEach(e, it) {
        unsigned b;
        for (b = 0; b < 6; b++) {
            if (cJSON_IsString(e) && strcmp(e->valuestring, stat_names[b]) == 0) {
                m->spec.stats |= 1u << b;
                break;
            }
        }
        if (b == 6) {
            snprintf(why, whylen, "manifest '%s': unknown statistic in spec.stats", path);
            goto out;
        }
    }
    it = cJSON_GetObjectItem(spec, "ewma_alpha");
    m->spec.ewma_alpha = cJSON_IsNumber(it) ? it->valuedouble : 0.0;
    m->spec.with_age = cJSON_IsTrue(cJSON_GetObjectItem(spec, "with_age"));
    if (mdx_rul_spec_check(&m->spec, why, whylen) != MDX_OK) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "%s", why);
        snprintf(why, whylen, "manifest '%s': %s", path, tmp);
        goto out;
    }
    feat = cJSON_GetObjectItem(root, "features");
    if (!cJSON_IsArray(feat) || (size_t)cJSON_GetArraySize(feat) != mdx_rul_n_features(&m->spec)) {
        snprintf(why, whylen, "manifest '%s': feature list disagrees with its specification "
                 "(%d listed, the specification makes %zu)", path,
                 cJSON_IsArray(feat) ? cJSON_GetArraySize(feat) : 0, mdx_rul_n_features(&m->spec));
        goto out;
    }
    size_t i = 0;
    cJSON_ArrayForEach(e, feat) {
        char fn[MDX_NAME_MAX + 16];
        mdx_rul_feature_name(&m->spec, i, fn, sizeof(fn));
        if (!cJSON_IsString(e) || strcmp(e->valuestring, fn) != 0) {
            snprintf(why, whylen, "manifest '%s': feature %zu is '%s', the specification makes '%s'",
                     path, i + 1, cJSON_IsString(e) ? e->valuestring : "?", fn);
            goto out;
        }
        i++;
    }
    it = cJSON_GetObjectItem(root, "cap");
    m->cap = cJSON_IsNumber(it) ? it->valuedouble : 0.0;
    if (!(m->cap > 0.0)) {
        snprintf(why, whylen, "manifest '%s': cap missing or not positive", path);
        goto out;
    }
    it = cJSON_GetObjectItem(root, "version");
    snprintf(m->version, sizeof(m->version), "%s", cJSON_IsString(it) ? it->valuestring : "");
    it = cJSON_GetObjectItem(root, "data_sha256");
    snprintf(m->data_sha256, sizeof(m->data_sha256), "%s", cJSON_IsString(it) ? it->valuestring : "");
#define NUM(obj, key) (cJSON_IsNumber(cJSON_GetObjectItem(obj, key)) ? cJSON_GetObjectItem(obj, key)->valuedouble : 0.0)
    m->trained_ms = (int64_t)NUM(root, "trained_ms");
    m->rounds = (int64_t)NUM(root, "rounds");
    m->n_assets = (int64_t)NUM(root, "n_assets");
    m->n_rows = (int64_t)NUM(root, "n_rows");
    it = cJSON_GetObjectItem(root, "metrics");
    m->cv_rmse = NUM(it, "cv_rmse");
    m->cv_phm08 = NUM(it, "cv_phm08");
    m->cv_last_rmse = NUM(it, "cv_last_rmse");
    m->cv_last_phm08 = NUM(it, "cv_last_phm08");
#undef NUM
    rc = MDX_OK;
out:
    cJSON_Delete(root);
    return rc;
}

/* Checks that 'root' (parsed from 'path') is an XGBoost JSON model this library can load. */
static int check_xgb_json(const char *path, const cJSON *root, char *why, size_t whylen)
{
    const cJSON *ver, *learner;
    int rc = MDX_EINVAL;

    learner = cJSON_GetObjectItem(root, "learner");
    ver = cJSON_GetObjectItem(root, "version");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(learner) || !cJSON_IsArray(ver) ||
        cJSON_GetArraySize(ver) != 3) {
        snprintf(why, whylen, "'%s' is not an XGBoost JSON model (expected a JSON object with "
                 "'learner' and 'version' members, as written by XGBoost's save_model to a .json file)",
                 path);
    } else {
        int maj = cJSON_GetArrayItem(ver, 0)->valueint, min = cJSON_GetArrayItem(ver, 1)->valueint;
        int lmaj = 0, lmin = 0, lpat = 0;
        XGBoostVersion(&lmaj, &lmin, &lpat);
        if (maj > lmaj || (maj == lmaj && min > lmin)) {
            snprintf(why, whylen, "'%s' was written by XGBoost %d.%d; this build links XGBoost "
                     "%d.%d.%d, which only loads models of that version or older", path, maj, min,
                     lmaj, lmin, lpat);
        } else {
            rc = MDX_OK;
        }
    }
    return rc;
}

/* XGBoost's predictions of n rows into out. */
static int xgb_predict(BoosterHandle b, const float *x, size_t n, size_t nf, float *out)
{
    char arr[160];
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;

    snprintf(arr, sizeof(arr),
             "{\"data\": [%" PRIuPTR ", true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (uintptr_t)x, n, nf);
    if (XGBoosterPredictFromDense(b, arr, predict_config, NULL, &shape, &dim, &res) != 0 ||
        res == NULL) {
        return MDX_EINVAL;
    }
    memcpy(out, res, n * sizeof(float));
    return MDX_OK;
}

struct mdx_rul_model *mdx_rul_model_load(const char *path, char *why, size_t whylen, int *err)
{
    char base[4096], mpath[4096 + 16], jpath[4096 + 16];
    struct mdx_rul_model *m;
    char *text;
    size_t len;
    bst_ulong nf = 0;
    cJSON *root;

    *err = MDX_EINVAL;
    if (base_of(path, base, sizeof(base)) != MDX_OK) {
        snprintf(why, whylen, "bad model path '%s'", path);
        return NULL;
    }
    snprintf(jpath, sizeof(jpath), "%s.json", base);
    snprintf(mpath, sizeof(mpath), "%s.manifest.json", base);
    text = slurp(jpath, &len, why, whylen);
    if (text == NULL) {
        *err = MDX_ENOTFOUND;
        return NULL;
    }
    root = cJSON_ParseWithLength(text, len);
    if (check_xgb_json(jpath, root, why, whylen) != MDX_OK) {
        cJSON_Delete(root);
        mdx_free(text);
        return NULL;
    }
    m = mdx_calloc(1, sizeof(*m));
    if (m == NULL) {
        cJSON_Delete(root);
        mdx_free(text);
        *err = MDX_ENOMEM;
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    if (manifest_parse(mpath, &m->man, why, whylen) != MDX_OK) {
        cJSON_Delete(root);
        mdx_free(text);
        mdx_free(m);
        return NULL;
    }
    m->n_features = mdx_rul_n_features(&m->man.spec);
    if (XGBoosterCreate(NULL, 0, &m->booster) != 0 ||
        XGBoosterLoadModelFromBuffer(m->booster, text, (bst_ulong)len) != 0) {
        snprintf(why, whylen, "'%s': XGBoost cannot load it: %s", jpath, XGBGetLastError());
        cJSON_Delete(root);
        mdx_free(text);
        mdx_rul_model_free(m);
        return NULL;
    }
    mdx_free(text);
    if (XGBoosterGetNumFeature(m->booster, &nf) != 0 || nf != (bst_ulong)m->n_features) {
        snprintf(why, whylen, "'%s' takes %" PRIu64 " features but its manifest's feature "
                 "specification makes %zu: another feature specification", jpath, (uint64_t)nf,
                 m->n_features);
        cJSON_Delete(root);
        mdx_rul_model_free(m);
        return NULL;
    }
    XGBoosterSetParam(m->booster, "nthread", "1");
    cJSON_Delete(root);
    *err = MDX_OK;
    return m;
}

void mdx_rul_model_free(struct mdx_rul_model *m)
{
    if (m == NULL) {
        return;
    }
    if (m->booster != NULL) {
        XGBoosterFree(m->booster);
    }
    mdx_free(m);
}

void *rul_model_booster(const struct mdx_rul_model *m)
{
    return m->booster;
}

const struct mdx_rul_manifest *mdx_rul_model_manifest(const struct mdx_rul_model *m)
{
    return &m->man;
}

int mdx_rul_predict(struct mdx_rul_model *m, const float *features, size_t n, float *rul)
{
    const float cap = (float)m->man.cap;

    if (n == 0) {
        return MDX_OK;
    }
    if (xgb_predict(m->booster, features, n, m->n_features, rul) != MDX_OK) {
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        float v = rul[i];
        rul[i] = isnan(v) ? 0.0f : v < 0.0f ? 0.0f : v > cap ? cap : v;
    }
    return MDX_OK;
}
