/**
 * What the app port costs a user's program, measured in one run against the same simulator,
 * alternating direct and through-the-port requests so both see the same machine load:
 *   (1) latency of a request within IBKR's limits that the port forwards (`GET /iserver/accounts`,
 *       4 a second through the port, so the pacer never makes it wait), and of a `tickle` the
 *       port answers from ibflow's own fresh knowledge — p50/p99 direct vs port, and the ratio;
 *   (2) websocket depth frames/s on N ladders at a high rate, direct vs port, the ratio, CPU per
 *       frame, and sequence gaps (`_simSeq`).
 * The simulator (TLS, pacing off so only ibflow's pacer could throttle), the app port with a real
 * PodGateway (real pacer and penalty box) and the clients share one Node process. Not a test; run
 *   npx tsx bench/appPort.bench.ts [--seconds 15] [--requests 160] [--ladders 3] [--fps 20000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { startSimulator, type SimUser } from '../sim';
import { startAppPort, type AppPortHandle } from '../src/appPort/appPortServer';
import type { SessionStatus } from '../src/contract/sessionStatus';
import { PodGateway } from '../src/gateway/podGateway';
import { metrics } from '../src/metrics/metrics';
import { numberArg } from './benchSupport';

const WS_SECONDS = numberArg('seconds', 15, { fraction: true });
const REQUESTS = numberArg('requests', 160);
const LADDERS = numberArg('ladders', 3);
const FPS = numberArg('fps', 20_000, { fraction: true });
/** One round (one request of each kind, each way) every 250 ms: 4 forwarded requests a second, half the pacer's 8/s. */
const ROUND_MS = 250;
const WARMUP_ROUNDS = 10;
/** Websocket time per target is cut into slices of about this length, alternating direct and port. */
const SLICE_S = 5;
const WS_WARMUP_S = 2;
/** ibflow's own keepalive in the bench: keeps its tickle answer (the port's local answer) well inside 60 s. */
const TICKLE_EVERY_MS = 20_000;
const POD = 'pod-bench';
const ACCOUNT = 'DU777001';
const USER: SimUser = { username: 'benchapps', password: 'bench-pw', mode: 'paper', accounts: [ACCOUNT] };
const CONIDS = Array.from({ length: LADDERS }, (_, i) => [265598, 8314, 272093][i] ?? 100_000 + i);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  ms: number;
  local: boolean;
  body: string;
}

