/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_onnx.c - a RUL model as ONNX, the exchange format of the clouds' ML
 * services (SageMaker, Azure ML, Vertex AI; deploy/ml/).
 *
 * The trees come from XGBoost's own JSON dump (XGBoosterDumpModelExWithFeatures),
 * base_score and the objective from its JSON configuration; nothing here
 * reads XGBoost's model format. The graph is one ai.onnx.ml
 * TreeEnsembleRegressor (aggregate SUM, BRANCH_LT
 * on float32 thresholds, as XGBoost's "x < split_condition" on float32
 * features; a missing (NaN) value follows XGBoost's "missing" branch via
 * nodes_missing_value_tracks_true), then a Clip to [0, cap] as
 * mdx_rul_predict does. base_score is added to the first tree's leaves
 * (float32, as XGBoost adds it) rather than given as base_values: XGBoost
 * sums in float32 from base_score through the trees in order, ONNX Runtime
 * through the trees and base_values last, and over hundreds of trees the
 * two orders differ by up to ~2e-4; this way both add the same numbers in
 * the same order. The feature specification and the manifest's facts
 * travel in the model's metadata_props. The messages are the C that
 * protoc-c generates at build time from the ONNX schema of Debian's
 * libonnx-dev (CMakeLists.txt).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <xgboost/c_api.h>

#include ONNX_PB_C_H

#include "modax/alloc.h"
#include "modax/status.h"
#include "rul/rul_int.h"

#define ONNX_IR_VERSION 8     /* ONNX 1.10+; Debian 12's checker (1.12) knows up to 8 */
#define ONNX_OPSET 13         /* Clip with min/max as inputs (11+) */
#define ONNX_ML_OPSET 3       /* TreeEnsembleRegressor with float attributes */
#define TREE_DEPTH_MAX 64     /* deeper than any tree `modax train` grows; bounds the recursion */

/* The ensemble as the parallel arrays of TreeEnsembleRegressor's attributes. */
struct ensemble {
    size_t n_nodes, n_leaves, nf;
    float base;                   /* base_score, folded into the first tree's leaves */
    int64_t *treeids, *nodeids, *featureids, *true_ids, *false_ids, *missing_true;
    float *values;
    ProtobufCBinaryData *modes;
    int64_t *leaf_treeids, *leaf_nodeids, *leaf_targets;
    float *leaf_weights;
};

static void ensemble_free(struct ensemble *e)
{
    mdx_free(e->treeids);
    mdx_free(e->nodeids);
    mdx_free(e->featureids);
    mdx_free(e->true_ids);
    mdx_free(e->false_ids);
    mdx_free(e->missing_true);
    mdx_free(e->values);
    mdx_free(e->modes);
    mdx_free(e->leaf_treeids);
    mdx_free(e->leaf_nodeids);
    mdx_free(e->leaf_targets);
    mdx_free(e->leaf_weights);
}

