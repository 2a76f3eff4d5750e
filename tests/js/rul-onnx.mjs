// SPDX-License-Identifier: Apache-2.0
// rul-onnx.mjs - runs a model from `modax model export --onnx` through
// onnxruntime-web (its WebAssembly backend, in Node.js) on a feature matrix
// and compares both outputs with XGBoost's predictions (issue 15, item 4).
// Called by tests/integration/test_rul_onnx.c:
//   node rul-onnx.mjs MODEL.onnx X.f32 N_FEATURES WANT_RAW.f32 WANT_RUL.f32 TOLERANCE
// The .f32 files are little-endian float32 arrays: X is rows x N_FEATURES
// (NaN = missing), the wants one value per row ("rul_unclipped", "rul").
// Prints the largest difference; exits 1 when any row differs by more.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';

const [modelPath, xPath, nfArg, rawPath, rulPath, tolArg] = process.argv.slice(2);
if (tolArg === undefined) {
    console.error('usage: node rul-onnx.mjs MODEL.onnx X.f32 N_FEATURES WANT_RAW.f32 WANT_RUL.f32 TOLERANCE');
    process.exit(2);
}
const floats = (p) => {
    const b = readFileSync(p);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const nf = Number(nfArg), tol = Number(tolArg);
const x = floats(xPath), wantRaw = floats(rawPath), wantRul = floats(rulPath);
const n = x.length / nf;
if (!Number.isInteger(n) || n !== wantRaw.length || n !== wantRul.length) {
    console.error(`rul-onnx: ${x.length} features are not ${wantRaw.length} rows of ${nf}`);
    process.exit(2);
}

ort.env.wasm.numThreads = 1; // no worker threads: deterministic, and Node needs none
const session = await ort.InferenceSession.create(readFileSync(modelPath));
const want = ['features'], got = session.inputNames;
if (got.length !== 1 || got[0] !== want[0] || !session.outputNames.includes('rul') ||
    !session.outputNames.includes('rul_unclipped')) {
    console.error(`rul-onnx: inputs ${got}, outputs ${session.outputNames}; want features -> rul, rul_unclipped`);
    process.exit(1);
}
const out = await session.run({ features: new ort.Tensor('float32', x, [n, nf]) });
let worst = { diff: 0, row: -1, what: '' }, bad = 0;
for (const [name, wantArr] of [['rul_unclipped', wantRaw], ['rul', wantRul]]) {
    const gotArr = out[name].data;
    if (gotArr.length !== n) {
        console.error(`rul-onnx: ${name} has ${gotArr.length} values for ${n} rows`);
        process.exit(1);
    }
    for (let i = 0; i < n; i++) {
        const d = Math.abs(gotArr[i] - wantArr[i]);
        if (!(d <= tol)) { // NaN on either side counts as a difference
            if (bad++ < 5) {
                console.error(`rul-onnx: row ${i} ${name}: onnxruntime-web ${gotArr[i]}, XGBoost ${wantArr[i]}`);
            }
        }
        if (d > worst.diff || Number.isNaN(d)) {
            worst = { diff: d, row: i, what: name };
        }
    }
}
console.log(`rul-onnx: ${n} rows, ${nf} features, onnxruntime-web ${ort.env.versions.web}: ` +
            `largest difference from XGBoost ${worst.diff} (row ${worst.row}, ${worst.what}), ` +
            `${bad} over ${tol}`);
process.exit(bad === 0 ? 0 : 1);
