// SPDX-License-Identifier: Apache-2.0
// deploy-terraform.mjs - checks deploy/terraform/{aws,azure,gcp} offline: every .tf
// file parses (@cdktf/hcl2json, Terraform's own HCL parser compiled to wasm), and
//   - the archive lifecycle (cold tier, expiry) is driven by variables whose defaults
//     are the app's archive.after_days and archive.expire_days (`modax config`);
//   - the AWS IoT policies are the files `modax policy render` writes, byte for byte,
//     with only REGION and ACCOUNT filled in;
//   - every taggable resource has the guide's five tags (AWS default_tags, Azure
//     per resource, Google default_labels in Google's lower-case label syntax);
//   - each module has its region variable, its output modax_config is keyed by config
//     keys only, and deploy/terraform/modax-env.mjs names them as the app does;
//   - the guide's sizes: PostgreSQL 15 with 30 days of backups, 2..10 nodes, IoT Hub S2;
//   - no file under deploy/ nor the deploy docs holds a secret value.
//
//   MODAX_BIN_DIR=build MODAX_SOURCE_DIR=. node tests/js/deploy-terraform.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parse } from '@cdktf/hcl2json';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const BIN = process.env.MODAX_BIN_DIR ?? 'build';
const SRC = process.env.MODAX_SOURCE_DIR ?? path.resolve(HERE, '../..');
const TF = path.join(SRC, 'deploy/terraform');
const TAGS = ['Project', 'Environment', 'CostCenter', 'Owner', 'Tenant'];
const GOOGLE_LABELS = ['project', 'environment', 'cost_center', 'owner', 'tenant'];

const findings = [];
let checks = 0;
const fail = (msg) => { findings.push(msg); console.error(`FAIL ${msg}`); };
const check = (ok, msg) => { checks++; if (!ok) fail(msg); return ok; };
const modax = (...args) => execFileSync(path.join(BIN, 'modax'), args, { encoding: 'utf8' });

// ---- the config table ----

const table = new Map();
for (const line of modax('config', '--markdown').split('\n')) {
  const m = /^\| `([^`]+)` \| `(MODAX_[A-Z0-9_]+)`(<br>`MODAX_[A-Z0-9_]+_FILE`)? \| ([^|]*) \|/.exec(line);
  if (m) table.set(m[1], { env: m[2], secret: Boolean(m[3]), def: m[4].trim().replace(/^`|`$/g, '') });
}
if (table.size < 50) throw new Error(`modax config --markdown gave only ${table.size} keys`);

// ---- parsing: one merged document per module ----

/* Deep-merges hcl2json documents: blocks of one type and name are arrays, appended. */
function merge(into, doc) {
  for (const [k, v] of Object.entries(doc)) {
    if (Array.isArray(v)) into[k] = (into[k] ?? []).concat(v);
    else if (v && typeof v === 'object') merge(into[k] ??= {}, v);
    else into[k] = v;
  }
  return into;
}

async function loadModule(cloud) {
  const dir = path.join(TF, cloud);
  const mod = {};
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.tf')).sort();
  check(files.length > 0, `${cloud}: no .tf files`);
  for (const f of files) {
    try {
      merge(mod, await parse(f, fs.readFileSync(path.join(dir, f), 'utf8')));
      checks++;
    } catch (e) {
      fail(`${cloud}/${f}: does not parse: ${e.message}`);
    }
  }
  return mod;
}

const resources = (mod) => Object.entries(mod.resource ?? {}).flatMap(([type, byName]) =>
  Object.entries(byName).map(([name, blocks]) => ({ type, name, body: blocks[0], id: `${type}.${name}` })));
const resource = (mod, type, name) => mod.resource?.[type]?.[name]?.[0];
const variable = (mod, name) => mod.variable?.[name]?.[0];
const locals = (mod) => Object.assign({}, ...(mod.locals ?? []));
const first = (v) => (Array.isArray(v) ? v[0] : v);

// ---- lifecycle days = the app's archive defaults ----

function archiveVariables(cloud, mod) {
  for (const [v, key] of [['archive_after_days', 'archive.after_days'], ['archive_expire_days', 'archive.expire_days']]) {
    const d = variable(mod, v)?.default;
    check(String(d) === table.get(key).def,
      `${cloud}: variable ${v} defaults to ${d}, the app's ${key} to ${table.get(key).def}`);
  }
}
const AFTER = '${var.archive_after_days}';
const EXPIRE = '${var.archive_expire_days}';

