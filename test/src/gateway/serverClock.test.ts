/**
 * Where ibflow reads IBKR's clock, against the simulator: the `Date` of answers the gateway passes
 * on from IBKR (its own answers carry none), and the websocket's `system` heartbeat — the reading
 * that still works when no answer carries a Date.
 */
import { setIbkrReachability } from '../../../sim/controlClient';
import { GatewayClient } from '../../../src/gateway/gatewayClient';
import { GatewaySocket } from '../../../src/gateway/gatewaySocket';
import { loginViaHttp, PAPER_USER, startTestSim, type TestSim } from '../../sim/simTestKit';

jest.setTimeout(30_000);

const OFFSET_MS = -30_000;
let sim: TestSim;
beforeAll(async () => {
  sim = await startTestSim({ heartbeatMs: 200, authDelayMs: 0, ibkrDateHeader: false });
  await loginViaHttp(sim, PAPER_USER);
  await setIbkrReachability(sim, { clockOffsetMs: OFFSET_MS });
});
afterAll(async () => {
  await sim?.stop();
});

test('no Date on any answer: the client has no reading from REST; the heartbeat gives IBKR\'s clock to the millisecond', async () => {
  const client = new GatewayClient({ baseUrl: sim.url, verifyTls: false });
  try {
    const { session } = await client.tickle();
    expect(client.lastClockSkewMs).toBeNull();
    const readings: number[] = [];
    const socket = new GatewaySocket(
      { baseUrl: sim.url, verifyTls: false, session, onServerClock: (ms, at) => (client.recordServerClock(ms, at), readings.push(ms - at)) },
      { onMessage: () => undefined, onUndecodable: () => undefined, onClose: () => undefined },
    );
    try {
      await socket.open();
      const deadline = Date.now() + 5_000;
      while (readings.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      socket.close();
    }
    expect(readings.length).toBeGreaterThanOrEqual(2);
    expect(Math.abs((client.lastClockSkewMs ?? NaN) - OFFSET_MS)).toBeLessThan(200);
  } finally {
    client.close();
  }
});

test("with IBKR's Date on passed-on answers, a tickle gives the reading (1 s resolution)", async () => {
  const dated = await startTestSim({ authDelayMs: 0, ibkrClockOffsetMs: OFFSET_MS });
  const client = new GatewayClient({ baseUrl: dated.url, verifyTls: false });
  try {
    await loginViaHttp(dated, PAPER_USER);
    await client.tickle();
    expect(Math.abs((client.lastClockSkewMs ?? NaN) - OFFSET_MS)).toBeLessThanOrEqual(1_000);
  } finally {
    client.close();
    await dated.stop();
  }
});
