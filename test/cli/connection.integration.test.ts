/**
 * `ibflow connection …` and config errors, driven as a person would: a spawned CLI, prompts answered
 * through a pseudo-terminal, scripts feeding stdin. No Temporal here (its address points at a port
 * nobody listens on), so only the config and secret-store side is exercised; test/cli/lifecycle
 * covers the running system.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../../src/util/freePort';
import { DOWN, PtySession, plain, runCli, transcript } from './support/cli';

jest.setTimeout(180_000);

const PASSWORD = 'CANARY-pw-4c1a9e';
const CODE = 'JBSW Y3DP EHPK 3PXP'; // shown grouped, as IBKR does
const CODE_NORMALISED = 'JBSWY3DPEHPK3PXP';
const NEW_CODE = 'KRSXG5CTMVRXEZLU'; // another valid activation code
const CANARIES = [PASSWORD, CODE_NORMALISED, NEW_CODE, 'jbsw y3dp', 'krsxg5ct'];

let dir: string;
let configPath: string;
let cfg: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ibflow-cli-conn-'));
  configPath = join(dir, 'ibflow.yaml');
  const deadPort = await freePort();
  writeFileSync(configPath, `# my own comment, kept across edits\ntemporal: { address: "127.0.0.1:${deadPort}" }\nconnections: []\n`);
  cfg = ['--config', configPath];
});

afterAll(() => {
  const everything = transcript.join('\n');
  for (const c of CANARIES) expect(everything.toLowerCase()).not.toContain(c.toLowerCase());
  rmSync(dir, { recursive: true, force: true });
});

const secrets = () => JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')) as Record<string, string>;
const config = () => parseYaml(readFileSync(configPath, 'utf8')) as { connections: Record<string, unknown>[] };

test('--help of every command shows examples; exit codes are listed', async () => {
  const top = await runCli(['--help']);
  expect(top.code).toBe(0);
  expect(top.stdout).toContain('Exit codes: 0 ok, 1 failure, 2 bad usage or config, 3 not found');
  for (const cmd of [
    ['connection', 'add'],
    ['connection', 'list'],
    ['connection', 'rotate-code'],
    ['connection', 'remove'],
    ['session', 'status'],
    ['session', 'relogin'],
    ['session', 'pause'],
    ['depth', 'tail'],
    ['depth', 'query', 'spread'],
    ['doctor'],
  ]) {
    const res = await runCli([...cmd, '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Examples?:/);
  }
  expect((await runCli(['connection', 'frobnicate'])).code).toBe(2);
});

test('interactive add: asks for everything, hides the password and the code, stores them 0600', async () => {
  const pty = new PtySession(['connection', 'add', ...cfg]);
  await pty.answer(/Account mode/, DOWN); // paper → live
  await pty.answer(/IBKR username/, 'Trader1');
  await pty.answer(/Connection id/, 'my-live');
  await pty.answer(/Pod/, 'pod-b');
  await pty.answer(/Gateway URL/, 'https://gateway.example.com:5000');
  await pty.waitFor(/must be local to the pod/); // refused at once, asked again
  pty.write('\x15'); // Ctrl-U clears the line
  for (let i = 0; i < 40; i++) pty.write('\x7f');
  await pty.answer(/must be local to the pod/, 'https://127.0.0.1:5001');
  await pty.answer(/self-signed certificate/, 'y');
  await pty.answer(/Depth instrument/, '8314');
  await pty.answer(/IBKR password/, PASSWORD);
  await pty.answer(/Activation code/, 'not-a-code');
  await pty.waitFor(/activation code must have 16 to 32 characters/);
  for (let i = 0; i < 20; i++) pty.write('\x7f');
  await pty.answer(/activation code must have 16 to 32 characters/, CODE);
  expect(await pty.exit()).toBe(0);
  const text = plain(pty.output);
  expect(text).toContain('activation code accepted');
  expect(text).toContain('saved connection "my-live" (live, user Trader1, pod pod-b)');
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain('JBSW Y3DP');

  expect(statSync(join(dir, 'secrets.json')).mode & 0o777).toBe(0o600);
  expect(secrets()).toEqual({ 'my-live/password': PASSWORD, 'my-live/totp': CODE_NORMALISED });
  expect(readFileSync(configPath, 'utf8')).toContain('# my own comment, kept across edits');
  expect(config().connections).toEqual([
    {
      id: 'my-live',
      mode: 'live',
      username: 'Trader1',
      passwordRef: 'file:my-live/password',
      totpSecretRef: 'file:my-live/totp',
      pod: 'pod-b',
      gateway: { url: 'https://127.0.0.1:5001', verifyTls: false },
      instruments: [{ conid: 8314 }],
    },
  ]);
});

test('scripted add: flags + stdin, and every mistake is a clear exit-2 error that changes nothing', async () => {
  const base = ['connection', 'add', ...cfg, '--mode', 'paper', '--username', 'paper1', '--id', 'my-paper', '--pod', 'pod-a', '--gateway', 'https://localhost:5000'];
  const before = readFileSync(configPath, 'utf8');
  const cases: [string[], string, RegExp][] = [
    [['--verify-tls', 'maybe'], `${PASSWORD}\n`, /--verify-tls must be true or false/],
    [['--instrument', 'AAPL'], `${PASSWORD}\n`, /--instrument: "AAPL" is not a contract id/],
    [['--pod', 'Pod A'], `${PASSWORD}\n`, /--pod: use lower-case letters/],
    [['--gateway', 'https://10.0.0.5:5000'], `${PASSWORD}\n`, /--gateway: the gateway must run next to the pod worker/],
    [['--gateway', 'https://ibgw:5000', '--verify-tls', 'false'], `${PASSWORD}\n`, /--verify-tls: verifyTls: false is only allowed for localhost/],
    [['--username', 'TRADER1'], `${PASSWORD}\n`, /--username: username already used by connections\[0\]/],
    [['--id', 'my-live'], `${PASSWORD}\n`, /--id: connection "my-live" already exists/],
    [['--password-ref', PASSWORD], `${PASSWORD}\n`, /--password-ref: must look like "file:<name>"/],
    [['--code-stdin'], `${PASSWORD}\n${CODE}\n`, /paper connections have no activation code/],
    [[], '\n', /the password is empty/],
    [[], '', /stdin ended before the password/],
  ];
  for (const [extra, stdin, message] of cases) {
    const res = await runCli([...base, ...extra, '--password-stdin'], { stdin });
    expect({ extra, code: res.code }).toEqual({ extra, code: 2 });
    expect(res.stderr).toMatch(message);
  }
  const noTerminal = await runCli(['connection', 'add', ...cfg, '--mode', 'paper']);
  expect(noTerminal.code).toBe(2);
  expect(noTerminal.stderr).toMatch(/missing --username .*no terminal to ask/);

  const live = ['connection', 'add', ...cfg, '--mode', 'live', '--username', 'live2', '--id', 'live-two', '--pod', 'pod-a', '--gateway', 'https://localhost:5000'];
  for (const [stdin, message] of [
    [`${PASSWORD}\nJBSWY3DP\n`, /16 to 32 characters \(has 8\)/],
    [`${PASSWORD}\nJBSWY3DPEHPK3PX1\n`, /base32/],
    [`${PASSWORD}\n`, /stdin ended before the activation code/],
  ] as const) {
    const res = await runCli([...live, '--password-stdin', '--code-stdin'], { stdin });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
  }
  expect(readFileSync(configPath, 'utf8')).toBe(before);
  expect(Object.keys(secrets())).toEqual(['my-live/password', 'my-live/totp']);

  const ok = await runCli([...base, '--verify-tls', 'false', '--instrument', '265598@NASDAQ', '--password-stdin'], { stdin: `${PASSWORD}-paper\n` });
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain('saved connection "my-paper"');
  expect(secrets()['my-paper/password']).toBe(`${PASSWORD}-paper`);
});

test('list shows refs and presence, never values; --json too', async () => {
  const table = await runCli(['connection', 'list', ...cfg]);
  expect(table.code).toBe(0);
  expect(table.stdout).toContain('file:my-live/totp ✓');
  const json = await runCli(['connection', 'list', ...cfg, '--json']);
  const rows = JSON.parse(json.stdout) as { id: string; secrets: Record<string, { ref: string; present: string }> }[];
  expect(rows.map((r) => r.id)).toEqual(['my-live', 'my-paper']);
  expect(rows[0]!.secrets).toEqual({ password: { ref: 'file:my-live/password', present: 'present' }, activationCode: { ref: 'file:my-live/totp', present: 'present' } });
  expect(rows[1]!.secrets.activationCode).toBeUndefined();
});

test('rotate-code: asked twice in the terminal, verified, stored; the password rotates from stdin', async () => {
  const pty = new PtySession(['connection', 'rotate-code', 'my-live', ...cfg]);
  await pty.answer(/Activation code/, NEW_CODE.toLowerCase());
  await pty.answer(/Activation code again/, NEW_CODE);
  expect(await pty.exit()).toBe(0);
  expect(plain(pty.output)).toContain('activation code accepted');
  expect(plain(pty.output)).toContain('the next login uses it');
  expect(secrets()['my-live/totp']).toBe(NEW_CODE);

  const paper = await runCli(['connection', 'rotate-code', 'my-paper', ...cfg, '--code-stdin'], { stdin: `${NEW_CODE}\n` });
  expect(paper.code).toBe(2);
  expect(paper.stderr).toMatch(/paper connection without an activation code/);
  const unknown = await runCli(['connection', 'rotate-code', 'nope', ...cfg, '--code-stdin'], { stdin: `${NEW_CODE}\n` });
  expect(unknown.code).toBe(3);
  expect(unknown.stderr).toContain('unknown connection "nope" (configured: my-live, my-paper)');

  const pw = await runCli(['connection', 'rotate-password', 'my-paper', ...cfg, '--password-stdin'], { stdin: `${PASSWORD}-2\n` });
  expect(pw.code).toBe(0);
  expect(secrets()['my-paper/password']).toBe(`${PASSWORD}-2`);
});

test('config errors exit 2 and name the path; loose secret-file permissions are reported', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'connections:\n  - id: x\n    mode: live\n    username: u\n    passwordRef: file:x/pw\n    pod: pod-a\n    gateway: { url: "https://localhost:5000", verifyTLS: false }\n');
  const res = await runCli(['connection', 'list', '--config', bad]);
  expect(res.code).toBe(2);
  expect(res.stderr).toContain('connections.0.gateway: unknown field "verifyTLS" — did you mean "verifyTls"?');
  const env = await runCli(['connection', 'list', ...cfg], { env: { IBFLOW_TEMPORAL_ADDRESS: 'no-port' } });
  expect(env.code).toBe(2);
  expect(env.stderr).toContain('temporal.address (from IBFLOW_TEMPORAL_ADDRESS): must be host:port');
  const missing = await runCli(['connection', 'list', '--config', join(dir, 'none.yaml')]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/cannot read config .*ENOENT \(create it with `ibflow connection add`/);

  chmodSync(join(dir, 'secrets.json'), 0o644);
  try {
    const loose = await runCli(['connection', 'list', ...cfg]);
    expect(loose.stdout).toContain('unreadable');
    expect(loose.stderr).toContain('chmod 600');
    const rotate = await runCli(['connection', 'rotate-password', 'my-paper', ...cfg, '--password-stdin'], { stdin: `${PASSWORD}\n` });
    expect(rotate.code).toBe(1);
    expect(rotate.stderr).toMatch(/refusing to read .* readable by group or others/);
  } finally {
    chmodSync(join(dir, 'secrets.json'), 0o600);
  }
});

test('remove: asks in the terminal (no = nothing), refuses without --yes off a terminal, then removes entry and file secrets', async () => {
  const declined = new PtySession(['connection', 'remove', 'my-paper', ...cfg]);
  await declined.answer(/remove "my-paper"/, 'n');
  expect(await declined.exit()).toBe(0);
  expect(plain(declined.output)).toContain('nothing removed');
  expect(config().connections).toHaveLength(2);

  const scripted = await runCli(['connection', 'remove', 'my-paper', ...cfg]);
  expect(scripted.code).toBe(2);
  expect(scripted.stderr).toContain('pass --yes');
  expect((await runCli(['connection', 'remove', 'ghost', ...cfg, '--yes'])).code).toBe(3);

  const pty = new PtySession(['connection', 'remove', 'my-paper', ...cfg]);
  await pty.answer(/remove "my-paper"/, 'y');
  // Temporal is unreachable here: the entry and secrets go, the exit code says the workflows could not be stopped.
  expect(await pty.exit()).toBe(1);
  const text = plain(pty.output);
  expect(text).toContain('removed "my-paper"');
  expect(text).toContain('deleted file:my-paper/password');
  expect(text).toMatch(/could not be stopped: cannot reach Temporal/);
  expect(config().connections.map((c) => c.id)).toEqual(['my-live']);
  expect(Object.keys(secrets()).sort()).toEqual(['my-live/password', 'my-live/totp']);
  expect(existsSync(configPath)).toBe(true);
});
