/**
 * A new user's whole path from the terminal alone, on the real stack (Temporal, ClickHouse,
 * Chromium, simulated gateways): add a live connection interactively, watch it become usable and
 * stream depth, rotate its activation code, force a re-login, pause/resume, prove that a rotated
 * secret is picked up by the running session without restarts, query depth, run the doctor, and
 * remove the connection. Every byte the CLI printed is checked for the secrets at the end.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configPathIn, DEMO_CONNECTIONS } from '../../stack/demoSetup';
import { loadConfig } from '../../src/config/loadConfig';
import type { IbflowConfig } from '../../src/config/schema';
import { FileSecretStore } from '../../src/secrets/fileSecretStore';
import { secretFilePath } from '../../src/secrets/secretResolver';
import { sessionWorkflowId } from '../../src/contract/ids';
import type { SessionStatus } from '../../src/contract/sessionStatus';
import { statusQuery } from '../../workflows/messages';
import { startTestStack, waitFor, type TestStack } from '../support/testStack';
import { DOWN, PtySession, plain, runCli, transcript } from './support/cli';

jest.setTimeout(600_000);

const [paper, live] = DEMO_CONNECTIONS;
let stack: TestStack;
let cfg: string[];
const canaries: string[] = [];

beforeAll(async () => {
  stack = await startTestStack({
    // The workers read the config file on every call, as `ibflow worker` does, so connections
    // added or removed by the CLI apply to the running workers.
    editConfig: (c) => {
      const path = configPathIn(c.stateDir);
      return new Proxy(c, { get: (_t, key) => loadConfig(path)[key as keyof IbflowConfig] });
    },
  });
  cfg = ['--config', stack.configPath];
  const store = new FileSecretStore(secretFilePath(stack.stateDir));
  for (const name of [`${paper.id}/password`, `${live.id}/password`, `${live.id}/totp`]) canaries.push(await store.get(name));
});

afterAll(async () => {
  const everything = transcript.join('\n').toLowerCase();
  for (const c of canaries) expect(everything).not.toContain(c.toLowerCase());
  await stack?.stop();
});

const status = (username: string): Promise<SessionStatus> => stack.client.workflow.getHandle(sessionWorkflowId(username)).query(statusQuery);
const usable = (username: string) => waitFor(`${username} usable`, async () => (await status(username)).state === 'usable', 120_000);
const grouped = (code: string) => code.toLowerCase().replace(/(.{4})/g, '$1 ').trim();

test('replace the demo live connection by one added interactively, and start it', async () => {
  const store = new FileSecretStore(secretFilePath(stack.stateDir));
  const [password, code] = [await store.get(`${live.id}/password`), await store.get(`${live.id}/totp`)];
  const removed = await runCli(['connection', 'remove', live.id, ...cfg, '--yes']);
  expect(removed.code).toBe(0);

  const gateway = stack.sims.get(live.pod)!.url;
  const pty = new PtySession(['connection', 'add', ...cfg, '--start']);
  await pty.answer(/Account mode/, DOWN);
  await pty.answer(/IBKR username/, live.username);
  await pty.answer(/Connection id/, 'my-live');
  await pty.answer(/Pod/, live.pod);
  await pty.answer(/Gateway URL/, gateway);
  await pty.answer(/self-signed certificate/, 'y');
  await pty.answer(/Depth instrument/, String(live.conid));
  await pty.answer(/IBKR password/, password);
  await pty.answer(/Activation code/, grouped(code));
  expect(await pty.exit()).toBe(0);
  expect(plain(pty.output)).toContain('activation code accepted');
  expect(plain(pty.output)).toContain('session workflow ibkr-session:demolive1 (my-live, live) running');

  const started = await runCli(['start', ...cfg]); // the paper one too
  expect(started.code).toBe(0);
  await usable(live.username);
  await usable(paper.username);

  const table = await runCli(['session', 'status', ...cfg]);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/my-live\s*│ live\s*│ usable/);
  const json = JSON.parse((await runCli(['session', 'status', ...cfg, '--json'])).stdout) as { connectionId: string; status: SessionStatus }[];
  expect(json.map((r) => [r.connectionId, r.status.state])).toEqual([
    [paper.id, 'usable'],
    ['my-live', 'usable'],
  ]);
  expect((await runCli(['session', 'status', 'nope', ...cfg])).code).toBe(3);
});

test('watch its depth: one frame of the live book', async () => {
  const frame = await waitFor('a depth frame', async () => {
    const res = await runCli(['depth', 'tail', String(live.conid), ...cfg, '--once', '--json']);
    return res.code === 0 ? (JSON.parse(res.stdout) as { connection: string; bids: unknown[]; asks: unknown[] }) : null;
  }, 120_000, 2000);
  expect(frame.connection).toBe('my-live');
  expect(frame.bids.length).toBeGreaterThan(0);
  expect(frame.asks.length).toBeGreaterThan(0);
  const text = await runCli(['depth', 'tail', String(live.conid), ...cfg, '--once', '--levels', '3']);
  expect(text.stdout).toMatch(/conid 8314 · my-live/);
  expect(text.stdout).toMatch(/BID SIZE.*BID.*ASK.*ASK SIZE/);
  expect((await runCli(['depth', 'tail', '999999', ...cfg, '--once'])).code).toBe(3);
});

test('rotate the activation code, then force a re-login with progress; pause and resume', async () => {
  const code = await new FileSecretStore(secretFilePath(stack.stateDir)).get('my-live/totp');
  const rotated = await runCli(['connection', 'rotate-code', 'my-live', ...cfg, '--code-stdin', '--relogin'], { stdin: `${grouped(code)}\n` });
  expect(rotated.code).toBe(0);
  expect(rotated.stderr).toContain('activation code accepted');
  expect(rotated.stderr).toMatch(/logging_in — browser login with the authenticator-app code/);
  expect(rotated.stdout).toMatch(/my-live: usable — /);

  const paused = await runCli(['session', 'pause', 'my-live', ...cfg]);
  expect(paused.code).toBe(0);
  expect(paused.stdout).toMatch(/my-live: paused/);
  const refused = await runCli(['session', 'relogin', 'my-live', ...cfg]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/relogin refused: the session is paused; resume it first \(ibflow session resume my-live\)/);
  const resumed = await runCli(['session', 'resume', 'my-live', ...cfg, '--json']);
  expect(resumed.code).toBe(0);
  expect((JSON.parse(resumed.stdout) as SessionStatus).state).not.toBe('paused');
  await usable(live.username);
  const relogin = await runCli(['session', 'relogin', 'my-live', ...cfg, '--json']);
  expect(relogin.code).toBe(0);
  expect(JSON.parse(relogin.stdout)).toMatchObject({ connectionId: 'my-live', ok: true, state: 'usable' });
});

test('a rotated password is used by the running session at its next login (wrong, then right again)', async () => {
  const good = await new FileSecretStore(secretFilePath(stack.stateDir)).get(`${paper.id}/password`);
  const wrong = await runCli(['connection', 'rotate-password', paper.id, ...cfg, '--password-stdin', '--relogin'], { stdin: 'CANARY-wrong-password\n' });
  expect(wrong.code).toBe(1);
  expect(wrong.stdout).toMatch(/not usable \(manual_action_required\) — InvalidCredentials/);
  expect(wrong.stdout).not.toContain('CANARY-wrong-password');
  const right = await runCli(['connection', 'rotate-password', paper.id, ...cfg, '--password-stdin', '--relogin'], { stdin: `${good}\n` });
  expect(right.code).toBe(0);
  expect(right.stdout).toMatch(/demo-paper: usable/);
  canaries.push('CANARY-wrong-password');
});

test('depth queries over a time range', async () => {
  const rate = JSON.parse((await runCli(['depth', 'query', 'rate', ...cfg, '--from', '30m', '--json'])).stdout) as { instruments: { connection: string; conid: number; rows: number; rowsPerSecond: number }[] };
  expect(rate.instruments.find((r) => r.connection === 'my-live' && r.conid === live.conid)?.rows).toBeGreaterThan(0);
  const spread = JSON.parse((await runCli(['depth', 'query', 'spread', String(live.conid), ...cfg, '--from', '30m', '--interval', '10s', '--json'])).stdout) as {
    buckets: { avgSpread: number; frames: number }[];
  };
  expect(spread.buckets.length).toBeGreaterThan(0);
  expect(spread.buckets.every((b) => b.avgSpread > 0 && b.frames > 0)).toBe(true);
  const book = await runCli(['depth', 'query', 'book', String(live.conid), ...cfg, '--at', 'now', '--json']);
  expect(book.code).toBe(0);
  const uptime = JSON.parse((await runCli(['depth', 'query', 'uptime', ...cfg, '--from', '1h', '--json'])).stdout) as { connections: { connection: string; usableSeconds: number; logins: number }[] };
  const mine = uptime.connections.find((u) => u.connection === 'my-live');
  expect(mine?.usableSeconds).toBeGreaterThan(0);
  expect(mine?.logins).toBeGreaterThanOrEqual(2);
  const bad = await runCli(['depth', 'query', 'rate', ...cfg, '--from', 'yesterday-ish']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--from: cannot read "yesterday-ish" as a time');
});

test('doctor checks everything and passes on a healthy stack; a dead gateway fails with a fix', async () => {
  const res = await runCli(['doctor', ...cfg, '--json']);
  const report = JSON.parse(res.stdout) as { ok: boolean; checks: { name: string; status: string; detail: string; fix?: string }[] };
  expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  expect(res.code).toBe(0);
  expect(report.checks.map((c) => c.name)).toEqual(
    expect.arrayContaining(['temporal', 'clickhouse', 'chromium', 'control worker', `pod worker ${live.pod}`, 'gateway my-live', 'gateway my-live tls', 'gateway my-live clock', 'secrets my-live', 'session my-live']),
  );
  const broken = `${stack.configPath}.broken.yaml`;
  const raw = parseYaml(readFileSync(stack.configPath, 'utf8')) as { connections: { gateway: { url: string } }[] };
  raw.connections[0]!.gateway.url = 'https://127.0.0.1:1';
  writeFileSync(broken, JSON.stringify({ ...raw, stateDir: stack.stateDir }));
  const dead = await runCli(['doctor', '--config', broken, '--skip', 'chromium,temporal']);
  expect(dead.code).toBe(1);
  expect(dead.stdout).toMatch(/✗ gateway demo-paper: gateway not running: nothing listens at https:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  expect(dead.stdout).toMatch(/fix: start the Client Portal Gateway on pod pod-a/);
});

test('remove the connection from the terminal: its session stops, config and secrets are gone', async () => {
  const pty = new PtySession(['connection', 'remove', 'my-live', ...cfg]);
  await pty.answer(/remove "my-live"/, 'y');
  expect(await pty.exit()).toBe(0);
  expect(plain(pty.output)).toContain('stopped the session workflow ibkr-session:demolive1');
  const desc = await stack.client.workflow.getHandle(sessionWorkflowId(live.username)).describe();
  expect(desc.status.name).not.toBe('RUNNING');
  expect(loadConfig(stack.configPath).connections.map((c) => c.id)).toEqual([paper.id]);
  const left = Object.keys(JSON.parse(readFileSync(secretFilePath(stack.stateDir), 'utf8')) as object);
  expect(left.filter((k) => k.startsWith('my-live/'))).toEqual([]);
});
