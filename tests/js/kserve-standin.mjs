// SPDX-License-Identifier: Apache-2.0
// kserve-standin.mjs - a local stand-in for a cloud RUL endpoint (Triton on
// SageMaker or Azure ML, deploy/ml/): answers KServe v2 inference requests
// with the ONNX export of a RUL model run by onnxruntime-web. For
// tests/integration/test_rul_endpoint.c:
//   node kserve-standin.mjs MODEL.onnx PORT_FILE
// listens on a free loopback port and writes it to PORT_FILE once listening.
//   POST /v2/models/rul/infer    the model's answer ("rul", "rul_unclipped")
//   POST /v2/models/short/infer  one value fewer than rows (a broken endpoint)
//   POST /v2/models/busy/infer   503
//   POST /v2/models/slow/infer   the model's answer after 4 s (a slow endpoint)
//   POST /v2/models/secured/infer  the model's answer with "Authorization: Bearer
//                                s3cret-key" (an Azure ML key) or "Bearer gtok-N" (a token
//                                of tests/support/gcp_standin), else 401
import http from 'node:http';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import * as ort from 'onnxruntime-web';

const [modelPath, portFile] = process.argv.slice(2);
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(readFileSync(modelPath));

const infer = async (req) => {
    const input = req.inputs?.find((i) => i.name === 'features');
    if (!input || input.datatype !== 'FP32' || input.shape?.length !== 2 ||
        input.data?.length !== input.shape[0] * input.shape[1]) {
        return [400, { error: 'want inputs[name=features, FP32, shape [N, F], N*F data]' }];
    }
    const x = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
    const out = await session.run({ features: x });
    return [200, {
        model_name: 'rul',
        outputs: ['rul', 'rul_unclipped'].map((name) => ({
            name, datatype: 'FP32', shape: out[name].dims, data: Array.from(out[name].data),
        })),
    }];
};

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
        const m = /^\/v2\/models\/([a-z]+)\/infer$/.exec(req.url);
        let status = 404, body = { error: 'not found' };
        try {
            const auth = req.headers.authorization ?? '';
            if (req.method === 'POST' && m && m[1] === 'secured' &&
                !/^Bearer (s3cret-key|gtok-[0-9]+)$/.test(auth)) {
                [status, body] = [401, { error: 'unauthorized' }];
            } else if (req.method === 'POST' && m && m[1] === 'busy') {
                [status, body] = [503, { error: 'busy' }];
            } else if (req.method === 'POST' && m && ['rul', 'short', 'slow', 'secured'].includes(m[1])) {
                if (m[1] === 'slow') {
                    await new Promise((resolve) => setTimeout(resolve, 4000));
                }
                [status, body] = await infer(JSON.parse(Buffer.concat(chunks).toString('utf8')));
                if (m[1] === 'short' && status === 200) {
                    body.outputs.forEach((o) => { o.data.pop(); o.shape[0]--; });
                }
            }
        } catch (e) {
            [status, body] = [400, { error: String(e) }];
        }
        const text = JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
    });
});
server.listen(0, '127.0.0.1', () => {
    writeFileSync(`${portFile}.tmp`, String(server.address().port));
    renameSync(`${portFile}.tmp`, portFile); // whole, or not there
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
