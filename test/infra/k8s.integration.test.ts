/**
 * There is no cluster here: each overlay is rendered with `kubectl kustomize` (kubectl's built-in
 * kustomize, offline) from a temp copy with placeholder secret files, then every object is
 * cross-checked against the code: the mounted ibflow.yaml against the config schema, pod names
 * against `pod:` ids, `env:` secret refs against env `_FILE` variables, projected Secret items and
 * generated Secrets, CLI commands and flags against `ibflow … --help`, the gateway against its
 * conf.yaml, ClickHouse and Temporal against the config's addresses and cluster.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { clickHouseUser } from '../../src/clickhouse/clickhouseClient';
import { applyEnvOverrides, parseConfig } from '../../src/config/loadConfig';
import type { IbflowConfig } from '../../src/config/schema';
import { podTaskQueue } from '../../src/contract/ids';
import { loadSimConfFile } from '../../sim/confFile';
import { ipAllowed } from '../../sim/ipFilter';
import { SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';

const root = resolve(__dirname, '../..');
const k8s = join(root, 'infra/k8s');
const OVERLAYS = ['staging', 'production'] as const;

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML */
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };
interface Container { name: string; image: string; args?: string[]; command?: string[]; env?: { name: string; value?: string; valueFrom?: any }[]; ports?: { name: string; containerPort: number }[]; volumeMounts?: { name: string; mountPath: string }[]; readinessProbe?: any; livenessProbe?: any }

let work: string;
const rendered = new Map<string, Obj[]>();

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ibflow-k8s-'));
  cpSync(k8s, join(work, 'k8s'), { recursive: true });
  for (const overlay of OVERLAYS) {
    const dir = join(work, 'k8s/overlays', overlay);
    const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { secretGenerator?: { files: string[] }[] };
    // The real secret files are never committed: placeholders with the declared names.
    for (const g of kustomization.secretGenerator ?? []) for (const f of g.files) writeFileSync(join(dir, f.split('=').pop()!), 'placeholder\n');
    const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
    rendered.set(overlay, parseAllDocuments(out).map((d) => d.toJS() as Obj));
  }
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function find(objs: Obj[], kind: string, name: string): Obj {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} among ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}
const container = (pod: any, name: string): Container => [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c: Container) => c.name === name);
const configOf = (objs: Obj[]): IbflowConfig => parseConfig(parse(find(objs, 'ConfigMap', 'ibflow-config').data!['ibflow.yaml']!), 'ibflow.yaml');

