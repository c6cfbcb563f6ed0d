/** There is no Docker engine here, so the compose file is parsed and cross-checked against the code. */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { clickHouseUser } from '../../src/clickhouse/clickhouseClient';
import { applyEnvOverrides, loadConfig, parseConfig } from '../../src/config/loadConfig';
import { loadSimConfFile } from '../../sim/confFile';
import { ipAllowed } from '../../sim/ipFilter';
import { SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';

const root = resolve(__dirname, '../..');
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  secrets?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  network_mode?: string;
  healthcheck?: { test: string[] };
  profiles?: string[];
  entrypoint?: string[];
}
// merge: the file shares service settings through YAML anchors and `<<` merge keys.
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
};

test('every service has an image or a Dockerfile that exists', () => {
  for (const [name, s] of Object.entries(compose.services)) {
    if (s.build) expect(existsSync(join(root, s.build.context, s.build.dockerfile))).toBe(true);
    else expect({ name, image: s.image }).toEqual({ name, image: expect.stringMatching(/^[\w./-]+:[\w.-]+$/) });
  }
});

test('dependencies, secrets, shared network namespaces and named volumes all exist', () => {
  const services = Object.keys(compose.services);
  for (const s of Object.values(compose.services)) {
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      expect(services).toContain(dep);
      if (condition === 'service_healthy') expect(compose.services[dep].healthcheck).toBeDefined();
    }
    for (const secret of s.secrets ?? []) expect(Object.keys(compose.secrets)).toContain(secret);
    if (s.network_mode) expect(services).toContain(s.network_mode.replace(/^service:/, ''));
    for (const v of s.volumes ?? []) {
      const source = v.split(':')[0];
      if (!source.startsWith('.')) expect(Object.keys(compose.volumes)).toContain(source);
      else expect(existsSync(join(root, source))).toBe(true);
    }
  }
});

const helpCache = new Map<string, string>();
/** `ibflow <words> --help`, once per command (each run starts a node process). */
function cliHelp(words: string[]): string {
  const key = words.join(' ');
  if (!helpCache.has(key)) helpCache.set(key, execFileSync(process.execPath, [join(root, 'cli/bin.js'), ...words, '--help'], { encoding: 'utf8' }));
  return helpCache.get(key)!;
}

test('ibflow commands in the compose file are real CLI commands', () => {
  for (const s of Object.values(compose.services)) {
    if (!s.build || !s.command) continue;
    const words = s.command.filter((w) => !w.startsWith('-')).slice(0, s.command[0] === 'worker' ? 2 : 1);
    const help = cliHelp(words);
    for (const flag of s.command.filter((w) => w.startsWith('--'))) expect(help).toContain(flag);
  }
});

/** `${VAR:-default}` → default (compose interpolation, as with VAR unset). */
const interpolate = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

test.each([
  ['pod-a-worker-sim', 'infra/docker/config/ibflow.yaml'],
  ['pod-a-worker', 'infra/docker/config/ibflow.ibkr.yaml'],
])('the compose config validates, and its env secrets are provided to the pod worker (%s)', (service, configFile) => {
  const config = loadConfig(join(root, configFile));
  const worker = compose.services[service]!;
  for (const c of config.connections.filter((x) => x.pod === 'pod-a')) {
    for (const ref of [c.passwordRef, c.totpSecretRef].filter(Boolean) as string[]) {
      expect(ref.startsWith('env:')).toBe(true);
      const variable = `${ref.slice(4)}_FILE`;
      expect(Object.keys(worker.environment ?? {})).toContain(variable);
      const secretName = worker.environment![variable].replace('/run/secrets/', '');
      expect(worker.secrets).toContain(secretName);
    }
  }
});

const ibflowServices = () => Object.entries(compose.services).filter(([, s]) => s.build?.dockerfile === 'infra/docker/Dockerfile');