static int ensemble_alloc(struct ensemble *e, size_t nodes, size_t leaves)
{
    size_t n = nodes ? nodes : 1, l = leaves ? leaves : 1;

    e->treeids = mdx_calloc(n, sizeof(int64_t));
    e->nodeids = mdx_calloc(n, sizeof(int64_t));
    e->featureids = mdx_calloc(n, sizeof(int64_t));
    e->true_ids = mdx_calloc(n, sizeof(int64_t));
    e->false_ids = mdx_calloc(n, sizeof(int64_t));
    e->missing_true = mdx_calloc(n, sizeof(int64_t));
    e->values = mdx_calloc(n, sizeof(float));
    e->modes = mdx_calloc(n, sizeof(ProtobufCBinaryData));
    e->leaf_treeids = mdx_calloc(l, sizeof(int64_t));
    e->leaf_nodeids = mdx_calloc(l, sizeof(int64_t));
    e->leaf_targets = mdx_calloc(l, sizeof(int64_t));
    e->leaf_weights = mdx_calloc(l, sizeof(float));
    if (e->treeids == NULL || e->nodeids == NULL || e->featureids == NULL ||
        e->true_ids == NULL || e->false_ids == NULL || e->missing_true == NULL ||
        e->values == NULL || e->modes == NULL || e->leaf_treeids == NULL ||
        e->leaf_nodeids == NULL || e->leaf_targets == NULL || e->leaf_weights == NULL) {
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

static int json_int(const cJSON *o, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9 ||
        v->valuedouble != floor(v->valuedouble)) {
        return MDX_EINVAL;
    }
    *out = (int64_t)v->valuedouble;
    return MDX_OK;
}

/*
 * Adds the nodes of the dumped (sub)tree 'node' of tree 'tree' to 'e', or
 * only counts them when e->treeids is NULL. MDX_EINVAL with 'why' for a node
 * that is not an ordinary numerical split or leaf.
 */
static int add_nodes(struct ensemble *e, int64_t tree, const cJSON *node, int depth, char *why,
                     size_t whylen)
{
    const cJSON *leaf = cJSON_GetObjectItemCaseSensitive(node, "leaf");
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(node, "split");
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(node, "split_condition");
    const cJSON *kids = cJSON_GetObjectItemCaseSensitive(node, "children");
    int64_t id, yes, no, missing;
    unsigned long feature;
    char *end;
    int rc;

    if (depth > TREE_DEPTH_MAX || json_int(node, "nodeid", &id) != MDX_OK) {
        snprintf(why, whylen, "tree %lld: a node without a valid nodeid, or deeper than %d",
                 (long long)tree, TREE_DEPTH_MAX);
        return MDX_EINVAL;
    }
    if (cJSON_IsNumber(leaf)) {
        if (e->treeids != NULL) {
            size_t i = e->n_nodes, k = e->n_leaves;
            e->treeids[i] = tree;
            e->nodeids[i] = id;
            e->modes[i].data = (uint8_t *)"LEAF";
            e->modes[i].len = 4;
            e->leaf_treeids[k] = tree;
            e->leaf_nodeids[k] = id;
            e->leaf_targets[k] = 0;
            e->leaf_weights[k] = (float)leaf->valuedouble; /* printed exactly, as float32 */
            if (tree == 0) {
                e->leaf_weights[k] += e->base;
            }
        }
        e->n_nodes++;
        e->n_leaves++;
        return MDX_OK;
    }
    if (!cJSON_IsString(split) || split->valuestring[0] != 'f' || !cJSON_IsNumber(cond) ||
        cJSON_GetObjectItemCaseSensitive(node, "categories") != NULL ||
        json_int(node, "yes", &yes) != MDX_OK || json_int(node, "no", &no) != MDX_OK ||
        json_int(node, "missing", &missing) != MDX_OK || !cJSON_IsArray(kids) ||
        cJSON_GetArraySize(kids) != 2 || (missing != yes && missing != no)) {
        snprintf(why, whylen, "tree %lld, node %lld: not a numerical split with two children "
                 "(categorical splits cannot be exported)", (long long)tree, (long long)id);
        return MDX_EINVAL;
    }
    errno = 0;
    feature = strtoul(split->valuestring + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == split->valuestring + 1 || feature >= e->nf) {
        snprintf(why, whylen, "tree %lld, node %lld: split on '%s', not one of the model's %zu "
                 "features", (long long)tree, (long long)id, split->valuestring, e->nf);
        return MDX_EINVAL;
    }
    if (e->treeids != NULL) {
        size_t i = e->n_nodes;
        e->treeids[i] = tree;
        e->nodeids[i] = id;
        e->featureids[i] = (int64_t)feature;
        e->values[i] = (float)cond->valuedouble; /* the dump prints float32 exactly */
        e->modes[i].data = (uint8_t *)"BRANCH_LT";
        e->modes[i].len = 9;
        e->true_ids[i] = yes;
        e->false_ids[i] = no;
        e->missing_true[i] = missing == yes;
    }
    e->n_nodes++;
    rc = add_nodes(e, tree, cJSON_GetArrayItem(kids, 0), depth + 1, why, whylen);
    if (rc == MDX_OK) {
        rc = add_nodes(e, tree, cJSON_GetArrayItem(kids, 1), depth + 1, why, whylen);
    }
    return rc;
}

/* Dumps the booster's trees into 'e' (two passes: count, then fill). */
static int read_trees(BoosterHandle b, struct ensemble *e, char *why, size_t whylen)
{
    const char **names = NULL, **types = NULL, **dump = NULL;
    char (*fname)[24] = NULL;
    cJSON **trees = NULL;
    bst_ulong n = 0;
    int rc = MDX_ENOMEM;

    names = mdx_calloc(e->nf, sizeof(*names));
    types = mdx_calloc(e->nf, sizeof(*types));
    fname = mdx_calloc(e->nf, sizeof(*fname));
    if (names == NULL || types == NULL || fname == NULL) {
        goto out;
    }
    for (size_t i = 0; i < e->nf; i++) { /* "f<index>" whatever names the booster carries */
        snprintf(fname[i], sizeof(fname[i]), "f%zu", i);
        names[i] = fname[i];
        types[i] = "q";
    }
    if (XGBoosterDumpModelExWithFeatures(b, (int)e->nf, names, types, 0, "json", &n, &dump) != 0) {
        snprintf(why, whylen, "XGBoost cannot dump the model: %s", XGBGetLastError());
        rc = MDX_EINVAL;
        goto out;
    }
    if (n == 0) {
        snprintf(why, whylen, "the model has no trees");
        rc = MDX_EINVAL;
        goto out;
    }
    trees = mdx_calloc((size_t)n, sizeof(*trees));
    if (trees == NULL) {
        goto out;
    }
    rc = MDX_OK;
    for (bst_ulong t = 0; t < n && rc == MDX_OK; t++) {
        trees[t] = cJSON_Parse(dump[t]);
        if (trees[t] == NULL) {
            snprintf(why, whylen, "tree %llu: XGBoost's dump is not JSON", (unsigned long long)t);
            rc = MDX_EINVAL;
        } else {
            rc = add_nodes(e, (int64_t)t, trees[t], 0, why, whylen);
        }
    }
    if (rc == MDX_OK) {
        size_t nodes = e->n_nodes, leaves = e->n_leaves;
        rc = ensemble_alloc(e, nodes, leaves);
        e->n_nodes = e->n_leaves = 0;
        for (bst_ulong t = 0; t < n && rc == MDX_OK; t++) {
            rc = add_nodes(e, (int64_t)t, trees[t], 0, why, whylen);
        }
    }
out:
    if (rc == MDX_ENOMEM) {
        snprintf(why, whylen, "out of memory");
    }
    for (bst_ulong t = 0; trees != NULL && t < n; t++) {
        cJSON_Delete(trees[t]);
    }
    mdx_free(trees);
    mdx_free(fname);
    mdx_free(types);
    mdx_free(names);
    return rc;
}

/*
 * base_score from the booster's configuration; refuses what one sum of
 * trees plus base_score does not reproduce: another booster than gbtree
 * (dart weighs its trees), an objective whose prediction transforms the
 * margin, more than one output.
 */
static int read_base_score(BoosterHandle b, float *base, char *why, size_t whylen)
{
    static const char *const identity[] = {"reg:squarederror", "reg:squaredlogerror",
                                           "reg:pseudohubererror", "reg:absoluteerror"};
    const char *text = NULL;
    const cJSON *learner, *obj, *gb, *param, *bs, *nc;
    bst_ulong len = 0;
    cJSON *root;
    char *end;
    int rc = MDX_EINVAL, ok = 0;

    if (XGBoosterSaveJsonConfig(b, &len, &text) != 0 || text == NULL) {
        snprintf(why, whylen, "XGBoost cannot give the model's configuration: %s",
                 XGBGetLastError());
        return MDX_EINVAL;
    }
    root = cJSON_ParseWithLength(text, (size_t)len);
    learner = cJSON_GetObjectItemCaseSensitive(root, "learner");
    obj = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(learner, "objective"),
                                           "name");
    gb = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(learner, "gradient_booster"), "name");
    param = cJSON_GetObjectItemCaseSensitive(learner, "learner_model_param");
    bs = cJSON_GetObjectItemCaseSensitive(param, "base_score");
    nc = cJSON_GetObjectItemCaseSensitive(param, "num_class");
    for (size_t i = 0; cJSON_IsString(obj) && i < sizeof(identity) / sizeof(identity[0]); i++) {
        ok |= strcmp(obj->valuestring, identity[i]) == 0;
    }
    if (!cJSON_IsString(gb) || strcmp(gb->valuestring, "gbtree") != 0) {
        snprintf(why, whylen, "booster '%s': only gbtree models can be exported",
                 cJSON_IsString(gb) ? gb->valuestring : "?");
    } else if (!ok) {
        snprintf(why, whylen, "objective '%s' transforms its output; only regression objectives "
                 "that predict the sum of the trees can be exported",
                 cJSON_IsString(obj) ? obj->valuestring : "?");
    } else if (cJSON_IsString(nc) && strcmp(nc->valuestring, "0") != 0) {
        snprintf(why, whylen, "a model with %s classes cannot be exported as one regressor",
                 nc->valuestring);
    } else if (!cJSON_IsString(bs) ||
               (*base = strtof(bs->valuestring, &end), end == bs->valuestring || *end != '\0') ||
               !isfinite(*base)) {
        snprintf(why, whylen, "the model's configuration has no valid base_score");
    } else {
        rc = MDX_OK;
    }
    cJSON_Delete(root);
    return rc;
}