function lifecycleAws(mod) {
  const rules = resource(mod, 'aws_s3_bucket_lifecycle_configuration', 'archive')?.rule ?? [];
  check(rules.length === 1, `aws: ${rules.length} lifecycle rules on the archive bucket, want 1`);
  const r = rules[0] ?? {};
  check(r.status === 'Enabled', 'aws: lifecycle rule not enabled');
  check(first(r.transition)?.days === AFTER, `aws: cold-tier transition after ${first(r.transition)?.days}, want ${AFTER}`);
  check(/GLACIER|DEEP_ARCHIVE/.test(first(r.transition)?.storage_class ?? ''), 'aws: transition is not to a Glacier class');
  check(first(r.expiration)?.days === EXPIRE, `aws: expiry after ${first(r.expiration)?.days}, want ${EXPIRE}`);
  check(first(resource(mod, 'aws_s3_bucket_versioning', 'archive')?.versioning_configuration)?.status === 'Enabled',
    'aws: archive bucket versioning not enabled');
}

function lifecycleAzure(mod) {
  const rule = first(resource(mod, 'azurerm_storage_management_policy', 'archive')?.rule) ?? {};
  const base = first(first(rule.actions)?.base_blob) ?? {};
  const cold = Object.entries(base).find(([k]) => /^tier_to_(cold|archive|cool)_after_days_since_modification/.test(k));
  check(cold?.[1] === AFTER, `azure: cold tier after ${cold?.[1]}, want ${AFTER}`);
  check(base.delete_after_days_since_modification_greater_than === EXPIRE,
    `azure: delete after ${base.delete_after_days_since_modification_greater_than}, want ${EXPIRE}`);
}

function lifecycleGcp(mod) {
  const rules = resource(mod, 'google_storage_bucket', 'archive')?.lifecycle_rule ?? [];
  const of = (type) => rules.filter((r) => first(r.action)?.type === type).map((r) => first(r.condition)?.age);
  check(of('SetStorageClass').includes(AFTER), `gcp: SetStorageClass ages ${of('SetStorageClass')}, want ${AFTER}`);
  check(of('Delete').includes(EXPIRE), `gcp: Delete ages ${of('Delete')}, want ${EXPIRE}`);
}

// ---- the IoT policies are `modax policy render`'s ----