test('ibflow services find their config in the mounted folder, and `worker pod --pod` matches the config', () => {
  for (const [name, s] of ibflowServices()) {
    const configPath = interpolate(s.environment?.IBFLOW_CONFIG ?? '');
    expect({ name, configPath }).toEqual({ name, configPath: '/etc/ibflow/ibflow.yaml' });
    if (name.includes('gateway')) continue; // the simulator reads no ibflow config
    expect(s.volumes).toContain('./infra/docker/config:/etc/ibflow:ro');
  }
  for (const [service, file] of [['pod-a-worker-sim', 'ibflow.yaml'], ['pod-a-worker', 'ibflow.ibkr.yaml']] as const) {
    const s = compose.services[service]!;
    const pod = s.command![s.command!.indexOf('--pod') + 1];
    const config = loadConfig(join(root, 'infra/docker/config', file));
    expect(config.connections.length).toBeGreaterThan(0);
    for (const c of config.connections) {
      expect(c.pod).toBe(pod);
      // The gateway shares the worker's network namespace and listens on the conf.yaml port.
      const url = new URL(c.gateway.url);
      expect(url.hostname).toBe('127.0.0.1');
      expect(Number(url.port)).toBe(gatewayConf.listenPort);
      expect(ipAllowed(gatewayConf.ips, url.hostname)).toBe(true);
    }
    expect(s.network_mode).toMatch(/^service:pod-a-gateway/);
    // Both configs use the ClickHouse users the compose file creates.
    for (const role of ['ingest', 'reader'] as const) expect(chUsers().map((u) => u.name)).toContain(config.clickhouse.users![role]!.username);
  }
});

const gatewayConf = loadSimConfFile(join(root, 'infra/gateway/conf.yaml'));

test('the gateway conf.yaml admits only the pod itself; the simulator in `sim` uses the same file', () => {
  expect(gatewayConf.listenPort).toBe(5000);
  expect(ipAllowed(gatewayConf.ips, '127.0.0.1')).toBe(true);
  for (const other of ['172.18.0.5', '10.1.2.3', '192.168.1.20']) expect(ipAllowed(gatewayConf.ips, other)).toBe(false);
  const sim = compose.services['pod-a-gateway-sim']!;
  const conf = sim.command![sim.command!.indexOf('--conf') + 1];
  expect(sim.volumes).toContain(`./infra/gateway/conf.yaml:${conf}:ro`);
  expect(sim.command![sim.command!.indexOf('--port') + 1]).toBe(String(gatewayConf.listenPort));
});

test("IBKR's gateway image: the published archive on a Java runtime, with our conf.yaml", () => {
  const s = compose.services['pod-a-gateway']!;
  const dockerfile = readFileSync(join(root, s.build!.context, s.build!.dockerfile), 'utf8');
  expect(dockerfile).toMatch(/^FROM eclipse-temurin:\d+-jre/m);
  expect(dockerfile).toContain('https://download2.interactivebrokers.com/portal/clientportal.gw.zip');
  expect(dockerfile).toMatch(/COPY .*conf\.yaml root\/conf\.yaml/);
  expect(dockerfile).toContain('ENTRYPOINT ["bin/run.sh", "root/conf.yaml"]');
  expect(s.healthcheck!.test.join(' ')).toContain(`https://127.0.0.1:${gatewayConf.listenPort}/`);
});

test('profiles swap the gateway: `sim` and `ibkr` each run one gateway and one pod worker for pod-a', () => {
  for (const profile of ['sim', 'ibkr']) {
    const names = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes(profile)).map(([n]) => n).sort();
    expect(names.filter((n) => n.startsWith('pod-a-'))).toEqual(profile === 'sim' ? ['pod-a-gateway-sim', 'pod-a-worker-sim'] : ['pod-a-gateway', 'pod-a-worker']);
    expect(names).toContain('start');
  }
});

test('health checks gate dependents: workers on Temporal, the migration and (pod) their gateway', () => {
  for (const [name, s] of ibflowServices()) {
    if (s.command?.[0] === 'worker') {
      expect(s.depends_on?.temporal?.condition).toBe('service_healthy');
      expect(s.depends_on?.['clickhouse-migrate']?.condition).toBe('service_completed_successfully');
      expect({ name, health: s.healthcheck?.test.join(' ') }).toEqual({ name, health: expect.stringContaining(`:${s.environment!.IBFLOW_METRICS_PORT}/readyz`) });
    }
  }
  expect(compose.services['clickhouse-migrate']!.command).toEqual(['db', 'migrate']);
  expect(compose.services['start']!.depends_on?.['control-worker']?.condition).toBe('service_healthy');
  // The Temporal search attributes the workflows upsert are registered before the control worker.
  const script = compose.services['temporal-search-attributes']!.command!.join(' ');
  for (const key of SEARCH_ATTRIBUTES) expect(script).toContain(key.name);
  expect(compose.services['control-worker']!.depends_on?.['temporal-search-attributes']?.condition).toBe('service_completed_successfully');
});

