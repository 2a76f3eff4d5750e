// SPDX-License-Identifier: Apache-2.0
// cloud.mjs - the official SDKs' side of tests/integration/test_objstore_cloud.c:
// reads objects the C stores wrote back with @aws-sdk/client-s3 and
// @azure/storage-blob (proving real clients can read them), creates the
// Azurite container and makes SAS tokens. Prints one JSON line; exits 1 on error.
//
//   node cloud.mjs s3-get ENDPOINT BUCKET KEY
//   node cloud.mjs azure-create BLOB_ENDPOINT CONTAINER
//   node cloud.mjs azure-get BLOB_ENDPOINT CONTAINER BLOB
//   node cloud.mjs azure-sas BLOB_ENDPOINT CONTAINER PERMISSIONS MINUTES
import { createHash } from 'node:crypto';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import {
  BlobServiceClient, StorageSharedKeyCredential, ContainerSASPermissions,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';

// Azurite's well-known development account (public, documented by Microsoft).
const AZ_ACCOUNT = 'devstoreaccount1';
const AZ_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

async function bytes(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

function digest(buf) {
  return { size: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
}

const [cmd, ...args] = process.argv.slice(2);
const cred = new StorageSharedKeyCredential(AZ_ACCOUNT, AZ_KEY);

try {
  if (cmd === 's3-get') {
    const [endpoint, bucket, key] = args;
    const s3 = new S3Client({
      endpoint, region: 'us-east-1', forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    console.log(JSON.stringify({
      ...digest(await bytes(r.Body)),
      storageClass: r.StorageClass ?? null,
      sse: r.ServerSideEncryption ?? null,
    }));
    s3.destroy();
  } else if (cmd === 'azure-create') {
    const [endpoint, container] = args;
    const svc = new BlobServiceClient(endpoint, cred);
    await svc.getContainerClient(container).createIfNotExists();
    console.log(JSON.stringify({ created: container }));
  } else if (cmd === 'azure-get') {
    const [endpoint, container, blob] = args;
    const b = new BlobServiceClient(endpoint, cred).getContainerClient(container).getBlobClient(blob);
    const r = await b.download();
    const props = await b.getProperties();
    console.log(JSON.stringify({
      ...digest(await bytes(r.readableStreamBody)),
      accessTier: props.accessTier ?? null,
      blobType: props.blobType ?? null,
    }));
  } else if (cmd === 'azure-sas') {
    const [, container, perms, minutes] = args;
    const now = Date.now();
    const sas = generateBlobSASQueryParameters({
      containerName: container,
      permissions: ContainerSASPermissions.parse(perms),
      startsOn: new Date(now - 5 * 60 * 1000),
      expiresOn: new Date(now + Number(minutes) * 60 * 1000),
    }, cred).toString();
    console.log(JSON.stringify({ sas }));
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
} catch (e) {
  console.log(JSON.stringify({ error: String(e && (e.name + ': ' + e.message)) }));
  process.exit(1);
}
