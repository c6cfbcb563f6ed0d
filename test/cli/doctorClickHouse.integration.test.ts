/**
 * `ibflow doctor` checks each ClickHouse role's rights against a real 18.16 whose users.xml gives
 * some users less than they need: a read-only ingest user, a reader that can write, a reader kept
 * out of the database, a wrong password. Spawned CLI, passwords by `env:` reference.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/clickhouse/migrations';
import type { EmbeddedClickHouse } from '../../stack/embeddedClickHouse';
import { startPrivateClickHouse, type PrivateClickHouse } from '../../stack/privateClickHouse';
import { uniqueDatabase } from '../support/clickhouseServer';
import { runCli, transcript } from './support/cli';

jest.setTimeout(120_000);

const db = uniqueDatabase('ibflow_doctor');
const PASSWORDS = { ingest: 'ingest-canary-7f3a', reader: 'reader-canary-91bd', migrator: 'migrator-canary-c04e', weak: 'weak-canary-55e2' };
const passwordEnv = { CH_INGEST_PW: PASSWORDS.ingest, CH_READER_PW: PASSWORDS.reader, CH_MIGRATOR_PW: PASSWORDS.migrator, CH_WEAK_PW: PASSWORDS.weak };

let dir: string;
let clickhouse: PrivateClickHouse;
let server: EmbeddedClickHouse;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ibflow-doctor-ch-'));
  clickhouse = await startPrivateClickHouse(join(dir, 'ch'), {
    users: [
      { name: 'ibflow_ingest', password: PASSWORDS.ingest, readonly: 0, databases: [db] },
      { name: 'ibflow_reader', password: PASSWORDS.reader, readonly: 1, databases: [db] },
      { name: 'ibflow_migrator', password: PASSWORDS.migrator, readonly: 0, databases: [db] },
      { name: 'readonly_ingest', password: PASSWORDS.weak, readonly: 2, databases: [db] },
      { name: 'writing_reader', password: PASSWORDS.weak, readonly: 0, databases: [db] },
      { name: 'elsewhere_reader', password: PASSWORDS.weak, readonly: 1, databases: ['somewhere_else'] },
    ],
  });
  server = clickhouse.server;
  await migrate(clickhouse.client, { database: db });
});
afterAll(async () => {
  await clickhouse?.cleanup();
  rmSync(dir, { recursive: true, force: true });
  const all = transcript.join('');
  for (const p of Object.values(PASSWORDS)) expect(all).not.toContain(p);
});

type Users = Partial<Record<'ingest' | 'reader' | 'migrator', { username: string; passwordRef?: string }>>;

function configFile(users: Users | undefined, name: string): string {
  const usersYaml = users
    ? '  users:\n' +
      Object.entries(users)
        .map(([role, u]) => `    ${role}:\n      username: ${u.username}\n${u.passwordRef ? `      passwordRef: "${u.passwordRef}"\n` : ''}`)
        .join('')
    : '';
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `stateDir: ${dir}\nclickhouse:\n  url: ${server.url}\n  database: ${db}\n${usersYaml}connections: []\n`);
  return path;
}

const good: Users = {
  ingest: { username: 'ibflow_ingest', passwordRef: 'env:CH_INGEST_PW' },
  reader: { username: 'ibflow_reader', passwordRef: 'env:CH_READER_PW' },
  migrator: { username: 'ibflow_migrator', passwordRef: 'env:CH_MIGRATOR_PW' },
};

async function doctor(users: Users | undefined, name: string) {
  const res = await runCli(['doctor', '--config', configFile(users, name), '--skip', 'temporal,sessions,gateways,secrets,chromium', '--json'], { env: passwordEnv });
  const out = JSON.parse(res.stdout) as { ok: boolean; checks: { name: string; status: string; detail: string; fix?: string }[] };
  return { code: res.code, stderr: res.stderr, ok: out.ok, checks: Object.fromEntries(out.checks.map((c) => [c.name, c])) };
}

test('three users with their rights: every role ok, each naming what it proved', async () => {
  const r = await doctor(good, 'good');
  expect(r.checks['clickhouse ingest']).toEqual({
    name: 'clickhouse ingest',
    status: 'ok',
    detail: `user ibflow_ingest has INSERT on ${db}.depth, INSERT on ${db}.session_events, ALTER DELETE on ${db}.depth`,
  });
  expect(r.checks['clickhouse reader']).toMatchObject({ status: 'ok', detail: `user ibflow_reader has SELECT on ${db}.depth, SELECT on ${db}.session_events` });
  expect(r.checks['clickhouse migrator']).toMatchObject({ status: 'ok', detail: `user ibflow_migrator has CREATE TABLE, DROP TABLE on ${db}.*` });
  expect(r.checks['clickhouse']).toMatchObject({ status: 'ok' });
  expect([r.code, r.ok, r.stderr]).toEqual([0, true, '']);
});

test('a read-only ingest user: doctor names the missing INSERT and, on 18.16, the users.xml fix', async () => {
  const r = await doctor({ ...good, ingest: { username: 'readonly_ingest', passwordRef: 'env:CH_WEAK_PW' } }, 'ro-ingest');
  expect(r.checks['clickhouse ingest']).toMatchObject({
    status: 'fail',
    detail: expect.stringMatching(new RegExp(`^user readonly_ingest lacks INSERT on ${db}\\.depth \\(Code: 164`)),
    fix: expect.stringMatching(/^ClickHouse 18\.\S+ has no GRANT: in users\.xml give readonly_ingest a profile with readonly 0 and allow_databases including /),
  });
  expect(r.checks['clickhouse reader']).toMatchObject({ status: 'ok' });
  expect([r.code, r.ok]).toEqual([1, false]);
});

test('a reader that can write is a warning; a reader kept out of the database lacks SELECT', async () => {
  const writes = await doctor({ ...good, reader: { username: 'writing_reader', passwordRef: 'env:CH_WEAK_PW' } }, 'writing-reader');
  expect(writes.checks['clickhouse reader']).toMatchObject({ status: 'warn', detail: expect.stringMatching(new RegExp(`but can also INSERT into ${db}\\.depth$`)) });
  const away = await doctor({ ...good, reader: { username: 'elsewhere_reader', passwordRef: 'env:CH_WEAK_PW' } }, 'away-reader');
  // The server check runs as the reader too: it cannot list the tables either.
  expect(away.checks['clickhouse reader']).toMatchObject({ status: 'fail', detail: expect.stringMatching(new RegExp(`^user elsewhere_reader lacks SELECT on ${db}\\.depth \\(Code: 291`)) });
  expect(away.code).toBe(1);
});

test('a wrong password: the role cannot log in, and the fix names the reference, not the value', async () => {
  const r = await doctor({ ...good, migrator: { username: 'ibflow_migrator', passwordRef: 'env:CH_WEAK_PW' } }, 'wrong-password');
  expect(r.checks['clickhouse migrator']).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^user ibflow_migrator cannot log in: .*Code: 193/), fix: expect.stringContaining('env:CH_WEAK_PW') });
});

test('no clickhouse.users: the shared user is checked for ingest and reader, the migrator is not', async () => {
  const r = await doctor(undefined, 'shared');
  expect(r.checks['clickhouse ingest']).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^user default \(shared clickhouse\.username\) has INSERT/) });
  expect(r.checks['clickhouse reader']).toMatchObject({ status: 'ok' });
  expect(r.checks['clickhouse migrator']).toBeUndefined();
  expect(r.code).toBe(0);
});