/** One HTTPS request on a keep-alive agent (as a client library's session would), timed from send to the last body byte. */
function timed(agent: Agent, base: string, method: 'GET' | 'POST', path: string, body?: string): Promise<Answer> {
  const headers: Record<string, string | number> = body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(new URL(path, base), { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, local: res.headers['x-ibflow-answer'] === 'local', body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The simulator's SSO login as its login page posts it (paper: password only). */
async function login(base: string): Promise<void> {
  const agent = new Agent({ rejectUnauthorized: false });
  const first = JSON.parse((await timed(agent, base, 'POST', '/sso/Authenticator', JSON.stringify({ username: USER.username, password: USER.password, paper: true }))).body) as { status: string; tx?: string };
  if (first.status !== 'ok') throw new Error(`simulator login failed: ${first.status}`);
  await timed(agent, base, 'POST', '/sso/Dispatcher', JSON.stringify({ tx: first.tx }));
  agent.destroy();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

interface Latencies {
  samples: number[];
  statuses: Map<number, number>;
  local: number;
}
const newLatencies = (): Latencies => ({ samples: [], statuses: new Map(), local: 0 });
function record(l: Latencies, a: Answer): void {
  l.samples.push(a.ms);
  l.statuses.set(a.status, (l.statuses.get(a.status) ?? 0) + 1);
  if (a.local) l.local += 1;
}

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

type Kind = 'accounts' | 'tickle';
type Way = 'direct' | 'port';

async function measureLatency(direct: string, port: string): Promise<Record<`${Kind}:${Way}`, Latencies>> {
  const agents: Record<Way, Agent> = { direct: new Agent({ keepAlive: true, rejectUnauthorized: false }), port: new Agent({ keepAlive: true, rejectUnauthorized: false }) };
  const bases: Record<Way, string> = { direct, port };
  const out = { 'accounts:direct': newLatencies(), 'accounts:port': newLatencies(), 'tickle:direct': newLatencies(), 'tickle:port': newLatencies() };
  const send = (kind: Kind, way: Way) => (kind === 'accounts' ? timed(agents[way], bases[way], 'GET', '/v1/api/iserver/accounts') : timed(agents[way], bases[way], 'POST', '/v1/api/tickle', '{}'));
  const order: [Kind, Way][] = [
    ['accounts', 'direct'],
    ['accounts', 'port'],
    ['tickle', 'direct'],
    ['tickle', 'port'],
  ];
  for (let round = 0; round < WARMUP_ROUNDS + REQUESTS; round++) {
    const started = performance.now();
    // A fresh order every round: the first request after the pause is the slowest, and none may always get that place.
    for (const [kind, way] of shuffled(order)) {
      const answer = await send(kind, way);
      if (round >= WARMUP_ROUNDS) record(out[`${kind}:${way}`], answer);
    }
    await sleep(Math.max(0, ROUND_MS - (performance.now() - started)));
  }
  agents.direct.destroy();
  agents.port.destroy();
  return out;
}

interface Slice {
  frames: number;
  bytes: number;
  gaps: number;
  seconds: number;
  cpuUs: number;
}

/**
 * One websocket as src/gateway/gatewaySocket.ts opens it (the `api` cookie, then the session as
 * the first message), subscribed to every ladder; frames counted for `seconds` after a warm-up.
 * The sequence is read from the frame's tail (`"_simSeq":N,"_simSub":"ID"}`) rather than a full
 * JSON.parse, so the client's own work stays small next to the transport being measured.
 */
async function wsSlice(base: string, session: string, seconds: number): Promise<Slice> {
  const url = `${base.replace(/^https/, 'wss')}/v1/api/ws`;
  const ws = new WebSocket(url, { rejectUnauthorized: false, headers: { Cookie: `api=${encodeURIComponent(JSON.stringify({ session }))}` } });
  const lastSeq = new Map<string, number>();
  const tail = /"_simSeq":(\d+),"_simSub":"([^"]+)"\}$/;
  let counting = false;
  let frames = 0;
  let bytes = 0;
  let gaps = 0;
  let refusedLadder = false;
  ws.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    if (!text.startsWith('{"topic":"sbd+')) return;
    const m = tail.exec(text);
    if (!m) {
      if (text.includes('"error"')) refusedLadder = true; // the previous socket's ladders not yet released
      return;
    }
    const seq = Number(m[1]);
    const prev = lastSeq.get(m[2]!);
    if (prev !== undefined && seq !== prev + 1) gaps += 1;
    lastSeq.set(m[2]!, seq);
    if (!counting) return;
    frames += 1;
    bytes += data.length;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ session }));
  const deadline = Date.now() + 5_000;
  while (lastSeq.size < CONIDS.length) {
    if (Date.now() > deadline) throw new Error(`websocket via ${base}: ${lastSeq.size} of ${CONIDS.length} ladders streaming after 5 s`);
    refusedLadder = false;
    for (const conid of CONIDS) ws.send(`sbd+${ACCOUNT}+${conid}`); // repeating a live subscription is a no-op
    await sleep(refusedLadder ? 200 : 100);
  }
  await sleep(500); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  counting = true;
  await sleep(seconds * 1000);
  counting = false;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await new Promise<void>((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
  return { frames, bytes, gaps, seconds: elapsed, cpuUs: cpu.user + cpu.system };
}

function sum(slices: Slice[]): Slice {
  return slices.reduce((a, s) => ({ frames: a.frames + s.frames, bytes: a.bytes + s.bytes, gaps: a.gaps + s.gaps, seconds: a.seconds + s.seconds, cpuUs: a.cpuUs + s.cpuUs }), { frames: 0, bytes: 0, gaps: 0, seconds: 0, cpuUs: 0 });
}

async function counterTotal(counter: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await counter.get()).values.reduce((s, v) => s + v.value, 0);
}

