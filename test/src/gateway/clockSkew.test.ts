import { createServer, type Server } from 'node:http';
import { GatewayClient } from '../../../src/gateway/gatewayClient';
import { freePort } from '../../../src/util/freePort';

let server: Server;
let port: number;
let offsetMs = 0;

beforeAll(async () => {
  port = await freePort();
  server = createServer((_req, res) => {
    res.setHeader('Date', new Date(Date.now() + offsetMs).toUTCString());
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ authenticated: true, connected: true, competing: false, serverInfo: { serverName: 'x' } }));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

test.each([0, 60_000, -45_000])('the gateway clock offset %p ms is measured from its Date header', async (offset) => {
  offsetMs = offset;
  const client = new GatewayClient({ baseUrl: `http://127.0.0.1:${port}`, verifyTls: true });
  try {
    expect(client.lastClockSkewMs).toBeNull();
    await client.authStatus();
    // The header has one-second resolution.
    expect(Math.abs((client.lastClockSkewMs ?? NaN) - offset)).toBeLessThanOrEqual(1_500);
  } finally {
    client.close();
  }
});
