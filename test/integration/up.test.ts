/**
 * `ibflow up` as a user runs it: a spawned process on its own ports and state dir, watched through
 * its output, stopped with Ctrl-C (SIGINT to its process group), then started again to resume.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sessionWorkflowId } from '../../src/contract/ids';
import { request as httpsRequest } from 'node:https';
import { freePort } from '../../src/util/freePort';
import { waitFor } from '../../src/util/waitFor';

jest.setTimeout(420_000);

const CLI = resolve(__dirname, '../../cli/bin.js');

interface Ports {
  temporal: number;
  ui: number;
  chHttp: number;
  chTcp: number;
  gateway: number;
  app: number;
}

/** A program on the pod calling the app port, which has a self-signed certificate on loopback. */
function insecurePost(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePost, reject) => {
    const req = httpsRequest(url, { method: 'POST', rejectUnauthorized: false, headers: { 'Content-Length': '0' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolvePost({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function twoConsecutiveFreePorts(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await portClosed(port + 1))) return port;
  }
}

function portClosed(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolvePort(false);
    });
    socket.once('error', () => resolvePort(true));
  });
}

function startUp(stateDir: string, ports: Ports): { child: ChildProcess; output: () => string; ready: Promise<void>; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    [
      CLI, 'up',
      '--state-dir', stateDir,
      '--temporal-port', String(ports.temporal),
      '--ui-port', String(ports.ui),
      '--clickhouse-port', String(ports.chHttp),
      '--clickhouse-tcp-port', String(ports.chTcp),
      '--gateway-port', String(ports.gateway),
      '--app-port', String(ports.app),
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = new Promise<void>((resolveReady, reject) => {
    const timer = setInterval(() => {
      if (out.includes('READY')) {
        clearInterval(timer);
        resolveReady();
      }
    }, 200);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`ibflow up exited (${code}) before READY:\n${out}`));
    });
  });
  ready.catch(() => undefined);
  return { child, output: () => out, ready, exited };
}

async function depthRows(chHttp: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${chHttp}/`, { method: 'POST', body: "SELECT count() FROM ibflow.depth WHERE kind = 'snapshot'" });
  return Number((await res.text()).trim());
}

async function sessionRunId(temporalPort: number, username: string): Promise<string> {
  const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
  try {
    const client = new Client({ connection });
    return (await client.workflow.getHandle(sessionWorkflowId(username)).describe()).runId;
  } finally {
    await connection.close();
  }
}

test('npm run up reaches streaming, stops cleanly on Ctrl-C and resumes the same workflows and data', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'ibflow-up-'));
  const ports: Ports = {
    temporal: await freePort(),
    ui: await freePort(),
    chHttp: await freePort(),
    chTcp: await freePort(),
    gateway: await twoConsecutiveFreePorts(),
    app: await twoConsecutiveFreePorts(),
  };
  const started: ChildProcess[] = [];
  try {
    const first = startUp(stateDir, ports);
    started.push(first.child);
    await first.ready;
    const text = first.output();
    expect(text).toContain('both sessions are usable and depth is streaming');
    expect(text).toContain(`http://127.0.0.1:${ports.ui}/namespaces/default/workflows`);
    expect(text).toContain(`http://127.0.0.1:${ports.chHttp}`);
    expect(text).toMatch(/SELECT .* FROM ibflow\.depth/);
    // The app port of each pod: a program's tickle is answered there, by ibflow, from the live session.
    expect(text).toContain(`App port pod-a   https://127.0.0.1:${ports.app}/v1/api`);
    expect(text).toContain(`App port pod-b   https://127.0.0.1:${ports.app + 1}/v1/api`);
    const tickle = await waitFor('a tickle through the app port', async () => {
      const r = await insecurePost(`https://127.0.0.1:${ports.app}/v1/api/tickle`).catch(() => null);
      return r && r.status === 200 ? r : null;
    }, 30_000);
    expect(JSON.parse(tickle.body)).toMatchObject({ iserver: { authStatus: { authenticated: true } } });
    const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
    expect(ui.status).toBe(200);

    const rowsThen = await depthRows(ports.chHttp);
    await new Promise((r) => setTimeout(r, 3000));
    const rowsNow = await depthRows(ports.chHttp);
    expect(rowsNow).toBeGreaterThan(rowsThen); // continuously, not once
    const runId = await sessionRunId(ports.temporal, 'demopaper1');

    process.kill(-first.child.pid!, 'SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('ibflow: stopped');
    for (const port of [ports.temporal, ports.ui, ports.chHttp, ports.gateway, ports.gateway + 1, ports.app, ports.app + 1]) {
      expect(await portClosed(port)).toBe(true);
    }

    const second = startUp(stateDir, ports);
    started.push(second.child);
    await second.ready;
    expect(await sessionRunId(ports.temporal, 'demopaper1')).toBe(runId);
    expect(await depthRows(ports.chHttp)).toBeGreaterThanOrEqual(rowsNow);
    process.kill(-second.child.pid!, 'SIGINT');
    expect(await second.exited).toBe(0);
  } finally {
    for (const child of started) {
      if (child.exitCode === null) {
        try {
          process.kill(-child.pid!, 'SIGKILL'); // the whole group: up and every service it started
        } catch {
          // already gone
        }
      }
    }
    rmSync(stateDir, { recursive: true, force: true });
  }
});
