/** There is no Docker engine here, so the compose file is parsed and cross-checked against the code. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/loadConfig';

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
  healthcheck?: unknown;
}
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
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

test('ibflow commands in the compose file are real CLI commands', () => {
  for (const s of Object.values(compose.services)) {
    if (!s.build || !s.command) continue;
    const words = s.command.filter((w) => !w.startsWith('-')).slice(0, s.command[0] === 'worker' ? 2 : 1);
    const help = execFileSync(process.execPath, [join(root, 'cli/bin.js'), ...words, '--help'], { encoding: 'utf8' });
    for (const flag of s.command.filter((w) => w.startsWith('--'))) expect(help).toContain(flag);
  }
});

test('the compose config validates, and its env secrets are provided to the pod worker', () => {
  const config = loadConfig(join(root, 'infra/docker/config/ibflow.yaml'));
  const worker = compose.services['pod-a-worker-sim'];
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
