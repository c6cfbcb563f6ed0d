/**
 * Three situations that used to look alike (issue "The simulator matches the real gateway's own
 * behaviour"), on the real stack against the simulator's expired certificate, as the real gateway
 * serves it: IBKR unreachable behind a running gateway, the gateway not running, and IBKR answering
 * with the session gone. Each is named in the session's status, by `doctor` and in the metrics;
 * while IBKR is unreachable no browser login starts and nothing is charged to the login budget,
 * and the session comes back by itself.
 */
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { startSimulator, type SimHandle } from '../../sim';
import { ibkrReachability, setIbkrReachability } from '../../sim/controlClient';
import { loadUsersFile } from '../../sim/usersFile';
import { runDoctor } from '../../cli/commands/doctor';
import { sessionWorkflowId } from '../../src/contract/ids';
import type { SessionStatus } from '../../src/contract/sessionStatus';
import { registry } from '../../src/metrics/metrics';
import { startConnectionWorkflows } from '../../src/operations/connectionWorkflows';
import { DEMO_CONNECTIONS } from '../../stack/demoSetup';
import { forceReloginSignal, statusQuery } from '../../workflows/messages';
import { simControl, startTestStack, waitFor, type TestStack } from '../support/testStack';

jest.setTimeout(300_000);

const [paper, live] = DEMO_CONNECTIONS;
const REPORT_AFTER_MS = 10_000;
let stack: TestStack;
let restarted: SimHandle | null = null;

const status = (username: string): Promise<SessionStatus | null> =>
  stack.client.workflow
    .getHandle(sessionWorkflowId(username))
    .query(statusQuery)
    .catch(() => null);
const loginStats = async (sim: SimHandle, username: string) =>
  (await simControl<{ logins: Record<string, { ok: number; failed: number }> }>(sim, 'GET', '/sim/control/stats')).logins[username] ?? { ok: 0, failed: 0 };

async function events(connection: string, sinceMs: number): Promise<{ state: string; reason: string }[]> {
  const rs = await stack.clickhouse.query({
    query: `SELECT state, reason FROM ${stack.config.clickhouse.database}.session_events WHERE connection = '${connection}' AND ts_ms >= ${sinceMs} ORDER BY ts_ms`,
    format: 'JSONEachRow',
  });
  return rs.json<{ state: string; reason: string }>();
}

async function depthRowsSince(connection: string, sinceMs: number): Promise<number> {
  const rs = await stack.clickhouse.query({
    query: `SELECT count() AS n FROM ${stack.config.clickhouse.database}.depth WHERE connection = '${connection}' AND kind != 'gap' AND received_ns > ${sinceMs}000000`,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string }>())[0]!.n);
}

async function reachGauge(pod: string): Promise<string | undefined> {
  const metric = await registry.getSingleMetric('ibflow_gateway_reach')?.get();
  return metric?.values.find((v) => v.labels.pod === pod && v.value === 1)?.labels.reach as string | undefined;
}

const gatewayDoctor = async (id: string) => {
  const checks = await runDoctor(stack.config, { skip: new Set(['temporal', 'sessions', 'clickhouse', 'secrets', 'chromium']) });
  return checks.find((c) => c.name === `gateway ${id}`)!;
};

beforeAll(async () => {
  stack = await startTestStack({
    editConfig: (c) => ({ ...c, session: { ...c.session, keepaliveIntervalMs: 5_000, outageReportAfterMs: REPORT_AFTER_MS } }),
  });
  await startConnectionWorkflows(stack.config, () => undefined);
  for (const c of [paper, live]) await waitFor(`${c.id} usable`, async () => ((await status(c.username))?.state === 'usable' ? true : null), 120_000);
});

afterAll(async () => {
  await restarted?.close();
  await stack?.stop();
});

test('the gateway serves the real one\'s certificate: self-signed "Client Portal Web API", expired in 2019 — and every client above worked through it', async () => {
  const sim = stack.sims.get(paper.pod)!;
  const cert = await new Promise<PeerCertificate>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: sim.port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
  expect(cert.subject.CN).toBe('Client Portal Web API');
  expect(new Date(cert.valid_to).getUTCFullYear()).toBe(2019);
  // The sessions became usable through it: the browser login, the REST client and the depth websocket.
  await waitFor('depth rows through it', async () => ((await depthRowsSince(paper.id, 0)) > 0 ? true : null), 60_000);
});