function iotPolicies(mod) {
  const p = resource(mod, 'aws_iot_policy', 'modax');
  if (!check(p !== undefined, 'aws: no aws_iot_policy.modax')) return;
  const files = locals(mod)[/^\$\{local\.(\w+)\}$/.exec(p.for_each)?.[1]];
  check(files && ['device', 'operator', 'service'].every((r) => r in files),
    `aws: aws_iot_policy.modax is not one policy per role device, service, operator (${p.for_each})`);
  const m = /^\$\{replace\(replace\(file\("\$\{path\.module\}\/([^"]*)\$\{each\.value\}"\),\s*"REGION", var\.region\), "ACCOUNT", data\.aws_caller_identity\.current\.account_id\)\}$/
    .exec(p.policy);
  if (!check(m !== null, `aws: the IoT policy is not the rendered file with REGION and ACCOUNT filled in: ${p.policy}`)) return;
  for (const [role, file] of Object.entries(files ?? {})) {
    const f = path.resolve(TF, 'aws', m[1], file);
    const want = modax('policy', 'render', '--aws', '--role', role);
    const have = fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : null;
    check(have === want, `aws: ${path.relative(SRC, f)} is not \`modax policy render --aws --role ${role}\` ` +
      '(run `modax policy render --write cloud`)');
    const filled = (have ?? '').replaceAll('REGION', 'us-east-1').replaceAll('ACCOUNT', '111122223333');
    let doc = null;
    try { doc = JSON.parse(filled); } catch { /* reported below */ }
    check(doc?.Version === '2012-10-17' && doc.Statement?.length > 0, `aws: ${role} policy is no IAM policy document`);
    check(!/REGION|ACCOUNT/.test(filled), `aws: ${role} policy keeps a placeholder`);
  }
}

// ---- tags ----

function tagsLocal(cloud, mod, name, keys) {
  const t = locals(mod)[name];
  check(t && keys.every((k) => typeof t[k] === 'string' && t[k] !== '') && Object.keys(t).length === keys.length,
    `${cloud}: local.${name} is not the five tags ${keys}`);
}

// Azure resource types, by whether they take tags; a type in neither list fails, so a
// new resource is classified before it can slip through untagged.
const AZURE_TAGGABLE = new Set(['azurerm_resource_group', 'azurerm_log_analytics_workspace',
  'azurerm_container_registry', 'azurerm_eventhub_namespace', 'azurerm_iothub', 'azurerm_kubernetes_cluster',
  'azurerm_postgresql_flexible_server', 'azurerm_storage_account', 'azurerm_key_vault',
  'azurerm_key_vault_secret', 'azurerm_user_assigned_identity']);
const AZURE_UNTAGGABLE = new Set(['azurerm_eventhub', 'azurerm_eventhub_consumer_group',
  'azurerm_eventhub_authorization_rule', 'azurerm_role_assignment', 'azurerm_postgresql_flexible_server_database',
  'azurerm_postgresql_flexible_server_firewall_rule', 'azurerm_storage_container',
  'azurerm_storage_management_policy', 'azurerm_federated_identity_credential', 'random_password',
  'azurerm_postgresql_flexible_server_active_directory_administrator']);
const hasTags = (v) => typeof v === 'string' && /^\$\{(local\.tags|merge\(local\.tags\b.*)\}$/s.test(v);

function tagsAws(mod) {
  tagsLocal('aws', mod, 'tags', TAGS);
  const dt = first(first(mod.provider?.aws)?.default_tags);
  check(dt?.tags === '${local.tags}', 'aws: provider default_tags is not local.tags');
  for (const [name, blocks] of Object.entries(mod.module ?? {})) {
    check(hasTags(blocks[0].tags), `aws: module ${name} is not given tags = local.tags`);
  }
  for (const r of resources(mod)) {
    if ('tags' in r.body) check(hasTags(r.body.tags), `aws: ${r.id} replaces the default tags`);
  }
}

function tagsAzure(mod) {
  tagsLocal('azure', mod, 'tags', TAGS);
  for (const r of resources(mod)) {
    if (AZURE_TAGGABLE.has(r.type)) check(hasTags(r.body.tags), `azure: ${r.id} has no tags = local.tags`);
    else check(AZURE_UNTAGGABLE.has(r.type), `azure: ${r.id}: is ${r.type} taggable? classify it in this test`);
  }
  const pool = first(resource(mod, 'azurerm_kubernetes_cluster', 'modax')?.default_node_pool);
  check(hasTags(pool?.tags), 'azure: the AKS node pool has no tags = local.tags');
}

function tagsGcp(mod) {
  tagsLocal('gcp', mod, 'labels', GOOGLE_LABELS);
  check(GOOGLE_LABELS.every((k) => /^[a-z][a-z0-9_-]{0,62}$/.test(k)), 'gcp: a label key is not Google label syntax');
  check(first(mod.provider?.google)?.default_labels === '${local.labels}', 'gcp: provider default_labels is not local.labels');
  for (const r of resources(mod)) {
    if ('labels' in r.body) check(r.body.labels === '${local.labels}', `gcp: ${r.id} replaces the default labels`);
  }
}

// ---- regions, outputs, sizes ----

function regionAndOutputs(cloud, mod, regionVar) {
  const v = variable(mod, regionVar);
  check(v && typeof v.default === 'string' && v.default !== '', `${cloud}: no variable ${regionVar} with a default`);
  const out = mod.output?.modax_config?.[0]?.value;
  if (!check(out && typeof out === 'object', `${cloud}: no output modax_config`)) return;
  for (const key of Object.keys(out)) check(table.has(key), `${cloud}: output modax_config.${key} is not a config key`);
  for (const key of ['store.pgsql.url', 'archive.store.kind', 'archive.store.bucket', 'archive.store.endpoint']) {
    check(key in out, `${cloud}: output modax_config lacks ${key}`);
  }
  for (const key of Object.keys(out)) check(!table.get(key)?.secret, `${cloud}: output modax_config.${key} is a secret`);
  // modax-env.mjs turns the output into exactly the app's variable names.
  const lines = execFileSync('node', [path.join(TF, 'modax-env.mjs')],
    { input: JSON.stringify(Object.fromEntries(Object.keys(out).map((k) => [k, 'x']))), encoding: 'utf8' })
    .split('\n').filter((l) => l.startsWith('MODAX_'));
  const want = Object.keys(out).map((k) => `${table.get(k)?.env}=x`).sort();
  check(JSON.stringify(lines.sort()) === JSON.stringify(want), `${cloud}: modax-env.mjs gives ${lines}, want ${want}`);
}

function sizes(aws, azure, gcp) {
  const db = resource(aws, 'aws_db_instance', 'modax') ?? {};
  check(db.engine === 'postgres' && String(db.engine_version).startsWith('15') && db.multi_az === true &&
    db.backup_retention_period === 30 && db.storage_encrypted === true,
  'aws: RDS is not PostgreSQL 15, Multi-AZ, 30 days of backups, encrypted');
  const ng = aws.module?.eks?.[0]?.eks_managed_node_groups?.default ?? {};
  check(ng.min_size === 2 && ng.max_size === 10, 'aws: the EKS node group is not 2..10');
  const pg = resource(azure, 'azurerm_postgresql_flexible_server', 'modax') ?? {};
  check(pg.version === '15' && pg.backup_retention_days === 30 && first(pg.high_availability)?.mode === 'ZoneRedundant',
    'azure: PostgreSQL is not 15, zone-redundant, 30 days of backups');
  const pool = first(resource(azure, 'azurerm_kubernetes_cluster', 'modax')?.default_node_pool) ?? {};
  check(pool.auto_scaling_enabled === true && pool.min_count === 2 && pool.max_count === 10, 'azure: AKS does not autoscale 2..10');
  const hub = resource(azure, 'azurerm_iothub', 'modax') ?? {};
  check(first(hub.sku)?.name === 'S2', 'azure: IoT Hub is not S2');
  const route = first(hub.route);
  const ep = first(hub.endpoint);
  check(ep?.type === 'AzureIotHub.EventHub' && route?.endpoint_names?.includes(ep.name), 'azure: no IoT Hub route to Event Hubs');
  check((hub.enrichment ?? []).some((e) => e.key === 'modax-tenant'), 'azure: no tenant enrichment');
  const sql = resource(gcp, 'google_sql_database_instance', 'modax') ?? {};
  const backup = first(first(sql.settings)?.backup_configuration);
  check(sql.database_version === 'POSTGRES_15' && first(backup?.backup_retention_settings)?.retained_backups === 30,
    'gcp: Cloud SQL is not PostgreSQL 15 with 30 retained backups');
  const np = first(resource(gcp, 'google_container_node_pool', 'default')?.autoscaling) ?? {};
  check(np.total_min_node_count === 2 && np.total_max_node_count === 10, 'gcp: the GKE node pool is not 2..10');
  // Azure: the ingest scales up to the event hub's partitions.
  const kust = YAML.parse(fs.readFileSync(path.join(SRC, 'deploy/k8s/overlays/azure/kustomization.yaml'), 'utf8'));
  const p = kust.patches.find((x) => x.target?.kind === 'HorizontalPodAutoscaler' && x.target.name === 'ingest');
  const max = p ? YAML.parse(p.patch).find((op) => op.path === '/spec/maxReplicas')?.value : undefined;
  check(max === variable(azure, 'event_hub_partitions')?.default,
    `azure: ingest HPA max ${max} is not the event hub's partitions ${variable(azure, 'event_hub_partitions')?.default}`);
}

// ---- no secret values in any file ----

const SECRET_PATTERNS = [
  [/AKIA[0-9A-Z]{16}/, 'an AWS access key id'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  [/AccountKey=[A-Za-z0-9+/]{20,}/, 'an Azure storage account key'],
  [/SharedAccessKey=[A-Za-z0-9+/]{20,}/, 'an Azure SAS key'],
  [/SharedAccessSignature sr=/, 'an Azure SAS token'],
  [/"private_key_id"\s*:/, 'a Google service account key'],
  [/postgres(ql)?:\/\/[^:/\s]+:[^@\s]+@/, 'a password in a PostgreSQL URL'],
  [/\bpassword=(?!\$)[^\s&"']+/i, 'a password in a connection string'],
];
// HCL attributes whose literal value would be a secret.
const SECRET_ATTR = /(password|secret_string|secret_data|secret_key|access_key|token|private_key|connection_string)$/;

function walkFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walkFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

function walkAttrs(node, at, out) {
  if (Array.isArray(node)) node.forEach((n, i) => walkAttrs(n, `${at}[${i}]`, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === 'string') out.push([k, v, `${at}.${k}`]);
      else walkAttrs(v, `${at}.${k}`, out);
    }
  }
}

function noSecrets(mods) {
  const docs = ['aws', 'azure', 'gcp'].map((c) => path.join(SRC, `docs/deploy-${c}.md`)).filter((f) => fs.existsSync(f));
  for (const f of [...walkFiles(path.join(SRC, 'deploy')), ...docs]) {
    const text = fs.readFileSync(f, 'utf8');
    for (const [re, what] of SECRET_PATTERNS) {
      check(!re.test(text), `${path.relative(SRC, f)}: holds ${what} (${re.exec(text)?.[0]})`);
    }
    if (f.endsWith('.env')) {
      // A secret key may only appear as its *_FILE.
      for (const line of text.split('\n')) {
        const name = /^(MODAX_[A-Z0-9_]+)=/.exec(line)?.[1];
        const key = [...table].find(([, k]) => k.env === name)?.[0];
        check(!key || !table.get(key).secret, `${path.relative(SRC, f)}: sets the secret ${name} itself; use ${name}_FILE`);
      }
    }
  }
  for (const [cloud, mod] of Object.entries(mods)) {
    const attrs = [];
    walkAttrs(mod.resource ?? {}, 'resource', attrs);
    walkAttrs(mod.variable ?? {}, 'variable', attrs);
    walkAttrs(mod.locals ?? [], 'locals', attrs);
    for (const [k, v, at] of attrs) {
      if (SECRET_ATTR.test(k)) check(v === '' || v.includes('${'), `${cloud}: ${at} is a literal secret value`);
    }
    // Sensitive values go out only through outputs marked sensitive.
    for (const [name, blocks] of Object.entries(mod.output ?? {})) {
      const v = JSON.stringify(blocks[0].value);
      if (/random_password|\.secret\b|primary_access_key|primary_connection_string/.test(v)) {
        check(blocks[0].sensitive === true, `${cloud}: output ${name} carries a secret without sensitive = true`);
      }
    }
  }
}

// ---- main ----

try {
  const aws = await loadModule('aws');
  const azure = await loadModule('azure');
  const gcp = await loadModule('gcp');
  for (const [cloud, mod] of Object.entries({ aws, azure, gcp })) {
    archiveVariables(cloud, mod);
    console.log(`${cloud}: ${resources(mod).length} resources, ${Object.keys(mod.module ?? {}).length} modules, ` +
      `${Object.keys(mod.output ?? {}).length} outputs`);
  }
  lifecycleAws(aws);
  lifecycleAzure(azure);
  lifecycleGcp(gcp);
  iotPolicies(aws);
  tagsAws(aws);
  tagsAzure(azure);
  tagsGcp(gcp);
  regionAndOutputs('aws', aws, 'region');
  regionAndOutputs('azure', azure, 'location');
  regionAndOutputs('gcp', gcp, 'region');
  sizes(aws, azure, gcp);
  noSecrets({ aws, azure, gcp });
} catch (e) {
  fail(e.stack ?? String(e));
}
console.log(`${checks - findings.length} passed, ${findings.length} failed`);
process.exit(findings.length ? 1 : 0);