test("gateway health checks stay off /v1/api: a probe must never spend the worker's tickle pacing (429 = 15-minute penalty box)", () => {
  const gatewayChecks = Object.entries(compose.services).filter(([, s]) => (s.healthcheck?.test.join(' ') ?? '').includes(':5000'));
  expect(gatewayChecks.length).toBeGreaterThan(0);
  for (const [name, s] of gatewayChecks) expect({ name, check: s.healthcheck!.test.join(' ') }).toEqual({ name, check: expect.not.stringContaining('/v1/') });
  const dockerfile = readFileSync(join(root, 'infra/gateway/Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/HEALTHCHECK/);
  expect(dockerfile.split('\n').filter((l) => l.includes('curl')).join('\n')).not.toContain('/v1/');
});

test("Temporal's auto-setup gets its database password from the secret file (it reads only POSTGRES_PWD)", () => {
  const temporal = compose.services['temporal']!;
  expect(Object.keys(temporal.environment ?? {}).filter((k) => k.startsWith('POSTGRES_PWD'))).toEqual([]); // never in the file
  expect(temporal.secrets).toContain('postgres_password');
  // Run the entrypoint as the container would, with the secret file and the image's entrypoint stubbed.
  const dir = mkdtempSync(join(tmpdir(), 'ibflow-compose-'));
  try {
    writeFileSync(join(dir, 'postgres_password'), 'pg-CANARY-pw\n');
    const stub = join(dir, 'entrypoint.sh');
    writeFileSync(stub, '#!/bin/sh\necho "pwd=$POSTGRES_PWD args=$*"\n');
    chmodSync(stub, 0o755);
    const [shell, flag, script, name] = (temporal as Service & { entrypoint: string[] }).entrypoint;
    const local = script!.replace(/\$\$/g, '$').replace('/run/secrets/postgres_password', join(dir, 'postgres_password')).replace('/etc/temporal/entrypoint.sh', stub);
    const out = execFileSync(shell!, [flag!, local, name!, ...(temporal.command ?? [])], { encoding: 'utf8' });
    expect(out.trim()).toBe('pwd=pg-CANARY-pw args=autosetup');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('published ports stay on the host loopback, and ClickHouse is a current LTS (x.3 or x.8)', () => {
  for (const s of Object.values(compose.services) as (Service & { ports?: string[] })[]) for (const p of s.ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:/);
  expect(compose.services.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:\d+\.(3|8)$/);
});

/** The users in infra/docker/clickhouse/ibflow-users.xml: name, password element, grant queries. */
function chUsers(): { name: string; password: string; grants: string[] }[] {
  const xml = readFileSync(join(root, 'infra/docker/clickhouse/ibflow-users.xml'), 'utf8').replace(/<!--[\s\S]*?-->/g, '');
  const users = /<users>([\s\S]*)<\/users>/.exec(xml)![1]!;
  return [...users.matchAll(/<(\w+)>([\s\S]*?)<\/\1>/g)].map(([, name, body]) => ({
    name: name!,
    password: /<password[^>]*\/>|<password[^>]*>[^<]*<\/password>/.exec(body!)![0],
    grants: [...body!.matchAll(/<query>([^<]*)<\/query>/g)].map((m) => m[1]!),
  }));
}

test('ClickHouse gets three users, each password from the environment its entrypoint fills from a secret file, grants as designed', () => {
  const users = chUsers();
  expect(users.map((u) => u.name)).toEqual(['ibflow_ingest', 'ibflow_reader', 'ibflow_migrator']);
  const variables = users.map((u) => /^<password from_env="([A-Z_]+)"\/>$/.exec(u.password)?.[1]);
  expect(variables).toEqual(['CLICKHOUSE_INGEST_PASSWORD', 'CLICKHOUSE_READER_PASSWORD', 'CLICKHOUSE_MIGRATOR_PASSWORD']);
  expect(Object.fromEntries(users.map((u) => [u.name, u.grants]))).toEqual({
    ibflow_ingest: ['GRANT INSERT ON ibflow.depth', 'GRANT INSERT ON ibflow.session_events', 'GRANT ALTER DELETE ON ibflow.depth'],
    ibflow_reader: ['GRANT SELECT ON ibflow.*'],
    ibflow_migrator: ['GRANT CREATE DATABASE, CREATE TABLE, ALTER, DROP TABLE, SELECT, INSERT ON ibflow.*'],
  });
  const ch = compose.services.clickhouse!;
  expect(ch.volumes).toContain('./infra/docker/clickhouse/ibflow-users.xml:/etc/clickhouse-server/users.d/ibflow-users.xml:ro');
  expect(Object.keys(ch.environment ?? {}).filter((k) => k.includes('PASSWORD'))).toEqual([]); // never in the file
  // Run the entrypoint as the container would: secret files and the image's entrypoint stubbed.
  const dir = mkdtempSync(join(tmpdir(), 'ibflow-compose-ch-'));
  try {
    const [shell, flag, script, name] = ch.entrypoint!;
    let local = script!.replace(/\$\$/g, '$').replace('/entrypoint.sh', join(dir, 'entrypoint.sh'));
    for (const secret of ch.secrets!) {
      writeFileSync(join(dir, secret), `${secret}-CANARY\n`);
      local = local.replace(`/run/secrets/${secret}`, join(dir, secret));
    }
    writeFileSync(join(dir, 'entrypoint.sh'), `#!/bin/sh\necho "${variables.map((v) => `${v}=$${v}`).join(' ')} args=$*"\n`);
    chmodSync(join(dir, 'entrypoint.sh'), 0o755);
    const out = execFileSync(shell!, [flag!, local, name!], { encoding: 'utf8' });
    expect(out.trim()).toBe(
      'CLICKHOUSE_INGEST_PASSWORD=clickhouse_ingest_password-CANARY CLICKHOUSE_READER_PASSWORD=clickhouse_reader_password-CANARY CLICKHOUSE_MIGRATOR_PASSWORD=clickhouse_migrator_password-CANARY args=',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.each(['infra/docker/config/ibflow.yaml', 'infra/docker/config/ibflow.ibkr.yaml'])(
  'each ibflow service connects as its role with exactly that password secret; only clickhouse-migrate has the migrator (%s)',
  (file) => {
    const raw = parse(readFileSync(join(root, file), 'utf8')) as Record<string, unknown>;
    expect(loadConfig(join(root, file), {}).clickhouse.users?.migrator).toBeUndefined();
    const roles: string[] = [];
    for (const [name, s] of ibflowServices()) {
      if (name.includes('gateway')) continue; // the simulator: no ClickHouse
      const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
      const { raw: overridden, fromEnv } = applyEnvOverrides({ stateDir: '/var/lib/ibflow', ...raw }, env);
      const config = parseConfig(overridden, file, fromEnv);
      const role = s.command![0] === 'worker' ? 'ingest' : s.command![0] === 'db' ? 'migrator' : null;
      const chSecrets = (s.secrets ?? []).filter((x) => x.startsWith('clickhouse_')).sort();
      roles.push(`${name}:${role}:${chSecrets.join(',')}`);
      if (role !== 'migrator') expect(config.clickhouse.users?.migrator).toBeUndefined();
      if (!role) continue;
      const user = clickHouseUser(config, role);
      expect(user.shared).toBe(false);
      expect(chUsers().map((u) => u.name)).toContain(user.username);
      expect(user.passwordRef).toMatch(/^env:/);
      const secretFile = env[`${user.passwordRef!.slice(4)}_FILE`]!;
      expect(s.secrets).toContain(secretFile.replace('/run/secrets/', ''));
    }
    expect(roles.sort()).toEqual(
      [
        'clickhouse-migrate:migrator:clickhouse_migrator_password',
        'control-worker:ingest:clickhouse_ingest_password,clickhouse_reader_password',
        'pod-a-worker:ingest:clickhouse_ingest_password',
        'pod-a-worker-sim:ingest:clickhouse_ingest_password',
        'start:null:',
      ].sort(),
    );
  },
);
