/**
 * End to end on the real parts: Temporal dev server, ClickHouse, Chromium driving the simulator's
 * login page, the simulated gateways, and the workers — the same pieces `npm run up` starts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startConnectionWorkflows } from '../../src/operations/connectionWorkflows';
import { needlesOf, scanObject } from '../../soak/canary';
import { DEMO_CONNECTIONS } from '../../stack/demoSetup';
import { sessionWorkflowId } from '../../src/contract/ids';
import type { SessionStatus } from '../../src/contract/sessionStatus';
import { reloginUpdate, statusQuery } from '../../workflows/messages';
import { simControl, startTestStack, waitFor, type TestStack } from '../support/testStack';

jest.setTimeout(300_000);

let stack: TestStack;

interface SimStats {
  depth: Record<string, { frames: number; sizeSum: number }>;
  logins: Record<string, { ok: number; failed: number }>;
}

const paper = DEMO_CONNECTIONS[0];
const live = DEMO_CONNECTIONS[1];

async function status(username: string): Promise<SessionStatus> {
  return stack.client.workflow.getHandle(sessionWorkflowId(username)).query(statusQuery);
}

async function waitUsable(username: string, timeoutMs = 60_000): Promise<SessionStatus> {
  return waitFor(`${username} usable`, async () => {
    const s = await status(username);
    return s.state === 'usable' ? s : null;
  }, timeoutMs);
}

beforeAll(async () => {
  stack = await startTestStack({
    editConfig: (c) => ({ ...c, session: { ...c.session, keepaliveIntervalMs: 5_000, competingCooldownMs: 2_000 } }),
  });
  await startConnectionWorkflows(stack.config, () => undefined);
});

afterAll(async () => {
  await stack?.stop();
});

test('each demo connection goes from nothing to usable through the browser login (live with TOTP)', async () => {
  const started = Date.now();
  const [p, l] = await Promise.all([waitUsable(paper.username), waitUsable(live.username)]);
  expect(Date.now() - started).toBeLessThan(60_000);
  expect(p.lastLoginAt).not.toBeNull();
  expect(l.lastLoginAt).not.toBeNull();

  const stats = await simControl<SimStats>(stack.sims.get(live.pod)!, 'GET', '/sim/control/stats');
  expect(stats.logins[live.username]?.ok).toBeGreaterThanOrEqual(1);
  expect(stats.logins[live.username]?.failed ?? 0).toBe(0);

  // Starting again is idempotent: the same runs continue.
  const before = await stack.client.workflow.getHandle(sessionWorkflowId(paper.username)).describe();
  await startConnectionWorkflows(stack.config, () => undefined);
  const after = await stack.client.workflow.getHandle(sessionWorkflowId(paper.username)).describe();
  expect(after.runId).toBe(before.runId);
});

test('no secret appears in workflow history (payload bytes decoded, base64 forms too)', async () => {
  const secrets = JSON.parse(readFileSync(join(stack.stateDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  const values = Object.entries(secrets);
  expect(values.length).toBe(3); // two passwords and one activation code
  const needles = needlesOf(values.map(([label, value]) => ({ label, value })));
  for (const c of DEMO_CONNECTIONS) {
    const history = await stack.client.workflow.getHandle(sessionWorkflowId(c.username)).fetchHistory();
    // The scan reads payload bytes: it finds the connection id, which only payloads carry.
    expect(scanObject(history, needlesOf([{ label: 'connection id', value: `"${c.id}"` }]), 'history')).toHaveLength(1);
    expect(scanObject(history, needles, `history of ${c.id}`)).toEqual([]);
  }
});

test('depth rows for a fixed run land in ClickHouse with no sequence gaps or duplicates', async () => {
  const db = stack.config.clickhouse.database;
  // Let depth flow, then freeze the simulators so "what was sent" is final.
  await waitFor('depth rows for both instruments', async () => {
    const rs = await stack.clickhouse.query({ query: `SELECT uniqExact(conid) AS n FROM ${db}.depth WHERE kind = 'snapshot'`, format: 'JSONEachRow' });
    const [row] = await rs.json<{ n: string }>();
    return Number(row?.n) >= 2;
  });
  await new Promise((r) => setTimeout(r, 2000));
  for (const sim of stack.sims.values()) await simControl(sim, 'POST', '/sim/control/depth', { paused: true });
  await new Promise((r) => setTimeout(r, 500));

  for (const c of DEMO_CONNECTIONS) {
    const sim = stack.sims.get(c.pod)!;
    const stats = await simControl<SimStats>(sim, 'GET', '/sim/control/stats');
    const sent = stats.depth[`sbd+${c.account}+${c.conid}`];
    expect(sent?.frames).toBeGreaterThan(5);
    const audit = await waitFor(`ClickHouse to hold every frame of ${c.conid}`, async () => {
      const rs = await stack.clickhouse.query({
        query: `SELECT count() AS frames, uniqExact(stream_id, seq) AS distinct_frames, sum(sizes) AS size_sum
                FROM (SELECT stream_id, seq, sumIf(size, side IN ('bid', 'ask')) AS sizes
                      FROM ${db}.depth FINAL WHERE connection = '${c.id}' AND conid = ${c.conid} AND kind = 'snapshot'
                      GROUP BY stream_id, seq)`,
        format: 'JSONEachRow',
      });
      const [row] = await rs.json<{ frames: string; distinct_frames: string; size_sum: number }>();
      return Number(row.frames) === sent!.frames ? row : null;
    }, 30_000);
    expect(Number(audit.distinct_frames)).toBe(sent!.frames);
    expect(Number(audit.size_sum)).toBeCloseTo(sent!.sizeSum, 6);

    // Sequences are contiguous from 1 within every stream.
    const rs = await stack.clickhouse.query({
      query: `SELECT stream_id, min(seq) AS lo, max(seq) AS hi, uniqExact(seq) AS n
              FROM ${db}.depth FINAL WHERE connection = '${c.id}' AND kind = 'snapshot' GROUP BY stream_id`,
      format: 'JSONEachRow',
    });
    for (const s of await rs.json<{ lo: string; hi: string; n: string }>()) {
      expect(Number(s.lo)).toBe(1);
      expect(Number(s.n)).toBe(Number(s.hi));
    }
    // Every stream starts with a gap marker, so a reader knows where continuity begins.
    const gaps = await stack.clickhouse.query({
      query: `SELECT uniqExact(stream_id) AS n FROM ${db}.depth WHERE connection = '${c.id}' AND kind = 'gap'`,
      format: 'JSONEachRow',
    });
    expect(Number((await gaps.json<{ n: string }>())[0].n)).toBeGreaterThanOrEqual(1);
  }
  for (const sim of stack.sims.values()) await simControl(sim, 'POST', '/sim/control/depth', { paused: false });
});

test('a lost brokerage session (no bridge) is reopened with ssodh/init, without a new login', async () => {
  const sim = stack.sims.get(paper.pod)!;
  const loginsBefore = (await simControl<SimStats>(sim, 'GET', '/sim/control/stats')).logins[paper.username]?.ok ?? 0;
  const before = await waitUsable(paper.username);
  await simControl(sim, 'POST', '/sim/control/drop', { username: paper.username, kind: 'bridge' });
  await waitFor('the drop to be noticed', async () => (await status(paper.username)).since !== before.since, 30_000);
  await waitUsable(paper.username, 30_000);
  const loginsAfter = (await simControl<SimStats>(sim, 'GET', '/sim/control/stats')).logins[paper.username]?.ok ?? 0;
  expect(loginsAfter).toBe(loginsBefore);
});

test('when the simulator ends the session, the workflow logs in again without help (live, new TOTP step)', async () => {
  const sim = stack.sims.get(live.pod)!;
  const before = await waitUsable(live.username);
  const loginsBefore = (await simControl<SimStats>(sim, 'GET', '/sim/control/stats')).logins[live.username]?.ok ?? 0;
  await simControl(sim, 'POST', '/sim/control/drop', { username: live.username, kind: 'expire' });
  await waitFor('the drop to be noticed', async () => (await status(live.username)).since !== before.since, 30_000);
  const after = await waitUsable(live.username, 90_000);
  expect(after.lastLoginAt).not.toBe(before.lastLoginAt);
  const stats = await simControl<SimStats>(sim, 'GET', '/sim/control/stats');
  expect(stats.logins[live.username]?.ok).toBe(loginsBefore + 1);
  expect(stats.logins[live.username]?.failed ?? 0).toBe(0); // the TOTP code was never replayed

  // Depth resumes on a new stream after the recovery.
  const db = stack.config.clickhouse.database;
  await waitFor('depth on a new stream', async () => {
    const rs = await stack.clickhouse.query({
      query: `SELECT uniqExact(stream_id) AS n FROM ${db}.depth WHERE connection = '${live.id}' AND kind = 'snapshot'`,
      format: 'JSONEachRow',
    });
    return Number((await rs.json<{ n: string }>())[0].n) >= 2;
  }, 60_000);
});

test('the relogin update performs a fresh browser login and answers once the session is usable', async () => {
  const sim = stack.sims.get(paper.pod)!;
  await waitUsable(paper.username);
  const loginsBefore = (await simControl<SimStats>(sim, 'GET', '/sim/control/stats')).logins[paper.username]?.ok ?? 0;
  const handle = stack.client.workflow.getHandle(sessionWorkflowId(paper.username));
  const result = await handle.executeUpdate(reloginUpdate);
  expect(result).toEqual({ ok: true, state: 'usable', reason: expect.any(String) });
  const loginsAfter = (await simControl<SimStats>(sim, 'GET', '/sim/control/stats')).logins[paper.username]?.ok ?? 0;
  expect(loginsAfter).toBe(loginsBefore + 1);
});