/* ---- the ONNX messages ---- */

/* Clears 'a' and names it an attribute 'name' (borrowed) of 'type'; the caller sets the value. */
static void attr_init(Onnx__AttributeProto *a, const char *name,
                      Onnx__AttributeProto__AttributeType type)
{
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
}

static void attr_ints(Onnx__AttributeProto *a, const char *name, int64_t *v, size_t n)
{
    attr_init(a, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = n;
    a->ints = v;
}

static void attr_floats(Onnx__AttributeProto *a, const char *name, float *v, size_t n)
{
    attr_init(a, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->n_floats = n;
    a->floats = v;
}

static void attr_string(Onnx__AttributeProto *a, const char *name, const char *v)
{
    attr_init(a, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)v;
    a->s.len = strlen(v);
}

static void attr_int(Onnx__AttributeProto *a, const char *name, int64_t v)
{
    attr_init(a, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

/* Clears 'n' and makes it an 'op' node of 'domain' from 'in' to 'out' (all borrowed). */
static void node_init(Onnx__NodeProto *n, const char *name, const char *op, const char *domain,
                      char **in, size_t n_in, char **out, size_t n_out)
{
    onnx__node_proto__init(n);
    n->name = (char *)name;
    n->op_type = (char *)op;
    n->domain = (char *)domain;
    n->n_input = n_in;
    n->input = in;
    n->n_output = n_out;
    n->output = out;
}

/* A float32 tensor value of shape [N, cols] ("N" rows). */
struct tensor_info {
    Onnx__ValueInfoProto vi;
    Onnx__TypeProto type;
    Onnx__TypeProto__Tensor tensor;
    Onnx__TensorShapeProto shape;
    Onnx__TensorShapeProto__Dimension dim[2];
    Onnx__TensorShapeProto__Dimension *dims[2];
};

static void tensor_info(struct tensor_info *t, const char *name, int64_t cols, const char *doc)
{
    onnx__value_info_proto__init(&t->vi);
    onnx__type_proto__init(&t->type);
    onnx__type_proto__tensor__init(&t->tensor);
    onnx__tensor_shape_proto__init(&t->shape);
    for (int i = 0; i < 2; i++) {
        onnx__tensor_shape_proto__dimension__init(&t->dim[i]);
        t->dims[i] = &t->dim[i];
    }
    t->dim[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    t->dim[0].dim_param = (char *)"N";
    t->dim[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    t->dim[1].dim_value = cols;
    t->shape.n_dim = 2;
    t->shape.dim = t->dims;
    t->tensor.has_elem_type = 1;
    t->tensor.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->tensor.shape = &t->shape;
    t->type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->type.tensor_type = &t->tensor;
    t->vi.name = (char *)name;
    t->vi.doc_string = (char *)doc;
    t->vi.type = &t->type;
}

static void scalar_float(Onnx__TensorProto *t, const char *name, float *v)
{
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_float_data = 1;
    t->float_data = v;
}

/* The metadata_props texts; owned, freed by meta_free. */
struct meta {
    char *spec, *features, *manifest;
    char version[64], cap[32], n_features[32], base[32];
};

static void meta_free(struct meta *md)
{
    cJSON_free(md->spec);
    cJSON_free(md->features);
    cJSON_free(md->manifest);
}

static int meta_make(struct meta *md, const struct mdx_rul_manifest *man, float base)
{
    cJSON *spec = rul_spec_json(&man->spec), *feat = rul_feature_names_json(&man->spec);
    cJSON *facts = cJSON_CreateObject();

    if (facts != NULL) {
        cJSON_AddStringToObject(facts, "version", man->version);
        rul_add_training_facts(facts, man);
    }
    md->spec = spec ? cJSON_PrintUnformatted(spec) : NULL;
    md->features = feat ? cJSON_PrintUnformatted(feat) : NULL;
    md->manifest = facts ? cJSON_PrintUnformatted(facts) : NULL;
    cJSON_Delete(spec);
    cJSON_Delete(feat);
    cJSON_Delete(facts);
    snprintf(md->version, sizeof(md->version), "%s", man->version);
    snprintf(md->cap, sizeof(md->cap), "%.9g", man->cap);
    snprintf(md->n_features, sizeof(md->n_features), "%zu", mdx_rul_n_features(&man->spec));
    snprintf(md->base, sizeof(md->base), "%.9g", (double)base);
    return md->spec && md->features && md->manifest ? MDX_OK : MDX_ENOMEM;
}

/* Writes 'len' bytes to 'path' by way of PATH.tmp and a rename: never a half file. */
static int write_file(const char *path, const uint8_t *data, size_t len, char *why,
                      size_t whylen)
{
    char tmp[4096];
    FILE *f;
    int ok;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        snprintf(why, whylen, "output path too long");
        return MDX_EINVAL;
    }
    f = fopen(tmp, "wb");
    if (f == NULL) {
        snprintf(why, whylen, "cannot write '%s': %s", path, strerror(errno));
        return MDX_EIO;
    }
    ok = fwrite(data, 1, len, f) == len;
    if (fclose(f) != 0) {
        ok = 0;
    }
    if (!ok || rename(tmp, path) != 0) {
        snprintf(why, whylen, "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        return MDX_EIO;
    }
    return MDX_OK;
}

int mdx_rul_model_export_onnx(const struct mdx_rul_model *m, const char *path, char *why,
                              size_t whylen)
{
    const struct mdx_rul_manifest *man = mdx_rul_model_manifest(m);
    struct ensemble e = {.nf = mdx_rul_n_features(&man->spec)};
    struct meta md = {0};
    float base = 0.0f, base_values[1], clip_min = 0.0f, clip_max = (float)man->cap;
    int64_t n_targets_one = 1;
    Onnx__AttributeProto ta[16], *tap[16];
    Onnx__NodeProto trees, clip, *nodes[2] = {&trees, &clip};
    char *trees_in[] = {(char *)"features"}, *trees_out[] = {(char *)"rul_unclipped"};
    char *clip_in[] = {(char *)"rul_unclipped", (char *)"rul_min", (char *)"rul_max"};
    char *clip_out[] = {(char *)"rul"};
    Onnx__TensorProto init[2], *inits[2] = {&init[0], &init[1]};
    struct tensor_info in, out_rul, out_raw;
    Onnx__ValueInfoProto *ins[1] = {&in.vi}, *outs[2] = {&out_rul.vi, &out_raw.vi};
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto ops[2], *opsp[2] = {&ops[0], &ops[1]};
    Onnx__StringStringEntryProto kv[8], *kvp[8];
    Onnx__ModelProto model;
    uint8_t *bytes = NULL;
    size_t na = 0, len;
    int rc;

    rc = read_base_score(rul_model_booster(m), &base, why, whylen);
    e.base = base;
    if (rc == MDX_OK) {
        rc = read_trees(rul_model_booster(m), &e, why, whylen);
    }
    if (rc == MDX_OK) {
        rc = meta_make(&md, man, base);
        if (rc != MDX_OK) {
            snprintf(why, whylen, "out of memory");
        }
    }
    if (rc != MDX_OK) {
        goto out;
    }
    base_values[0] = 0.0f; /* in the first tree's leaves */

    attr_int(&ta[na++], "n_targets", n_targets_one);
    attr_string(&ta[na++], "aggregate_function", "SUM");
    attr_string(&ta[na++], "post_transform", "NONE");
    attr_floats(&ta[na++], "base_values", base_values, 1);
    attr_ints(&ta[na++], "nodes_treeids", e.treeids, e.n_nodes);
    attr_ints(&ta[na++], "nodes_nodeids", e.nodeids, e.n_nodes);
    attr_ints(&ta[na++], "nodes_featureids", e.featureids, e.n_nodes);
    attr_floats(&ta[na++], "nodes_values", e.values, e.n_nodes);
    attr_init(&ta[na], "nodes_modes", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    ta[na].n_strings = e.n_nodes;
    ta[na++].strings = e.modes;
    attr_ints(&ta[na++], "nodes_truenodeids", e.true_ids, e.n_nodes);
    attr_ints(&ta[na++], "nodes_falsenodeids", e.false_ids, e.n_nodes);
    attr_ints(&ta[na++], "nodes_missing_value_tracks_true", e.missing_true, e.n_nodes);
    attr_ints(&ta[na++], "target_treeids", e.leaf_treeids, e.n_leaves);
    attr_ints(&ta[na++], "target_nodeids", e.leaf_nodeids, e.n_leaves);
    attr_ints(&ta[na++], "target_ids", e.leaf_targets, e.n_leaves);
    attr_floats(&ta[na++], "target_weights", e.leaf_weights, e.n_leaves);
    for (size_t i = 0; i < na; i++) {
        tap[i] = &ta[i];
    }
    node_init(&trees, "xgboost_trees", "TreeEnsembleRegressor", "ai.onnx.ml", trees_in, 1,
              trees_out, 1);
    trees.n_attribute = na;
    trees.attribute = tap;
    node_init(&clip, "clip_to_cap", "Clip", "", clip_in, 3, clip_out, 1);

    scalar_float(&init[0], "rul_min", &clip_min);
    scalar_float(&init[1], "rul_max", &clip_max);
    tensor_info(&in, "features", (int64_t)e.nf,
                "float32 [N, n_features], columns in the order of metadata modax.rul.features; "
                "NaN is a missing value");
    tensor_info(&out_rul, "rul", 1, "remaining useful life in rows (cycles), clipped to [0, cap]");
    tensor_info(&out_raw, "rul_unclipped", 1, "the sum of the trees and base_score, unclipped");

    onnx__graph_proto__init(&graph);
    graph.name = (char *)"modax_rul";
    graph.n_node = 2;
    graph.node = nodes;
    graph.n_initializer = 2;
    graph.initializer = inits;
    graph.n_input = 1;
    graph.input = ins;
    graph.n_output = 2;
    graph.output = outs;

    for (int i = 0; i < 2; i++) {
        onnx__operator_set_id_proto__init(&ops[i]);
        ops[i].has_version = 1;
    }
    ops[0].domain = (char *)"";
    ops[0].version = ONNX_OPSET;
    ops[1].domain = (char *)"ai.onnx.ml";
    ops[1].version = ONNX_ML_OPSET;

    {
        const char *keys[] = {"modax.rul.format", "modax.rul.version", "modax.rul.features",
                              "modax.rul.n_features", "modax.rul.spec", "modax.rul.cap",
                              "modax.rul.base_score", "modax.rul.manifest"};
        const char *vals[] = {"modax-rul-onnx-1", md.version, md.features, md.n_features,
                              md.spec, md.cap, md.base, md.manifest};
        for (int i = 0; i < 8; i++) {
            onnx__string_string_entry_proto__init(&kv[i]);
            kv[i].key = (char *)keys[i];
            kv[i].value = (char *)vals[i];
            kvp[i] = &kv[i];
        }
    }
    onnx__model_proto__init(&model);
    model.has_ir_version = 1;
    model.ir_version = ONNX_IR_VERSION;
    model.n_opset_import = 2;
    model.opset_import = opsp;
    model.producer_name = (char *)"modax";
    model.producer_version = (char *)"1";
    model.domain = (char *)"io.modax.rul";
    model.has_model_version = 1;
    model.model_version = 1;
    model.doc_string = (char *)"MODAX remaining-useful-life model (XGBoost trees); the feature "
                               "specification is in metadata_props (modax.rul.spec, "
                               "modax.rul.features)";
    model.graph = &graph;
    model.n_metadata_props = 8;
    model.metadata_props = kvp;

    len = onnx__model_proto__get_packed_size(&model);
    bytes = mdx_malloc(len ? len : 1);
    if (bytes == NULL) {
        snprintf(why, whylen, "out of memory");
        rc = MDX_ENOMEM;
        goto out;
    }
    if (onnx__model_proto__pack(&model, bytes) != len) {
        snprintf(why, whylen, "the ONNX encoder wrote another size than it measured");
        rc = MDX_EINVAL;
        goto out;
    }
    rc = write_file(path, bytes, len, why, whylen);
out:
    mdx_free(bytes);
    meta_free(&md);
    ensemble_free(&e);
    return rc;
}