const helpCache = new Map<string, string>();
function cliHelp(words: string[]): string {
  const key = words.join(' ');
  if (!helpCache.has(key)) helpCache.set(key, execFileSync(process.execPath, [join(root, 'cli/bin.js'), ...words, '--help'], { encoding: 'utf8' }));
  return helpCache.get(key)!;
}

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const objs = () => rendered.get(overlay)!;

  test('everything lands in the overlay namespace; the mounted ibflow.yaml validates against the config schema', () => {
    const namespaces = new Set(objs().map((o) => o.metadata.namespace));
    expect([...namespaces]).toEqual([overlay === 'production' ? 'ibflow' : `ibflow-${overlay}`]);
    const config = configOf(objs());
    expect(config.clickhouse).toMatchObject({ cluster: 'ibflow', insertTarget: 'distributed' });
  });

  test('one gateway pod per connection: `pod:` ids are the StatefulSet pod names, passed through the downward API', () => {
    const sts = find(objs(), 'StatefulSet', 'ibflow-gw');
    const config = configOf(objs());
    const podNames = Array.from({ length: sts.spec.replicas }, (_, i) => `${sts.metadata.name}-${i}`);
    expect(config.connections.map((c) => c.pod).sort()).toEqual(podNames);
    const worker = container(sts.spec.template, 'worker');
    expect(worker.args!.slice(0, 4)).toEqual(['worker', 'pod', '--pod', '$(POD_NAME)']);
    expect(worker.env!.find((e) => e.name === 'POD_NAME')!.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    // Hence the task queues the session workflows send gateway activities to.
    expect(podNames.map(podTaskQueue)).toEqual(podNames.map((p) => `ibflow-pod-${p}`));
  });

  test('every env: secret ref is a _FILE variable pointing into its pod\'s projected Secret, and that Secret is generated', () => {
    const sts = find(objs(), 'StatefulSet', 'ibflow-gw');
    const worker = container(sts.spec.template, 'worker');
    const config = configOf(objs());
    const mount = worker.volumeMounts!.find((m) => m.name === 'ibkr-secrets')!;
    const projected = sts.spec.template.spec.volumes.find((v: any) => v.name === 'ibkr-secrets').projected.sources as { secret: { name: string; items: { key: string; path: string }[] } }[];
    const expectedFiles: string[] = [];
    for (const c of config.connections) {
      for (const [key, ref] of [['password', c.passwordRef], ['totp', c.totpSecretRef]] as const) {
        if (!ref) continue;
        expect(ref).toMatch(/^env:/);
        const file = `${mount.mountPath}/${c.pod}/${key}`;
        expectedFiles.push(`${ref.slice(4)}_FILE=${file}`);
        const source = projected.find((s) => s.secret.name === `ibkr-${c.pod}`);
        expect(source?.secret.items).toContainEqual({ key, path: `${c.pod}/${key}` });
        expect(Object.keys(find(objs(), 'Secret', `ibkr-${c.pod}`).data ?? {})).toContain(key);
      }
    }
    // The ingest user's password, from its own Secret (the ClickHouse test below checks the user).
    const ingestRef = config.clickhouse.users!.ingest!.passwordRef!;
    const chMount = worker.volumeMounts!.find((m) => m.name === 'clickhouse-ingest')!;
    expectedFiles.push(`${ingestRef.slice(4)}_FILE=${chMount.mountPath}/password`);
    // Exactly these: no variable for a secret the config does not reference, none missing.
    const fileVars = worker.env!.filter((e) => e.name.endsWith('_FILE')).map((e) => `${e.name}=${e.value}`);
    expect(fileVars.sort()).toEqual(expectedFiles.sort());
    // The gateway container never sees the account secrets.
    expect(container(sts.spec.template, 'gateway').volumeMounts ?? []).toEqual([]);
  });

  test('ibflow containers run real CLI commands, read the mounted config, and serve the probed metrics port', () => {
    const sts = find(objs(), 'StatefulSet', 'ibflow-gw');
    const control = find(objs(), 'Deployment', 'ibflow-control');
    const starter = find(objs(), 'Job', 'ibflow-start');
    const ibflowImage = container(sts.spec.template, 'worker').image;
    expect(ibflowImage).toMatch(/^[\w./-]+\/ibflow:[\w.-]+$/);
    for (const pod of [sts.spec.template, control.spec.template, starter.spec.template]) {
      const configVolume = pod.spec.volumes.find((v: any) => v.configMap?.name === 'ibflow-config');
      for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers] as Container[]) {
        if (c.image !== ibflowImage) continue;
        const args = c.args!;
        const words = args.filter((w) => !w.startsWith('-') && !w.startsWith('/') && !w.startsWith('$') && !/^\d+$/.test(w)).slice(0, 2);
        const help = cliHelp(words);
        for (const flag of args.filter((w) => w.startsWith('--'))) expect(help).toContain(flag);
        const configPath = args[args.indexOf('--config') + 1]!;
        const mount = c.volumeMounts!.find((m) => m.name === configVolume.name)!;
        expect(configPath).toBe(`${mount.mountPath}/ibflow.yaml`);
        if (args.includes('--metrics-port')) {
          const port = Number(args[args.indexOf('--metrics-port') + 1]);
          expect(c.ports).toContainEqual({ name: 'metrics', containerPort: port });
          expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
          expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
        }
      }
    }
    expect(container(control.spec.template, 'worker').args!.slice(0, 2)).toEqual(['worker', 'control']);
    expect(container(control.spec.template, 'db-migrate').args!.slice(0, 2)).toEqual(['db', 'migrate']);
    // Someone has to start the workflows: a Job that runs `ibflow start` with the same image and config.
    expect(container(starter.spec.template, 'start').image).toBe(ibflowImage);
    expect(container(starter.spec.template, 'start').args![0]).toBe('start');
    expect(starter.spec.ttlSecondsAfterFinished).toBeGreaterThan(0); // re-applied Jobs are immutable: a finished one goes away
  });

  test('the control worker registers the Temporal namespace and search attributes the config and workflows use', () => {
    const config = configOf(objs());
    const init = container(find(objs(), 'Deployment', 'ibflow-control').spec.template, 'search-attributes');
    const env = Object.fromEntries(init.env!.map((e) => [e.name, e.value]));
    expect(env).toEqual({ TEMPORAL_ADDRESS: config.temporal.address, TEMPORAL_NAMESPACE: config.temporal.namespace });
    for (const key of SEARCH_ATTRIBUTES) expect(init.args!.join(' ')).toContain(key.name);
  });

  test('the gateway sidecar: port and IP filter of its conf.yaml fit the config; nothing but its own pod reaches it', () => {
    const sts = find(objs(), 'StatefulSet', 'ibflow-gw');
    const gateway = container(sts.spec.template, 'gateway');
    expect(gateway.image).toMatch(/\/ibflow-gateway:[\w.-]+$/);
    const conf = loadSimConfFile(join(root, 'infra/gateway/conf.yaml'));
    expect(gateway.ports).toEqual([{ name: 'gateway', containerPort: conf.listenPort }]);
    for (const c of configOf(objs()).connections) {
      const url = new URL(c.gateway.url);
      expect({ host: url.hostname, port: Number(url.port) }).toEqual({ host: '127.0.0.1', port: conf.listenPort });
      expect(ipAllowed(conf.ips, url.hostname)).toBe(true);
    }
    // kubelet's httpGet would come from the node address, which the filter rejects.
    expect(ipAllowed(conf.ips, '10.0.0.1')).toBe(false);
    expect(gateway.readinessProbe.httpGet).toBeUndefined();

    const policy = find(objs(), 'NetworkPolicy', 'ibflow-gw');
    expect(policy.spec.podSelector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    expect(policy.spec.policyTypes).toContain('Ingress');
    const ingressPorts = (policy.spec.ingress as { ports?: { port: number }[] }[]).map((r) => r.ports);
    expect(ingressPorts.every((ports) => ports !== undefined && ports.every((p) => p.port !== conf.listenPort))).toBe(true);
    // No Service exposes the gateway port.
    for (const svc of objs().filter((o) => o.kind === 'Service')) for (const p of svc.spec.ports) expect(p.port).not.toBe(conf.listenPort);
  });

  test("gateway probes stay off /v1/api (a probe must never spend the worker's tickle pacing)", () => {
    const sts = find(objs(), 'StatefulSet', 'ibflow-gw');
    const probes = JSON.stringify(sts.spec.template.spec.containers.map((c: any) => [c.readinessProbe, c.livenessProbe, c.startupProbe]));
    expect(probes).toContain('5000');
    expect(probes).not.toContain('/v1/');
  });

  test('disruption budgets select the gateway pods (one at a time) and the control workers', () => {
    const sts = find(objs(), 'StatefulSet', 'ibflow-gw');
    expect(find(objs(), 'PodDisruptionBudget', 'ibflow-gw').spec).toEqual({ maxUnavailable: 1, selector: sts.spec.selector });
    const control = find(objs(), 'Deployment', 'ibflow-control');
    expect(find(objs(), 'PodDisruptionBudget', 'ibflow-control').spec.selector).toEqual(control.spec.selector);
  });

  test('ClickHouse (Altinity operator): the config\'s cluster, service, port and user exist; Distributed inserts are synchronous', () => {
    const config = configOf(objs());
    const chi = find(objs(), 'ClickHouseInstallation', 'ibflow');
    const cluster = chi.spec.configuration.clusters.find((c: any) => c.name === config.clickhouse.cluster);
    expect(cluster.layout).toEqual(overlay === 'production' ? { shardsCount: 2, replicasCount: 2 } : { shardsCount: 2, replicasCount: 1 });
    const url = new URL(config.clickhouse.url);
    const svc = chi.spec.templates.serviceTemplates.find((t: any) => t.name === chi.spec.defaults.templates.serviceTemplate);
    expect(svc.generateName.replace('{chi}', chi.metadata.name)).toBe(url.hostname);
    expect(svc.spec.ports).toContainEqual({ name: 'http', port: Number(url.port) });
    const users = chi.spec.configuration.users as Record<string, unknown>;
    const profile = users[`${config.clickhouse.users!.ingest!.username}/profile`] as string;
    expect(profile).toBeDefined();
    expect(chi.spec.configuration.profiles[`${profile}/insert_distributed_sync`]).toBe(1);
    // Replication and ON CLUSTER DDL need Keeper: the operator's keeper installation.
    const keeper = find(objs(), 'ClickHouseKeeperInstallation', 'ibflow');
    expect(chi.spec.configuration.zookeeper.nodes[0].host).toBe(`keeper-${keeper.metadata.name}`);
    // ClickHouse admits the workers' pods.
    const chPolicy = find(objs(), 'NetworkPolicy', 'clickhouse-ingress');
    const clientLabels = chPolicy.spec.ingress.flatMap((r: any) => r.from.map((f: any) => f.podSelector?.matchLabels)).filter(Boolean);
    for (const name of ['StatefulSet/ibflow-gw', 'Deployment/ibflow-control']) {
      const [kind, n] = name.split('/') as [string, string];
      const labels = find(objs(), kind, n).spec.template.metadata.labels;
      expect(clientLabels.some((l: Record<string, string>) => Object.entries(l).every(([k, v]) => labels[k] === v))).toBe(true);
    }
  });

  test('ClickHouse users: one per role, each password from its own generated Secret, grants as designed', () => {
    const users = find(objs(), 'ClickHouseInstallation', 'ibflow').spec.configuration.users as Record<string, any>;
    const names = [...new Set(Object.keys(users).map((k) => k.split('/')[0]))].sort();
    expect(names).toEqual(['ibflow_ingest', 'ibflow_migrator', 'ibflow_reader']);
    const secretNames = new Set<string>();
    for (const user of names) {
      expect(Object.keys(users).filter((k) => k.startsWith(`${user}/password`))).toEqual([`${user}/password`]); // no literal or hash variant
      const ref = users[`${user}/password`].valueFrom.secretKeyRef as { name: string; key: string };
      expect(find(objs(), 'Secret', ref.name).data).toHaveProperty(ref.key);
      secretNames.add(ref.name);
    }
    expect(secretNames.size).toBe(3);
    expect(users['ibflow_ingest/grants/query']).toEqual([
      'GRANT INSERT ON ibflow.depth',
      'GRANT INSERT ON ibflow.depth_local',
      'GRANT INSERT ON ibflow.session_events',
      'GRANT INSERT ON ibflow.session_events_local',
      'GRANT ALTER DELETE ON ibflow.depth_local',
      'GRANT REMOTE ON *.*',
    ]);
    expect(users['ibflow_reader/grants/query']).toEqual(['GRANT SELECT ON ibflow.*']);
    expect(users['ibflow_migrator/grants/query']).toEqual(['GRANT CREATE DATABASE, CREATE TABLE, ALTER, DROP TABLE, SELECT, INSERT ON ibflow.*']);
    // The config names no password in the clear and has no migrator: every process reads it.
    const config = configOf(objs());
    expect(config.clickhouse.users?.migrator).toBeUndefined();
    expect(config.clickhouse.passwordRef).toBeUndefined();
  });

  test('each ibflow container connects as its role and has exactly that role\'s password; only db-migrate has the migrator', () => {
    const chi = find(objs(), 'ClickHouseInstallation', 'ibflow');
    const users = chi.spec.configuration.users as Record<string, any>;
    const raw = parse(find(objs(), 'ConfigMap', 'ibflow-config').data!['ibflow.yaml']!) as Record<string, unknown>;
    const seen: string[] = [];
    for (const workload of objs().filter((o) => ['StatefulSet', 'Deployment', 'Job'].includes(o.kind))) {
      const pod = workload.spec.template;
      for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers] as Container[]) {
        if (!c.args || c.image.includes('temporalio') || c.name === 'gateway') continue;
        const env = Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
        const { raw: overridden, fromEnv } = applyEnvOverrides(raw, env);
        const config = parseConfig(overridden, 'ibflow.yaml', fromEnv);
        const role = c.args[0] === 'worker' ? 'ingest' : c.args[0] === 'db' ? 'migrator' : null;
        const mounted = (c.volumeMounts ?? []).filter((m) => m.name.startsWith('clickhouse-')).map((m) => m.name).sort();
        seen.push(`${c.name}:${role}:${mounted.join(',')}`);
        if (role === 'migrator') expect(config.clickhouse.users?.migrator?.username).toBe('ibflow_migrator');
        else expect(config.clickhouse.users?.migrator).toBeUndefined();
        if (!role) continue;
        const user = clickHouseUser(config, role);
        expect(user.shared).toBe(false);
        // The user exists in ClickHouse with a password from the Secret mounted here, by env: reference.
        const secret = users[`${user.username}/password`].valueFrom.secretKeyRef.name as string;
        expect(user.passwordRef).toMatch(/^env:/);
        const volume = pod.spec.volumes.find((v: any) => v.secret?.secretName === secret);
        const mount = c.volumeMounts!.find((m) => m.name === volume.name)!;
        expect(env[`${user.passwordRef!.slice(4)}_FILE`]).toBe(`${mount.mountPath}/password`);
      }
    }
    // Gateway pods: ingest only. Control worker: ingest, and the reader for the CLI run there. Migrate: the migrator only.
    expect(seen.sort()).toEqual(['db-migrate:migrator:clickhouse-migrator', 'start:null:', 'worker:ingest:clickhouse-ingest', 'worker:ingest:clickhouse-ingest,clickhouse-reader'].sort());
  });
});

test('Temporal Helm values: PostgreSQL persistence and the frontend the configs point at', () => {
  const values = parse(readFileSync(join(k8s, 'temporal/values.yaml'), 'utf8')) as any;
  for (const store of ['default', 'visibility']) {
    expect(values.server.config.persistence[store]).toMatchObject({ driver: 'sql', sql: { driver: 'postgres12', existingSecret: 'temporal-postgresql' } });
  }
  for (const off of ['cassandra', 'mysql', 'elasticsearch', 'postgresql']) expect(values[off].enabled).toBe(false);
  expect(values.web.enabled).toBe(true);
  for (const overlay of OVERLAYS) {
    const address = configOf(rendered.get(overlay)!).temporal.address;
    // Release `temporal` in namespace `temporal` → Service temporal-frontend.temporal.svc.
    expect(address).toBe(`temporal-frontend.temporal.svc:${values.server.frontend.service.port}`);
  }
});
