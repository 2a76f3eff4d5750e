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
//   POST /endpoints/rul/invocations  SageMaker's InvokeEndpoint: the model's answer when the
//                                request is signed with SigV4 (service sagemaker, region
//                                eu-west-1, the key AKIDMODAXTEST below), checked by AWS's
//                                own signer (@smithy/signature-v4), else 403
import http from 'node:http';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { createHash, createHmac } from 'node:crypto';
import * as ort from 'onnxruntime-web';
import { SignatureV4 } from '@smithy/signature-v4';

const AWS_KEY = 'AKIDMODAXTEST';
const AWS_SECRET = 'modax/test/secret/key/not/used/anywhere/else';
const AWS_REGION = 'eu-west-1';

// SHA-256 and HMAC-SHA-256 in the shape @smithy/signature-v4 asks for.
class Sha256 {
    constructor(secret) { this.h = secret ? createHmac('sha256', secret) : createHash('sha256'); }
    update(d) { this.h.update(d); }
    async digest() { return new Uint8Array(this.h.digest()); }
}

// The request's SigV4 signature, recomputed by AWS's signer over the headers it names.
const sigv4Ok = async (req, body) => {
    const auth = req.headers.authorization ?? '';
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/.exec(auth);
    const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(req.headers['x-amz-date'] ?? '');
    if (!m || !d || m[1] !== AWS_KEY || m[2] !== AWS_REGION || m[3] !== 'sagemaker') {
        return false;
    }
    const headers = {};
    for (const h of m[4].split(';')) {
        headers[h] = req.headers[h] ?? '';
    }
    const [hostname, port] = (req.headers.host ?? '').split(':');
    const signer = new SignatureV4({ credentials: { accessKeyId: AWS_KEY, secretAccessKey: AWS_SECRET },
        region: AWS_REGION, service: 'sagemaker', sha256: Sha256 });
    const signed = await signer.sign({ method: req.method, protocol: 'http:', hostname,
        port: port ? Number(port) : undefined, path: req.url, query: {}, headers, body },
    { signingDate: new Date(Date.UTC(+d[1], +d[2] - 1, +d[3], +d[4], +d[5], +d[6])) });
    return signed.headers.authorization === auth;
};

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
        const sm = req.url === '/endpoints/rul/invocations';
        const m = sm ? [req.url, 'sagemaker'] : /^\/v2\/models\/([a-z]+)\/infer$/.exec(req.url);
        let status = 404, body = { error: 'not found' };
        try {
            const auth = req.headers.authorization ?? '';
            if (req.method === 'POST' && sm && !(await sigv4Ok(req, Buffer.concat(chunks)))) {
                [status, body] = [403, { error: 'signature does not match' }];
            } else if (req.method === 'POST' && m && m[1] === 'secured' &&
                !/^Bearer (s3cret-key|gtok-[0-9]+)$/.test(auth)) {
                [status, body] = [401, { error: 'unauthorized' }];
            } else if (req.method === 'POST' && m && m[1] === 'busy') {
                [status, body] = [503, { error: 'busy' }];
            } else if (req.method === 'POST' && m && ['rul', 'short', 'slow', 'secured', 'sagemaker'].includes(m[1])) {
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
