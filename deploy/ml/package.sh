#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Packages a RUL model of `modax train` for the clouds' ML services:
#   deploy/ml/package.sh MODEL [OUT]     (MODEL: DIR/NAME of NAME.json + NAME.manifest.json)
# writes into OUT (default deploy/ml/out):
#   triton/rul/config.pbtxt, triton/rul/1/model.onnx  the Triton model repository
#                                      (Azure ML triton_model: azureml-deployment.yml)
#   sagemaker-model.tar.gz             the same repository for SageMaker's Triton (sagemaker.json)
#   vertex/model.bst                   the XGBoost JSON model for Vertex AI's XGBoost 1.7
#                                      container (vertex-model-upload.json); XGBoost reads
#                                      the JSON format from the content, whatever the name
#   manifest.json                      the model's manifest (feature specification, metrics)
# MODAX is the modax binary (default: modax on PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 MODEL [OUT]" >&2; exit 2; }
model=${1%.json}
out=${2:-$here/out}
modax=${MODAX:-modax}

[ -f "$model.json" ] && [ -f "$model.manifest.json" ] ||
    { echo "package.sh: $model.json and $model.manifest.json are needed (modax train --out $model)" >&2; exit 2; }
rm -rf "$out/triton" "$out/vertex" "$out/sagemaker-model.tar.gz"
mkdir -p "$out/triton/rul/1" "$out/vertex"
"$modax" model export --onnx "$out/triton/rul/1/model.onnx" "$model.json"
cp "$here/triton/config.pbtxt" "$out/triton/rul/config.pbtxt"
tar -czf "$out/sagemaker-model.tar.gz" -C "$out/triton" rul
cp "$model.json" "$out/vertex/model.bst"
cp "$model.manifest.json" "$out/manifest.json"
echo "package.sh: $out/{triton/rul, sagemaker-model.tar.gz, vertex/model.bst, manifest.json}"