const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const statuses = (l: Latencies) => [...l.statuses].map(([s, n]) => `${n}×${s}`).join(' ');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
  const cpu = cpus();
  console.log(`CPU: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length}; load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'ibflow-appport-bench-'));
  const sim = await startSimulator({
    port: 0,
    stateDir: join(dir, 'sim'),
    tls: true,
    users: [USER],
    authDelayMs: 0,
    pacing: { enabled: false },
    dailyReset: null,
    depth: { framesPerSecond: FPS, levels: 5, maxLaddersPerAccount: Math.max(3, LADDERS) },
  });
  const usable: SessionStatus = { connectionId: 'bench-apps', state: 'usable', since: new Date().toISOString(), lastTickleAt: null, lastLoginAt: null, failures: 0, nextAttemptAt: null, reason: 'benchmark' };
  const gateway = new PodGateway({ pod: POD, baseUrl: sim.url, verifyTls: false, sessionStatus: async () => usable });
  let appPort: AppPortHandle | null = null;
  let keepalive: NodeJS.Timeout | null = null;
  let portWarnings = 0;
  try {
    await login(sim.url);
    // ibflow's own tickle: the brokerage session is open, and the port has fresh knowledge to answer from.
    let session = '';
    const openBy = Date.now() + 10_000;
    for (;;) {
      const t = await gateway.client.tickle();
      if (t.authStatus.authenticated) {
        session = t.session;
        break;
      }
      if (Date.now() > openBy) throw new Error('no brokerage session after 10 s');
      await sleep(2_100); // the pacer spaces tickles 2 s apart anyway
    }
    await gateway.client.authStatus();
    while (gateway.safeStatus() === null) await sleep(10);
    keepalive = setInterval(() => void gateway.client.tickle().catch(() => undefined), TICKLE_EVERY_MS);
    appPort = await startAppPort({
      pod: POD,
      gateway,
      port: 0,
      certDir: join(dir, 'app-port-cert'),
      log: { info: () => undefined, warn: () => void (portWarnings += 1) },
    });

    console.log(`(1) latency: ${REQUESTS} rounds (after ${WARMUP_ROUNDS} warm-up), one round every ${ROUND_MS} ms, keep-alive connections`);
    const lat = await measureLatency(sim.url, appPort.url);
    const queued = await counterTotal(metrics.appPortQueued);
    const refused = await counterTotal(metrics.appPortRefused);

    const slices = Math.max(1, Math.round(WS_SECONDS / SLICE_S));
    const sliceS = WS_SECONDS / slices;
    console.log(`(2) websocket: ${CONIDS.length} ladder(s) × ${FPS} frames/s offered, ${slices} slice(s) of ${sliceS.toFixed(1)} s per way, alternating`);
    // An unmeasured slice each way first: JIT and TLS session warm-up would otherwise count against whichever goes first.
    for (const way of ['direct', 'port'] as Way[]) await wsSlice(way === 'direct' ? sim.url : appPort.url, session, WS_WARMUP_S);
    const ws: Record<Way, Slice[]> = { direct: [], port: [] };
    for (let i = 0; i < slices; i++) {
      for (const way of (i % 2 === 0 ? ['direct', 'port'] : ['port', 'direct']) as Way[]) {
        const s = await wsSlice(way === 'direct' ? sim.url : appPort.url, session, sliceS);
        ws[way].push(s);
        console.log(`    ${way.padEnd(6)} slice ${i + 1}: ${Math.round(s.frames / s.seconds)} frames/s, gaps ${s.gaps}`);
      }
    }

    const rows: string[][] = [['What', 'Direct', 'Through the port', 'Port / direct']];
    for (const kind of ['accounts', 'tickle'] as Kind[]) {
      const d = [...lat[`${kind}:direct`].samples].sort((a, b) => a - b);
      const p = [...lat[`${kind}:port`].samples].sort((a, b) => a - b);
      const what = kind === 'accounts' ? 'GET /iserver/accounts (forwarded) p50 / p99, ms' : 'POST /tickle (port: answered locally) p50 / p99, ms';
      rows.push([what, `${fmt(percentile(d, 0.5))} / ${fmt(percentile(d, 0.99))}`, `${fmt(percentile(p, 0.5))} / ${fmt(percentile(p, 0.99))}`, `${ratio(percentile(p, 0.5), percentile(d, 0.5))} / ${ratio(percentile(p, 0.99), percentile(d, 0.99))}`]);
    }
    const d = sum(ws.direct);
    const p = sum(ws.port);
    const range = (slices: Slice[]) => {
      const rates = slices.map((s) => Math.round(s.frames / s.seconds));
      return slices.length > 1 ? ` (slices ${Math.min(...rates)}–${Math.max(...rates)})` : '';
    };
    rows.push([`websocket frames/s (${CONIDS.length} × ${FPS} offered)`, `${Math.round(d.frames / d.seconds)}${range(ws.direct)}`, `${Math.round(p.frames / p.seconds)}${range(ws.port)}`, ratio(p.frames / p.seconds, d.frames / d.seconds)]);
    rows.push(['websocket MB/s', (d.bytes / d.seconds / 1e6).toFixed(1), (p.bytes / p.seconds / 1e6).toFixed(1), ratio(p.bytes / p.seconds, d.bytes / d.seconds)]);
    rows.push(['process CPU per frame, µs (sim + port + client)', (d.cpuUs / d.frames).toFixed(1), (p.cpuUs / p.frames).toFixed(1), ratio(p.cpuUs / p.frames, d.cpuUs / d.frames)]);
    rows.push(['frame sequence gaps', String(d.gaps), String(p.gaps), '']);
    console.log(table(rows));
    console.log(
      `checks: accounts answers direct ${statuses(lat['accounts:direct'])}, port ${statuses(lat['accounts:port'])} (answered locally ${lat['accounts:port'].local}); ` +
        `tickles direct ${statuses(lat['tickle:direct'])}, port ${statuses(lat['tickle:port'])} (answered locally ${lat['tickle:port'].local}/${lat['tickle:port'].samples.length}); ` +
        `port requests that waited for the pacer ${queued}, refused locally ${refused}, port warnings ${portWarnings}`,
    );
    console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    if (keepalive) clearInterval(keepalive);
    await appPort?.close();
    await gateway.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
