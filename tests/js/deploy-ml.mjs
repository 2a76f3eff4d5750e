// SPDX-License-Identifier: Apache-2.0
// deploy-ml.mjs - checks deploy/ml/ offline (issue 15, item 4): the SageMaker
// CloudFormation template, the Azure ML endpoint and deployment, the Vertex AI
// upload request parse; their names agree (Triton model name, endpoint names,
// every Ref/GetAtt defined); each names a serving container that takes what
// deploy/ml/package.sh writes, and package.sh, run on a model trained here,
// writes exactly that: a Triton repository whose ONNX model onnxruntime-web
// runs, the same in the SageMaker tarball, and model.bst for the XGBoost
// container of the XGBoost version the model was trained with.
//
//   MODAX_BIN_DIR=build MODAX_SOURCE_DIR=. node tests/js/deploy-ml.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import * as ort from 'onnxruntime-web';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const BIN = path.resolve(process.env.MODAX_BIN_DIR ?? 'build');
const SRC = path.resolve(process.env.MODAX_SOURCE_DIR ?? path.resolve(HERE, '../..'));
const ML = path.join(SRC, 'deploy/ml');

let checks = 0, failed = 0;
const check = (ok, msg) => {
    checks++;
    if (!ok) {
        failed++;
        console.error(`FAIL ${msg}`);
    }
    return ok;
};

// ---- the descriptors parse ----
const cfn = JSON.parse(fs.readFileSync(path.join(ML, 'sagemaker.json'), 'utf8'));
const azEndpoint = YAML.parse(fs.readFileSync(path.join(ML, 'azureml-endpoint.yml'), 'utf8'));
const azDeploy = YAML.parse(fs.readFileSync(path.join(ML, 'azureml-deployment.yml'), 'utf8'));
const vertex = JSON.parse(fs.readFileSync(path.join(ML, 'vertex-model-upload.json'), 'utf8'));
const pbtxt = fs.readFileSync(path.join(ML, 'triton/config.pbtxt'), 'utf8');
const tritonName = /^name:\s*"([^"]+)"/m.exec(pbtxt)?.[1];
check(tritonName === 'rul', `triton/config.pbtxt names model ${tritonName}, want rul`);
check(/^backend:\s*"onnxruntime"/m.test(pbtxt), 'triton/config.pbtxt: backend onnxruntime');

// ---- SageMaker: model, endpoint config, endpoint; every reference defined ----
const res = cfn.Resources ?? {};
const byType = (t) => Object.entries(res).filter(([, r]) => r.Type === t).map(([k]) => k);
const [model] = byType('AWS::SageMaker::Model');
const [epc] = byType('AWS::SageMaker::EndpointConfig');
const [ep] = byType('AWS::SageMaker::Endpoint');
check(cfn.AWSTemplateFormatVersion === '2010-09-09', 'sagemaker.json: a CloudFormation template');
if (check(model && epc && ep, 'sagemaker.json: a Model, an EndpointConfig and an Endpoint')) {
    const c = res[model].Properties.PrimaryContainer;
    check(JSON.stringify(c.Image).includes('sagemaker-tritonserver'),
          'sagemaker.json: the model runs the sagemaker-tritonserver image (ONNX Runtime backend)');
    check(c.Environment?.SAGEMAKER_TRITON_DEFAULT_MODEL_NAME === tritonName,
          'sagemaker.json: SAGEMAKER_TRITON_DEFAULT_MODEL_NAME is the Triton model name');
    check(JSON.stringify(res[epc].Properties.ProductionVariants[0].ModelName).includes(`"${model}"`),
          'sagemaker.json: the endpoint config serves the model');
    check(JSON.stringify(res[ep].Properties.EndpointConfigName).includes(`"${epc}"`),
          'sagemaker.json: the endpoint uses the endpoint config');
}
const defined = new Set([...Object.keys(cfn.Parameters ?? {}), ...Object.keys(res), 'AWS::Region']);
const refs = [];
JSON.stringify(cfn, (k, v) => {
    if (k === 'Ref') refs.push(v);
    if (k === 'Fn::GetAtt') refs.push(v[0]);
    if (k === 'Fn::Sub') refs.push(...[...v.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]));
    return v;
});
for (const r of refs) {
    check(defined.has(r), `sagemaker.json: ${r} is referred to but not defined`);
}

