/**
 * Where each pod's depth quarantine lives, and which pods the CLI lists: the configured ones and
 * any with a folder on disk (a pod since removed from the config may still hold records).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quarantineDirFor, quarantinePods, quarantineRoot } from '../../../src/clickhouse/quarantineDirs';
import { parseConfig } from '../../../src/config/loadConfig';

const connection = (id: string, pod: string, port: number) => ({
  id,
  mode: 'paper',
  username: `${id}-user`,
  passwordRef: `file:${id}/password`,
  pod,
  gateway: { url: `https://localhost:${port}` },
});

let stateDir: string;
beforeEach(() => (stateDir = mkdtempSync(join(tmpdir(), 'ibflow-quarantine-dirs-'))));
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

it('defaults to <stateDir>/quarantine/<pod>', () => {
  const config = parseConfig({ stateDir });
  expect(quarantineRoot(config)).toBe(join(stateDir, 'quarantine'));
  expect(quarantineDirFor(config, 'pod-a')).toBe(join(stateDir, 'quarantine', 'pod-a'));
});

it('depth.quarantineDir moves the root; pods stay one folder each', () => {
  const elsewhere = join(stateDir, 'shared', 'q');
  const config = parseConfig({ stateDir, depth: { quarantineDir: elsewhere } });
  expect(quarantineRoot(config)).toBe(elsewhere);
  expect(quarantineDirFor(config, 'pod-b')).toBe(join(elsewhere, 'pod-b'));
});

it('lists the configured pods with no folder yet, and none at all for an empty config', () => {
  expect(quarantinePods(parseConfig({ stateDir }))).toEqual([]);
  const config = parseConfig({ stateDir, connections: [connection('paper-2', 'pod-b', 5002), connection('paper-1', 'pod-a', 5000), connection('paper-3', 'pod-a', 5000)] });
  expect(quarantinePods(config)).toEqual(['pod-a', 'pod-b']);
});

it('adds pods with a folder on disk, sorted, once each, and ignores plain files', () => {
  const root = join(stateDir, 'custom');
  const config = parseConfig({ stateDir, depth: { quarantineDir: root }, connections: [connection('paper-1', 'pod-m', 5000)] });
  mkdirSync(join(root, 'pod-z'), { recursive: true });
  mkdirSync(join(root, 'pod-a'));
  mkdirSync(join(root, 'pod-m'));
  writeFileSync(join(root, 'pod-file'), 'not a pod');
  writeFileSync(join(root, 'README'), 'not a pod');
  // The default root is not looked at once another is configured.
  mkdirSync(join(stateDir, 'quarantine', 'pod-default'), { recursive: true });
  expect(quarantinePods(config)).toEqual(['pod-a', 'pod-m', 'pod-z']);
});
