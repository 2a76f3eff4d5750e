# SPDX-License-Identifier: Apache-2.0
"""rul_onnx_check.py - Debian's python3-onnx on a model from `modax model export
--onnx` (issue 15, item 4): the full checker (with shape inference) accepts it,
and it is the graph and metadata the export promises. Called by
tests/integration/test_rul_onnx.c:
    python3 rul_onnx_check.py MODEL.onnx MODEL.manifest.json [--missing-both-ways]
With --missing-both-ways, some splits must send a missing value to their
true branch and some to their false branch (a model trained with NaNs).
Exits 1 with the reason on the first thing that is not so."""
import json
import sys

import onnx
from onnx import helper, numpy_helper


def fail(why):
    print(f"rul_onnx_check: {why}", file=sys.stderr)
    sys.exit(1)


def main():
    model_path, manifest_path = sys.argv[1], sys.argv[2]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)

    opsets = {o.domain: o.version for o in model.opset_import}
    if "ai.onnx.ml" not in opsets or "" not in opsets:
        fail(f"opset imports {opsets}: want ai.onnx.ml and the default domain")
    nodes = [(n.domain, n.op_type) for n in model.graph.node]
    if nodes != [("ai.onnx.ml", "TreeEnsembleRegressor"), ("", "Clip")]:
        fail(f"nodes {nodes}: want TreeEnsembleRegressor then Clip")
    trees = {a.name: helper.get_attribute_value(a) for a in model.graph.node[0].attribute}
    if trees.get("aggregate_function") != b"SUM" or trees.get("post_transform") != b"NONE":
        fail("the ensemble does not sum its trees untransformed")
    if set(trees.get("nodes_modes", [])) != {b"BRANCH_LT", b"LEAF"}:
        fail(f"node modes {set(trees.get('nodes_modes', []))}: want BRANCH_LT and LEAF")
    n_nodes = len(trees["nodes_nodeids"])
    if len(trees.get("nodes_missing_value_tracks_true", [])) != n_nodes:
        fail("nodes_missing_value_tracks_true is not given for every node")
    tracks = {t for t, mode in zip(trees["nodes_missing_value_tracks_true"], trees["nodes_modes"])
              if mode == b"BRANCH_LT"}
    if "--missing-both-ways" in sys.argv[3:] and tracks != {0, 1}:
        fail(f"missing values go only one way ({tracks}); want both")
    # base_score is folded into the first tree's leaves (see src/rul/rul_onnx.c)
    if trees["n_targets"] != 1 or trees["base_values"] != [0.0]:
        fail("not one target with a zero base value")

    meta = {p.key: p.value for p in model.metadata_props}
    n_features = manifest["n_features"]
    if json.loads(meta["modax.rul.features"]) != manifest["features"]:
        fail("metadata modax.rul.features differs from the manifest's feature list")
    if json.loads(meta["modax.rul.spec"]) != manifest["spec"]:
        fail("metadata modax.rul.spec differs from the manifest's specification")
    if meta["modax.rul.version"] != manifest["version"] or float(meta["modax.rul.cap"]) != manifest["cap"]:
        fail("metadata version or cap differs from the manifest")
    if int(meta["modax.rul.n_features"]) != n_features:
        fail("metadata n_features differs from the manifest")
    if max(trees["nodes_featureids"]) >= n_features:
        fail("a split reads a feature beyond n_features")
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if model.graph.input[0].name != "features" or len(dims) != 2 or dims[1].dim_value != n_features:
        fail(f"input {model.graph.input[0].name} {dims}: want features [N, {n_features}]")
    clip_max = [t for t in model.graph.initializer if t.name == "rul_max"]
    if len(clip_max) != 1 or numpy_helper.to_array(clip_max[0]) != manifest["cap"]:
        fail("the clip's maximum is not the manifest's cap")
    print(f"rul_onnx_check: onnx {onnx.__version__} full check passed; {n_nodes} nodes, "
          f"{n_features} features, opsets {opsets}")


if __name__ == "__main__":
    main()
