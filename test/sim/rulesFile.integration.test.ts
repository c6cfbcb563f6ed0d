/** `ibflow sim --rules FILE`: every session rule from a file, validated, and in force in the running simulator. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSimRulesFile } from '../../sim/rulesFile';
import { PAPER_USER } from './simTestKit';

jest.setTimeout(60_000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ibflow-sim-rules-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

test('reads YAML rules', () => {
  const path = write(
    'rules.yaml',
    ['idleTimeoutMs: 60000', 'dailyReset: { time: "23:45", timeZone: Europe/Zurich }', 'maintenance: null', 'lockout: { maxFailures: 2 }', 'pacing: { penaltyMs: 60000 }', 'depth: { variant: { frames: delta } }'].join('\n'),
  );
  expect(loadSimRulesFile(path)).toEqual({
    idleTimeoutMs: 60_000,
    dailyReset: { time: '23:45', timeZone: 'Europe/Zurich' },
    maintenance: null,
    lockout: { maxFailures: 2 },
    pacing: { penaltyMs: 60_000 },
    depth: { variant: { frames: 'delta' } },
  });
});

test('reads the pacing modes and the tickle variant', () => {
  const path = write(
    'pacing.yaml',
    ['pacing: { mode: strict, penaltyMs: 600000, boxAfterViolations: 5, violationWindowMs: 30000, extendBoxOnRequest: true, retryAfter: remaining }', 'tickleWithoutSession: no-session-200'].join('\n'),
  );
  expect(loadSimRulesFile(path)).toEqual({
    pacing: { mode: 'strict', penaltyMs: 600_000, boxAfterViolations: 5, violationWindowMs: 30_000, extendBoxOnRequest: true, retryAfter: 'remaining' },
    tickleWithoutSession: 'no-session-200',
  });
});

test.each([
  ['an unknown pacing mode', 'pacing: { mode: harsh }', 'pacing.mode'],
  ['a zero violation threshold', 'pacing: { boxAfterViolations: 0 }', 'pacing.boxAfterViolations'],
  ['an unknown Retry-After policy', 'pacing: { retryAfter: always }', 'pacing.retryAfter'],
  ['an unknown tickle variant', 'tickleWithoutSession: 403', 'tickleWithoutSession'],
  ['an unknown rule', 'idleTimeout: 5', '(root)'],
  ['a bad time zone', 'dailyReset: { time: "00:00", timeZone: Mars/Olympus }', 'dailyReset.timeZone'],
  ['a bad window', 'maintenance: { start: "Friday 23:00", end: "Sat 03:00", timeZone: UTC }', 'maintenance.start'],
  ['a negative idle timeout', 'idleTimeoutMs: -1', 'idleTimeoutMs'],
  ['an unknown drop kind', 'randomDrop: { ratePerHour: 1, kind: vanish }', 'randomDrop.kind'],
])('%s is named in the error', (_what, yaml, field) => {
  expect(() => loadSimRulesFile(write('bad.yaml', yaml))).toThrow(new RegExp(`rules file .*: ${field.replace(/[.()]/g, '\\$&')}`));
});

async function startSimCli(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(__dirname, '../../cli/bin.js'), 'sim', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => reject(new Error(`ibflow sim exited ${code}: ${out}`)));
  });
  return { child, url };
}

async function statuses(url: string, n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => fetch(`${url}/v1/api/iserver/auth/status`).then((r) => r.status)));
}

test('a rule from the file is in force: a 2 requests/s pacing answers the third request at once with 429', async () => {
  const users = write('users.json', JSON.stringify({ users: [PAPER_USER] }));
  const rules = write('rules.json', JSON.stringify({ pacing: { globalPerSecond: 2, penaltyMs: 1000 } }));
  const strict = await startSimCli(['--port', '0', '--state-dir', join(dir, 'a'), '--users', users, '--plain-http', '--rules', rules]);
  const relaxed = await startSimCli(['--port', '0', '--state-dir', join(dir, 'b'), '--users', users, '--plain-http']);
  try {
    expect((await statuses(strict.url, 5)).filter((s) => s === 429).length).toBeGreaterThan(0);
    expect((await statuses(relaxed.url, 5)).filter((s) => s === 429)).toEqual([]); // IBKR's default: 10/s
  } finally {
    strict.child.kill('SIGTERM');
    relaxed.child.kill('SIGTERM');
  }
});