// ---- Azure ML: endpoint and deployment agree; a Triton model, no scoring script ----
check(azEndpoint.$schema.endsWith('/managedOnlineEndpoint.schema.json'), 'azureml-endpoint.yml: schema');
check(azDeploy.$schema.endsWith('/managedOnlineDeployment.schema.json'), 'azureml-deployment.yml: schema');
check(azDeploy.endpoint_name === azEndpoint.name, 'azureml: the deployment names the endpoint');
check(azDeploy.model?.type === 'triton_model' && !azDeploy.code_configuration && !azDeploy.environment,
      'azureml-deployment.yml: a triton_model with no environment nor scoring script');
check(azDeploy.model?.path === './out/triton', 'azureml-deployment.yml: the model is package.sh\'s triton/');

// ---- Vertex AI: the prebuilt XGBoost container ----
const image = vertex.model?.containerSpec?.imageUri ?? '';
const vx = /\/vertex-ai\/prediction\/xgboost-cpu\.(\d+)-(\d+):/.exec(image);
check(vx, `vertex-model-upload.json: ${image} is not a prebuilt XGBoost container`);
check(vertex.model?.artifactUri?.endsWith('/vertex/'), 'vertex-model-upload.json: artifactUri is package.sh\'s vertex/');

// ---- package.sh on a model trained here ----
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-ml-'));
try {
    const base = path.join(tmp, 'm');
    execFileSync(path.join(BIN, 'modax'),
                 ['train', '--data', path.join(SRC, 'tests/data/cmapss/train_FD001_units1-10.txt'),
                  '--folds', '2', '--rounds', '30', '--out', base], { stdio: ['ignore', 'ignore', 'inherit'] });
    const out = path.join(tmp, 'out');
    execFileSync(path.join(ML, 'package.sh'), [base, out],
                 { env: { ...process.env, MODAX: path.join(BIN, 'modax') }, stdio: ['ignore', 'ignore', 'inherit'] });
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const listing = execFileSync('tar', ['tzf', path.join(out, 'sagemaker-model.tar.gz')], { encoding: 'utf8' })
        .split('\n').filter(Boolean);
    check(listing.includes(`${tritonName}/config.pbtxt`) && listing.includes(`${tritonName}/1/model.onnx`),
          `sagemaker-model.tar.gz holds ${listing}, want a Triton repository of ${tritonName}`);
    check(fs.readFileSync(path.join(out, 'vertex/model.bst')).equals(fs.readFileSync(`${base}.json`)),
          'vertex/model.bst is the XGBoost JSON model');
    const [maj, min] = manifest.xgboost_version.split('.');
    check(vx && vx[1] === maj && vx[2] === min,
          `the Vertex container serves XGBoost ${vx?.[1]}.${vx?.[2]}, the model is from ${manifest.xgboost_version}`);
    ort.env.wasm.numThreads = 1;
    const onnxFile = path.join(out, 'triton', tritonName, '1/model.onnx');
    const s = await ort.InferenceSession.create(fs.readFileSync(onnxFile));
    const nf = manifest.n_features;
    const r = await s.run({ features: new ort.Tensor('float32', new Float32Array(2 * nf), [2, nf]) });
    check(r.rul.dims.join() === '2,1' && r.rul.data.every((v) => v >= 0 && v <= manifest.cap),
          `the Triton repository's model answers 2 rows in [0, ${manifest.cap}]: ${r.rul.dims} ${r.rul.data}`);
} finally {
    fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(`deploy-ml: ${checks - failed}/${checks} checks passed`);
process.exit(failed === 0 ? 0 : 1);
