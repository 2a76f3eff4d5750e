// SPDX-License-Identifier: Apache-2.0
// openapi-conformance.mjs - checks the real API against api/openapi.json.
//
// Starts Mosquitto and `modax serve --roles ingest,api` on free loopback
// ports in a scratch folder (tenants and keys made with the modax CLI,
// data published with mosquitto_pub), then calls every operation of the
// document, each at least once with success and once with an error, and
// validates every response: its status must be documented for that
// operation, its media type documented for that status, and its body valid
// against the schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses).
// Request bodies sent for a success are validated against the document too.
// Fails (exit 1, every finding listed) on any disagreement, on a status
// other than the one the call expects, and on any operation not exercised.
//
//   MODAX_BIN_DIR=build MODAX_SOURCE_DIR=. node tests/js/openapi-conformance.mjs
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const BIN = process.env.MODAX_BIN_DIR ?? 'build';
const SRC = process.env.MODAX_SOURCE_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const WAIT_MS = 20000; // a failure bound for things that happen asynchronously, not a timing assertion

const doc = JSON.parse(fs.readFileSync(path.join(SRC, 'api/openapi.json'), 'utf8'));
const findings = [];
const children = [];
const fail = (msg) => { findings.push(msg); console.error(`FAIL ${msg}`); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the document: operations, schemas ----

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi');
const ptr = (...parts) => parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const validators = new Map();
function validator(pointer) {
  if (!validators.has(pointer)) validators.set(pointer, ajv.compile({ $ref: `openapi#/${pointer}` }));
  return validators.get(pointer);
}
function deref(obj) {
  while (obj && obj.$ref) {
    obj = obj.$ref.slice(2).split('/').reduce((o, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return obj;
}
// Every schema of the document must itself be a valid schema.
for (const [name, schema] of Object.entries(doc.components.schemas)) {
  if (!ajv.validateSchema(schema)) fail(`schema ${name} is not valid: ${ajv.errorsText(ajv.errors)}`);
}

const operations = [];
for (const [tpl, item] of Object.entries(doc.paths)) {
  for (const method of Object.keys(item)) {
    const re = new RegExp(`^${tpl.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    operations.push({ tpl, method, re, op: item[method], ok: [], err: [] });
  }
}
const opKey = (o) => `${o.method.toUpperCase()} ${o.tpl}`;
function findOperation(method, p) {
  const cands = operations.filter((o) => o.method === method.toLowerCase() && o.re.test(p));
  // The template with the most literal text wins (/api/v1/devices/x before /api/v1/devices/{id}).
  cands.sort((a, b) => b.tpl.replace(/\{[^}]+\}/g, '').length - a.tpl.replace(/\{[^}]+\}/g, '').length);
  return cands[0];
}

// ---- processes ----

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

async function waitFor(what, fn) {
  const end = Date.now() + WAIT_MS;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await sleep(50);
  }
}

function start(cmd, args, env, log) {
  const fd = fs.openSync(log, 'a');
  const child = spawn(cmd, args, { env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  children.push(child);
  return child;
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modax-test-openapi-'));
const mqttPort = await freePort();
const httpPort = await freePort();
const env = {
  ...process.env,
  MODAX_STORE_SQLITE_PATH: path.join(dir, 'modax.db'),
  MODAX_INGEST_SPOOL_DIR: path.join(dir, 'spool'),
  MODAX_MQTT_HOST: '127.0.0.1',
  MODAX_MQTT_PORT: String(mqttPort),
  MODAX_LOG_FORMAT: 'json',
  MODAX_API_LISTEN: '127.0.0.1',
  MODAX_API_PORT: String(httpPort),
  MODAX_API_WEB_DIR: '',
  MODAX_API_KEY_CACHE_S: '0',
  MODAX_API_RATE_LIMIT_RPS: '100000',
  MODAX_API_RATE_LIMIT_BURST: '100000',
  MODAX_INGEST_AUTO_REGISTER: 'true',
  MODAX_ALERT_RELOAD_S: '1',
};
delete env.MODAX_CONFIG;
const modax = (...args) =>
  execFileSync(path.join(BIN, 'modax'), args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const pub = (topic, payload, retain = false) =>
  execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-q', '1', '-t', topic, '-m', payload,
    ...(retain ? ['-r'] : [])]);

let broker;
let serve;
async function startServices() {
  const conf = fs.readFileSync(path.join(SRC, 'conf/mosquitto.conf'), 'utf8').split('\n')
    .filter((l) => !l.startsWith('listener') && !l.startsWith('persistence_location'));
  conf.push(`listener ${mqttPort} 127.0.0.1`, `persistence_location ${dir}/`);
  if (process.getuid && process.getuid() === 0) conf.push('user root');
  fs.writeFileSync(path.join(dir, 'mosquitto.conf'), conf.join('\n') + '\n');
  broker = start('mosquitto', ['-c', path.join(dir, 'mosquitto.conf')], process.env, path.join(dir, 'mosquitto.log'));
  await waitFor('mosquitto', () => portOpen(mqttPort));

  modax('tenant', 'add', 'acme');
  modax('tenant', 'add', 'globex');
  const key = (...a) => modax('key', 'add', ...a).split('\n')[0].trim();
  const keys = {
    admin: key('--tenant', 'acme', '--role', 'admin'),
    operator: key('--tenant', 'acme', '--role', 'operator'),
    viewer: key('--tenant', 'acme', '--role', 'viewer'),
    globex: key('--tenant', 'globex', '--role', 'admin'),
    platform: key('--platform'),
  };
  const ready = path.join(dir, 'serve.ready');
  serve = start(path.join(BIN, 'modax'), ['serve', '--roles', 'ingest,api', '--ready-file', ready], env,
    path.join(dir, 'serve.log'));
  await waitFor('modax serve', () => fs.existsSync(ready) || serve.exitCode !== null);
  if (serve.exitCode !== null) throw new Error(`modax serve exited; see ${dir}/serve.log`);
  await waitFor('the API port', () => portOpen(httpPort));
  return keys;
}

// ---- one call, checked against the document ----

const base = `http://127.0.0.1:${httpPort}`;

/*
 * Calls METHOD PATH (with query) as 'key' ({x: true}: as X-API-Key), sends
 * 'body' as JSON, checks the response against the document and that its
 * status is 'expect'. Returns {status, json, text, headers}.
 */
async function call(method, p, { key, xkey, body, raw, expect, stream } = {}) {
  const url = new URL(p, base);
  const o = findOperation(method, url.pathname);
  const label = `${method} ${p}`;
  const headers = {};
  if (key) headers.Authorization = `Bearer ${key}`;
  if (xkey) headers['X-API-Key'] = xkey;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  const ac = new AbortController();
  const res = await fetch(url, { method, headers, body: payload, signal: ac.signal });
  const ctype = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  let text = '';
  if (stream) {
    // A live stream: the status and headers are what is checked; then hang up.
    ac.abort();
  } else {
    text = await res.text();
  }
  const r = { status: res.status, text, headers: res.headers, json: undefined };
  if (expect !== undefined && res.status !== expect) {
    fail(`${label}: status ${res.status}, expected ${expect}: ${text.slice(0, 300)}`);
  }
  if (!o) {
    fail(`${label}: no operation of the document matches`);
    return r;
  }
  const resp = deref(o.op.responses[String(res.status)]);
  if (!resp) {
    fail(`${label}: status ${res.status} is not documented for ${opKey(o)}: ${text.slice(0, 300)}`);
    return r;
  }
  (res.status < 300 ? o.ok : o.err).push(res.status);
  if (res.status < 300 && body !== undefined && o.op.requestBody) {
    const v = validator(ptr('paths', o.tpl, o.method, 'requestBody', 'content', 'application/json', 'schema'));
    if (!v(body)) fail(`${label}: the request body sent is not valid for the document: ${ajv.errorsText(v.errors)}`);
  }
  if (!resp.content) {
    if (text.length > 0) fail(`${label}: ${res.status} has no documented body, got ${text.slice(0, 100)}`);
    return r;
  }
  const media = resp.content[ctype];
  if (!media) {
    fail(`${label}: ${res.status} with content type '${ctype}' not documented (${Object.keys(resp.content).join(', ')})`);
    return r;
  }
  if (ctype === 'application/json') {
    try {
      r.json = JSON.parse(text);
    } catch (e) {
      fail(`${label}: ${res.status} body is not JSON: ${text.slice(0, 200)}`);
      return r;
    }
    const where = o.op.responses[String(res.status)].$ref
      ? ptr('components', 'responses', String(res.status), 'content', ctype, 'schema')
      : ptr('paths', o.tpl, o.method, 'responses', String(res.status), 'content', ctype, 'schema');
    const v = validator(where);
    if (!v(r.json)) {
      fail(`${label}: ${res.status} body does not match the schema: ${ajv.errorsText(v.errors)}; body: ${text.slice(0, 400)}`);
    }
  }
  if (res.status === 429 && !res.headers.get('retry-after')) fail(`${label}: 429 without Retry-After`);
  if (res.status === 401 && !res.headers.get('www-authenticate')) fail(`${label}: 401 without WWW-Authenticate`);
  return r;
}

// ---- the calls ----

async function exercise(k) {
  const now = Date.now();

  // System.
  await call('GET', '/healthz', { expect: 200 });
  await call('GET', '/metrics', { expect: 200 });
  const oa = await call('GET', '/api/v1/openapi.json', { expect: 200 });
  if (oa.json && JSON.stringify(oa.json) !== JSON.stringify(doc)) fail('GET /api/v1/openapi.json: not the document in api/openapi.json');
  await call('GET', '/readyz', { expect: 200 });
  await call('GET', '/api/v1/me', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/me', { xkey: k.admin, expect: 200 });
  await call('GET', '/api/v1/me', { expect: 401 });
  await call('GET', '/api/v1/me', { key: 'mdx_nothing_here', expect: 401 });
  await call('GET', '/api/v1/me?x=1', { key: k.viewer, expect: 400 });

  // Tenants and keys.
  await call('GET', '/api/v1/tenants', { key: k.platform, expect: 200 });
  await call('GET', '/api/v1/tenants', { key: k.admin, expect: 403 });
  await call('POST', '/api/v1/tenants', { key: k.platform, body: { name: 'initech' }, expect: 201 });
  await call('POST', '/api/v1/tenants', { key: k.platform, body: { name: 'initech' }, expect: 409 });
  await call('POST', '/api/v1/tenants', { key: k.platform, body: { name: 'bad name' }, expect: 400 });
  await call('POST', '/api/v1/tenants', { key: k.platform, raw: '{"name":', expect: 400 });
  await call('POST', '/api/v1/tenants/initech/keys', { key: k.platform, body: { role: 'viewer' }, expect: 201 });
  await call('POST', '/api/v1/tenants/nowhere/keys', { key: k.platform, body: { role: 'viewer' }, expect: 404 });
  await call('GET', '/api/v1/keys', { key: k.admin, expect: 200 });
  await call('GET', '/api/v1/keys', { key: k.viewer, expect: 403 });
  const nk = await call('POST', '/api/v1/keys', { key: k.admin, body: { role: 'viewer', label: 'ci' }, expect: 201 });
  await call('POST', '/api/v1/keys', { key: k.admin, body: { role: 'king' }, expect: 400 });
  await call('POST', '/api/v1/keys', { key: k.admin, body: { role: 'viewer', colour: 'red' }, expect: 400 });
  await call('POST', '/api/v1/keys', { key: k.admin, raw: JSON.stringify({ role: 'viewer', label: 'x'.repeat(70000) }), expect: 413 });
  const keyId = nk.json?.id ?? 'none';
  await call('DELETE', `/api/v1/keys/${keyId}`, { key: k.admin, expect: 204 });
  await call('DELETE', `/api/v1/keys/${keyId}`, { key: k.admin, expect: 409 });
  await call('DELETE', '/api/v1/keys/nope', { key: k.admin, expect: 404 });
  await call('GET', '/api/v1/keys', { key: k.admin, expect: 200 }); // now with a revoked key

  // Devices.
  const limits = { speed_pct: { min: 0, max: 100 } };
  await call('POST', '/api/v1/devices', { key: k.admin, body: { id: 'press-1', type: 'press', meta: { line: 'A' }, limits }, expect: 201 });
  await call('POST', '/api/v1/devices', { key: k.admin, body: { id: 'press-2', limits }, expect: 201 });
  await call('POST', '/api/v1/devices', { key: k.admin, body: { id: 'tmp-1' }, expect: 201 });
  await call('POST', '/api/v1/devices', { key: k.admin, body: { id: 'press-1' }, expect: 409 });
  await call('POST', '/api/v1/devices', { key: k.admin, body: { id: 'x', limits: { a: { min: 2, max: 1 } } }, expect: 400 });
  await call('POST', '/api/v1/devices', { key: k.viewer, body: { id: 'x' }, expect: 403 });
  await call('GET', '/api/v1/devices', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/devices?bogus=1', { key: k.viewer, expect: 400 });
  await call('GET', '/api/v1/devices/press-1', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/devices/nope', { key: k.viewer, expect: 404 });
  await call('GET', '/api/v1/devices/press-1', { key: k.globex, expect: 404 });
  await call('PATCH', '/api/v1/devices/press-1', { key: k.admin, body: { meta: { line: 'B' }, type: null }, expect: 200 });
  await call('PATCH', '/api/v1/devices/press-1', { key: k.admin, body: { colour: 'red' }, expect: 400 });
  await call('PATCH', '/api/v1/devices/nope', { key: k.admin, body: { type: 'x' }, expect: 404 });
  await call('DELETE', '/api/v1/devices/tmp-1', { key: k.admin, expect: 204 });
  await call('DELETE', '/api/v1/devices/tmp-1', { key: k.admin, expect: 404 });

  // Data: readings, a status, a safety event (emergency stop: an alert, and commands refused), a dead letter.
  for (let i = 3; i >= 1; i--) {
    pub('modax/acme/press-1/sensor_data', JSON.stringify({
      device_id: 'press-1', timestamp: now - i * 1000, sensor_data: { temperature_mean: 45 + i, current_mean: 4.2 },
    }));
  }
  pub('modax/acme/press-1/status', 'online', true);
  pub('modax/acme/press-2/safety', JSON.stringify({
    emergency_stop: true, door_closed: true, overload_detected: false, temperature_ok: true, timestamp: now,
  }));
  pub('modax/acme/press-1/sensor_data', 'not json at all');
  const get = async (p, key) => {
    const r = await fetch(new URL(p, base), { headers: { Authorization: `Bearer ${key}` } });
    return r.status === 200 ? r.json() : null;
  };
  await waitFor('the readings', async () => Object.keys((await get('/api/v1/devices/press-1/latest', k.viewer))?.sensors ?? {}).length >= 2);
  await waitFor('the emergency stop', async () => (await get('/api/v1/devices/press-2', k.viewer))?.emergency_stop === true);
  const alerts = await waitFor('an alert', async () => (await get('/api/v1/alerts?device=press-2', k.viewer))?.alerts?.[0]);
  await waitFor('a dead letter', async () => (await get('/api/v1/deadletters', k.operator))?.deadletters?.length > 0);

  // Telemetry.
  await call('GET', '/api/v1/latest', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/latest?x=1', { key: k.viewer, expect: 400 });
  await call('GET', '/api/v1/devices/press-1/latest', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/devices/nope/latest', { key: k.viewer, expect: 404 });
  // RUL (issue 7): rul.enabled is off here, so the fleet list is empty and a device has none.
  await call('GET', '/api/v1/rul', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/rul?x=1', { key: k.viewer, expect: 400 });
  await call('GET', '/api/v1/devices/press-1/rul', { key: k.viewer, expect: 404 });
  await call('GET', '/api/v1/devices/nope/rul', { key: k.viewer, expect: 404 });
  // A prediction as the live stage stores it (its own tests run the stage); here only the
  // routes' answers are checked, so it is written straight into the SQLite store.
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', env.MODAX_STORE_SQLITE_PATH,
    "INSERT INTO rul_latest (device_id, ts_ms, rul, model_version) SELECT d.id, " +
    `${Date.now()}, 87.5, 'conformance-1' FROM devices d JOIN tenants t ON t.id = d.tenant_id ` +
    "WHERE t.name = 'acme' AND d.name = 'press-1'"]);
  await call('GET', '/api/v1/devices/press-1/rul', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/rul', { key: k.viewer, expect: 200 });
  const from = now - 3600000;
  const to = now + 60000;
  await call('GET', `/api/v1/devices/press-1/telemetry?from=${from}&to=${to}`, { key: k.viewer, expect: 200 });
  await call('GET', `/api/v1/devices/press-1/telemetry?from=${new Date(from).toISOString()}&to=${to}&sensor=temperature_mean&step=1m&agg=max`,
    { key: k.viewer, expect: 200 });
  await call('GET', `/api/v1/devices/press-1/telemetry?to=${to}`, { key: k.viewer, expect: 400 });
  await call('GET', `/api/v1/devices/press-1/telemetry?from=${to}&to=${from}`, { key: k.viewer, expect: 400 });
  await call('GET', `/api/v1/devices/nope/telemetry?from=${from}&to=${to}`, { key: k.viewer, expect: 404 });
  await call('GET', `/api/v1/devices/press-1/export?from=${from}&to=${to}`, { key: k.viewer, expect: 200 });
  const ej = await call('GET', `/api/v1/devices/press-1/export?from=${from}&to=${to}&format=json&sensor=temperature_mean`, { key: k.viewer, expect: 200 });
  if (ej.json && ej.json.length !== 3) fail(`GET export format=json: ${ej.json.length} points, expected 3`);
  await call('GET', '/api/v1/devices/press-1/export?format=xml', { key: k.viewer, expect: 400 });
  await call('GET', '/api/v1/devices/nope/export', { key: k.viewer, expect: 404 });

  // Events.
  await call('GET', '/api/v1/devices/press-2/events', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/devices/press-1/events?kind=status&limit=5', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/devices/press-2/events?kind=bogus', { key: k.viewer, expect: 400 });
  await call('GET', '/api/v1/devices/nope/events', { key: k.viewer, expect: 404 });

  // Alerts.
  const aid = alerts.id;
  await call('GET', '/api/v1/alerts', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/alerts?state=active&severity=warning&limit=10', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/alerts?state=bogus', { key: k.viewer, expect: 400 });
  await call('GET', `/api/v1/alerts/${aid}`, { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/alerts/999999', { key: k.viewer, expect: 404 });
  await call('GET', `/api/v1/alerts/${aid}`, { key: k.globex, expect: 404 });
  await call('POST', `/api/v1/alerts/${aid}/ack`, { key: k.viewer, expect: 403 });
  await call('POST', `/api/v1/alerts/${aid}/ack`, { key: k.operator, expect: 200 });
  await call('POST', `/api/v1/alerts/${aid}/ack`, { key: k.operator, expect: 409 });
  await call('POST', `/api/v1/alerts/${aid}/resolve`, { key: k.operator, expect: 200 });
  await call('POST', `/api/v1/alerts/${aid}/resolve`, { key: k.operator, expect: 409 });
  await call('POST', '/api/v1/alerts/999999/resolve', { key: k.operator, expect: 404 });

  // Rules.
  const rule = await call('POST', '/api/v1/rules', {
    key: k.admin, body: { name: 'hot', sensor: 'temperature_mean', cmp: '>', threshold: 80, severity: 'critical' }, expect: 201,
  });
  await call('POST', '/api/v1/rules', { key: k.admin, body: { name: 'hot', sensor: 'temperature_mean', cmp: '>' }, expect: 400 });
  await call('GET', '/api/v1/rules', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/rules?x=1', { key: k.viewer, expect: 400 });
  await call('DELETE', `/api/v1/rules/${rule.json?.id ?? 0}`, { key: k.admin, expect: 204 });
  await call('DELETE', `/api/v1/rules/${rule.json?.id ?? 0}`, { key: k.admin, expect: 404 });

  // Commands.
  const cmd = await call('POST', '/api/v1/devices/press-1/commands', { key: k.operator, body: { name: 'speed_pct', value: 50 }, expect: 202 });
  await call('POST', '/api/v1/devices/press-1/commands', { key: k.operator, body: { name: 'speed_pct', value: 150 }, expect: 422 });
  await call('POST', '/api/v1/devices/press-1/commands', { key: k.operator, body: { name: 'feed', value: 1 }, expect: 422 });
  await call('POST', '/api/v1/devices/press-2/commands', { key: k.operator, body: { name: 'speed_pct', value: 50 }, expect: 409 });
  await call('POST', '/api/v1/devices/press-1/commands', { key: k.operator, body: { name: 'speed_pct' }, expect: 400 });
  await call('POST', '/api/v1/devices/press-1/commands', { key: k.viewer, body: { name: 'speed_pct', value: 5 }, expect: 403 });
  await call('POST', '/api/v1/devices/nope/commands', { key: k.operator, body: { name: 'speed_pct', value: 5 }, expect: 404 });
  await call('POST', '/api/v1/devices/press-1/commands?x=1', { key: k.operator, body: { name: 'speed_pct', value: 5 }, expect: 400 });
  await call('GET', '/api/v1/devices/press-1/commands', { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/devices/press-1/commands?limit=0', { key: k.viewer, expect: 400 });
  await call('GET', '/api/v1/devices/nope/commands', { key: k.viewer, expect: 404 });
  await call('GET', `/api/v1/commands/${cmd.json?.id ?? 0}`, { key: k.viewer, expect: 200 });
  await call('GET', '/api/v1/commands/999999', { key: k.viewer, expect: 404 });

  // Dead letters.
  await call('GET', '/api/v1/deadletters', { key: k.operator, expect: 200 });
  await call('GET', '/api/v1/deadletters?limit=5', { key: k.platform, expect: 200 });
  await call('GET', '/api/v1/deadletters', { key: k.viewer, expect: 403 });
  await call('GET', '/api/v1/deadletters?limit=x', { key: k.operator, expect: 400 });

  // Live stream.
  await call('GET', '/api/v1/stream', { key: k.viewer, stream: true, expect: 200 });
  await call('GET', '/api/v1/stream?device=press-1', { key: k.viewer, stream: true, expect: 200 });
  await call('GET', '/api/v1/stream?device=nope', { key: k.viewer, expect: 404 });

  // The broker goes away: not ready, commands refused (503).
  await stop(broker);
  await waitFor('readyz to see the broker gone', async () => (await fetch(new URL('/readyz', base))).status === 503);
  await call('GET', '/readyz', { expect: 503 });
  await call('POST', '/api/v1/devices/press-1/commands', { key: k.operator, body: { name: 'speed_pct', value: 10 }, expect: 503 });
}

let code = 0;
try {
  const keys = await startServices();
  await exercise(keys);
  for (const o of operations) {
    const errorsDocumented = Object.keys(o.op.responses).some((s) => Number(s) >= 400);
    if (o.ok.length === 0) fail(`${opKey(o)}: no success response exercised`);
    if (errorsDocumented && o.err.length === 0) fail(`${opKey(o)}: no error response exercised`);
  }
  console.log(`${operations.length} operations exercised; ${findings.length} findings`);
} catch (e) {
  fail(`aborted: ${e.stack ?? e}`);
} finally {
  for (const c of children) await stop(c);
  if (findings.length > 0) {
    code = 1;
    console.error(`logs kept in ${dir}`);
  } else if (!process.env.MODAX_TEST_KEEP) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(code);