test('IBKR unreachable: unavailable with an outage named as such, reported past the threshold; no browser login, nothing charged; back by itself with one fresh login, IBKR having ended the session meanwhile', async () => {
  const sim = stack.sims.get(paper.pod)!;
  const from = Date.now();
  const before = await loginStats(sim, paper.username);
  await setIbkrReachability(sim, { reachable: false, forMs: 180_000 });
  try {
    const down = await waitFor('the outage seen', async () => {
      const s = await status(paper.username);
      return s?.state === 'unavailable' && s.outage?.kind === 'ibkr_unreachable' ? s : null;
    }, 60_000);
    expect(down.reason).toMatch(/^IbkrUnreachable: .*gateway running, IBKR unreachable/);
    expect(await reachGauge(paper.pod)).toBe('ibkr_unreachable');
    const doctor = await gatewayDoctor(paper.id);
    expect(doctor).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^gateway running, IBKR unreachable: .*its own redirect answered in \d+ ms \(HTTP 302\), the login page it passes on got no answer/) });

    // A person asks for a fresh login meanwhile: the login page cannot load, so no browser starts.
    await stack.client.workflow.getHandle(sessionWorkflowId(paper.username)).signal(forceReloginSignal);
    await waitFor('the forced login declined as an outage', async () => ((await events(paper.id, from)).some((e) => /browser login not started: gateway running, IBKR unreachable/.test(e.reason)) ? true : null), 60_000);
    await waitFor('the outage reported past its threshold', async () => ((await events(paper.id, from)).some((e) => /^outage: IBKR unreachable through the gateway for more than 10 s/.test(e.reason)) ? true : null), 90_000);
    expect((await status(paper.username))?.outage?.reportedAt).toEqual(expect.any(String));
    // The forced login did not get an answer from IBKR: the outage went on, nothing said it was over.
    expect((await events(paper.id, from)).filter((e) => /^outage over/.test(e.reason))).toEqual([]);
    expect((await ibkrReachability(sim)).hungRequests).toBeGreaterThanOrEqual(0);
    // IBKR ends the session meanwhile (as its idle timeout would after about 6 minutes).
    await simControl(sim, 'POST', '/sim/control/drop', { username: paper.username, kind: 'expire' });
  } finally {
    await setIbkrReachability(sim, { reachable: true });
  }
  const backAt = Date.now();
  await waitFor('usable again by itself', async () => ((await status(paper.username))?.state === 'usable' ? true : null), 120_000);
  expect((await status(paper.username))?.outage ?? null).toBeNull();
  expect(await reachGauge(paper.pod)).toBe('answering');
  const all = await events(paper.id, from);
  expect(all.some((e) => /^outage over: IBKR answers again after/.test(e.reason))).toBe(true);
  // Nothing reached IBKR's login while it was away, and nothing was charged to the budget.
  const after = await loginStats(sim, paper.username);
  expect(after.failed).toBe(before.failed);
  // Back, IBKR said the session was gone: one fresh login, named as such.
  expect(after.ok).toBe(before.ok + 1);
  expect(all.filter((e) => e.state === 'logging_in').map((e) => e.reason).at(-1)).toMatch(/^IBKR answers, the session is gone/);
  expect(all.filter((e) => e.state === 'manual_action_required')).toEqual([]);
  await waitFor('depth rows again', async () => ((await depthRowsSince(paper.id, backAt)) > 0 ? true : null), 60_000);
});

test('gateway not running, then IBKR answering with the session gone: each named; the session logs in again by itself', async () => {
  const pod = stack.pods.find((p) => p.pod === live.pod)!;
  const from = Date.now();
  await stack.sims.get(live.pod)!.close();
  const down = await waitFor('not running seen', async () => {
    const s = await status(live.username);
    return s?.state === 'unavailable' && s.outage?.kind === 'gateway_not_running' ? s : null;
  }, 60_000);
  expect(down.reason).toMatch(/^GatewayNotRunning: .*gateway not running: nothing listens at https:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  expect(await reachGauge(live.pod)).toBe('not_running');
  expect(await gatewayDoctor(live.id)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^gateway not running: nothing listens at .* \(ECONNREFUSED\)/) });

  // The gateway comes back on the same port: IBKR answers, but the session is gone (a fresh gateway).
  restarted = await startSimulator({ port: pod.gatewayPort, stateDir: join(stack.stateDir, 'sim'), users: loadUsersFile(pod.usersFile), authDelayMs: 3000 });
  stack.sims.set(live.pod, restarted);
  await waitFor('usable again after a login', async () => ((await status(live.username))?.state === 'usable' ? true : null), 150_000);
  const all = await events(live.id, from);
  const states = all.map((e) => e.state);
  expect(states).toEqual(expect.arrayContaining(['unavailable', 'logging_in', 'usable']));
  expect(all.find((e) => e.state === 'logging_in')?.reason).toMatch(/^IBKR answers, the session is gone \(the gateway has no login\); browser login/);
  expect((await loginStats(restarted, live.username)).ok).toBe(1);
  expect(await gatewayDoctor(live.id)).toMatchObject({ status: 'ok', detail: expect.stringMatching(/IBKR answers through it \(login page HTTP 200/) });
});
