/**
 * Depth throughput of the simulated gateway: one websocket client, three ladders at a high rate,
 * frames per second received (and checked for sequence gaps). Not a test; run with
 *   npx tsx bench/simThroughput.ts [framesPerSecondPerLadder=20000] [seconds=5] [--plain-http]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startSimulator } from '../sim';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const perLadder = Number(args[0] ?? 20_000);
const seconds = Number(args[1] ?? 5);
const tls = !process.argv.includes('--plain-http');
const ACCOUNT = 'DU999001';
const CONIDS = [265598, 8314, 272093];

function post(base: string, path: string, body: object): Promise<string> {
  const text = JSON.stringify(body);
  const fn = base.startsWith('https') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = fn(new URL(path, base), { method: 'POST', rejectUnauthorized: false, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end(text);
  });
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'ibflow-simbench-'));
  const sim = await startSimulator({
    port: 0,
    stateDir,
    tls,
    users: [{ username: 'benchpaper', password: 'bench-pw', mode: 'paper', accounts: [ACCOUNT] }],
    authDelayMs: 0,
    pacing: { enabled: false },
    dailyReset: null,
    depth: { framesPerSecond: perLadder, levels: 5 },
  });
  try {
    const step1 = JSON.parse(await post(sim.url, '/sso/Authenticator', { username: 'benchpaper', password: 'bench-pw', paper: true })) as { tx: string };
    await post(sim.url, '/sso/Dispatcher', { tx: step1.tx });
    await new Promise((r) => setTimeout(r, 100));
    const ws = new WebSocket(`${sim.url.replace(/^http/, 'ws')}/v1/api/ws`, { rejectUnauthorized: false });
    let frames = 0;
    let bytes = 0;
    let gaps = 0;
    const lastSeq = new Map<string, number>();
    let counting = false;
    ws.on('message', (data: Buffer) => {
      if (!counting) return;
      const text = data.toString('utf8');
      if (!text.startsWith('{"topic":"sbd+')) return;
      const frame = JSON.parse(text) as { _simSub: string; _simSeq: number };
      const prev = lastSeq.get(frame._simSub);
      if (prev !== undefined && frame._simSeq !== prev + 1) gaps += 1;
      lastSeq.set(frame._simSub, frame._simSeq);
      frames += 1;
      bytes += data.length;
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    for (const conid of CONIDS) ws.send(`sbd+${ACCOUNT}+${conid}`);
    await new Promise((r) => setTimeout(r, 500)); // warm-up
    counting = true;
    const started = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    counting = false;
    const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
    ws.close();
    const rate = frames / elapsedS;
    process.stdout.write(
      `${tls ? 'wss' : 'ws'}: ${CONIDS.length} ladders at ${perLadder}/s each (target ${CONIDS.length * perLadder}/s): ` +
        `received ${frames} frames in ${elapsedS.toFixed(2)} s = ${Math.round(rate)} frames/s, ` +
        `${(bytes / elapsedS / 1e6).toFixed(1)} MB/s, sequence gaps ${gaps}\n`,
    );
  } finally {
    await sim.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
