import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { GatewayClient, parseAuthStatus } from '../../../src/gateway/gatewayClient';
import { GatewayError } from '../../../src/gateway/gatewayError';
import { freePort } from '../../../src/util/freePort';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Seen, res: ServerResponse) => void;

let server: Server;
let port: number;
let handler: Handler;
let seen: Seen[];
let client: GatewayClient;

const AUTH_OK = {
  authenticated: true,
  competing: false,
  connected: true,
  message: '',
  MAC: '12:B:B3:23:BF:A0',
  serverInfo: { serverName: 'JifN19053', serverVersion: 'Build 10.25.0p, Dec 5, 2023 5:48:12 PM' },
  hardware_info: '3b0679ee|98:A2:B3:23:BC:A0',
  fail: '',
};

function reply(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(text);
  };
}

async function gatewayError(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

beforeAll(async () => {
  port = await freePort();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  handler = reply(200, AUTH_OK);
  client = new GatewayClient({ baseUrl: `http://127.0.0.1:${port}`, verifyTls: true, timeoutMs: 2_000 });
});

afterEach(() => {
  client.close();
});

describe('GatewayClient status handling', () => {
  test('200 auth status is parsed', async () => {
    await expect(client.authStatus()).resolves.toEqual({
      authenticated: true,
      connected: true,
      competing: false,
      established: undefined,
      serverName: 'JifN19053',
    });
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe('/v1/api/iserver/auth/status');
  });

  test('401 → unauthorized', async () => {
    handler = reply(401, { error: 'not authenticated' });
    const err = await gatewayError(client.authStatus());
    expect(err.kind).toBe('unauthorized');
    expect(err.status).toBe(401);
  });

  test('400 with "no bridge" → no_bridge', async () => {
    handler = reply(400, { error: 'no bridge', statusCode: 400 });
    const err = await gatewayError(client.accounts());
    expect(err.kind).toBe('no_bridge');
    expect(err.status).toBe(400);
  });

  test('400 without "no bridge" → bad_response', async () => {
    handler = reply(400, { error: 'bad request' });
    const err = await gatewayError(client.authStatus());
    expect(err.kind).toBe('bad_response');
    expect(err.status).toBe(400);
  });

  test('429 with Retry-After → rate_limited, header seconds × 1000', async () => {
    handler = reply(429, 'Too many requests', { 'Retry-After': '7' });
    const err = await gatewayError(client.tickle());
    expect(err.kind).toBe('rate_limited');
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBe(7_000);
  });

  test('429 without Retry-After → rate_limited; one refusal holds back its path 2 s, a second soon after is the 15-minute box', async () => {
    handler = reply(429, 'Too many requests');
    const first = await gatewayError(client.authStatus());
    expect(first.kind).toBe('rate_limited');
    expect(first.retryAfterMs).toBe(2_000);
    // Other paths still go; the second refusal means the whole address is refused.
    const second = await gatewayError(client.tickle());
    expect(second.retryAfterMs).toBeGreaterThan(14 * 60_000);
    expect(second.message).toMatch(/penalty box/);
    expect(client.penalty.penalty).toMatchObject({ path: '/tickle' });
    // Boxed: nothing is sent (it could prolong the box), every path is held back.
    let sent = 0;
    handler = (_req, res) => {
      sent++;
      res.end('{}');
    };
    const held = await gatewayError(client.accounts());
    expect(held).toMatchObject({ kind: 'rate_limited', heldBack: true });
    expect(sent).toBe(0);
  });

  test.each(['0', 'soon', 'Wed, 21 Oct 2026 07:28:00 GMT', '-5'])('429 with unusable Retry-After %p → as if none (2 s for the path)', async (value) => {
    handler = reply(429, '', { 'Retry-After': value });
    const err = await gatewayError(client.authStatus());
    expect(err.kind).toBe('rate_limited');
    expect(err.retryAfterMs).toBe(2_000);
  });

  test.each([500, 502, 503])('%d → unavailable', async (status) => {
    handler = reply(status, { error: 'internal' });
    const err = await gatewayError(client.authStatus());
    expect(err.kind).toBe('unavailable');
    expect(err.status).toBe(status);
  });

  test('404 → bad_response', async () => {
    handler = reply(404, 'not found');
    expect((await gatewayError(client.authStatus())).kind).toBe('bad_response');
  });

  test('non-JSON 200 → bad_response, without quoting the body', async () => {
    handler = reply(200, '<html>CANARY-BODY</html>');
    const err = await gatewayError(client.authStatus());
    expect(err.kind).toBe('bad_response');
    expect(err.status).toBe(200);
    expect(err.message).not.toContain('CANARY-BODY');
  });

  test('empty 200 body → bad_response', async () => {
    handler = reply(200, '');
    expect((await gatewayError(client.tickle())).kind).toBe('bad_response');
  });

  test('connection refused → unavailable', async () => {
    const closedPort = await freePort();
    const refused = new GatewayClient({ baseUrl: `http://127.0.0.1:${closedPort}`, verifyTls: true });
    try {
      const err = await gatewayError(refused.authStatus());
      expect(err.kind).toBe('unavailable');
      expect(err.message).toContain('ECONNREFUSED');
      expect(err.status).toBeUndefined();
    } finally {
      refused.close();
    }
  });

  test('no answer within timeoutMs → unavailable', async () => {
    handler = () => {
      /* never answer */
    };
    const slow = new GatewayClient({ baseUrl: `http://127.0.0.1:${port}`, verifyTls: true, timeoutMs: 200 });
    try {
      const started = Date.now();
      const err = await gatewayError(slow.authStatus());
      expect(err.kind).toBe('unavailable');
      expect(err.message).toContain('200 ms');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      slow.close();
    }
  });
});

describe('GatewayClient requests', () => {
  test('POST without a body sends Content-Length: 0', async () => {
    await client.authStatus();
    expect(seen[0].method).toBe('POST');
    expect(seen[0].headers['content-length']).toBe('0');
    expect(seen[0].headers['transfer-encoding']).toBeUndefined();
    expect(seen[0].body).toBe('');
  });

  test('tickle POSTs with Content-Length', async () => {
    handler = reply(200, { session: 'abc', ssoExpires: 1, iserver: { authStatus: AUTH_OK } });
    await client.tickle();
    expect(seen[0].url).toBe('/v1/api/tickle');
    expect(seen[0].headers['content-length']).toBe('0');
  });

  test('ssodh/init POSTs a JSON body with the matching Content-Length', async () => {
    await client.openBrokerageSession(true);
    const req = seen[0];
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v1/api/iserver/auth/ssodh/init');
    expect(JSON.parse(req.body)).toEqual({ publish: true, compete: true });
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['content-length']).toBe(String(Buffer.byteLength(req.body)));
  });

  test('ssodh/init with compete false', async () => {
    await client.openBrokerageSession(false);
    expect(JSON.parse(seen[0].body)).toEqual({ publish: true, compete: false });
  });

  test('logout POSTs "{}" with Content-Length 2', async () => {
    handler = reply(200, { status: true });
    await client.logout();
    expect(seen[0].url).toBe('/v1/api/logout');
    expect(seen[0].body).toBe('{}');
    expect(seen[0].headers['content-length']).toBe('2');
  });

  test('accounts is a GET without a body', async () => {
    handler = reply(200, { accounts: ['DU123456', 'DU654321'], selectedAccount: 'DU123456', isPaper: true });
    await expect(client.accounts()).resolves.toEqual({ accounts: ['DU123456', 'DU654321'], selectedAccount: 'DU123456' });
    expect(seen[0].method).toBe('GET');
    expect(seen[0].url).toBe('/v1/api/iserver/accounts');
    expect(seen[0].body).toBe('');
  });

  test('accounts tolerates missing fields', async () => {
    handler = reply(200, {});
    await expect(client.accounts()).resolves.toEqual({ accounts: [], selectedAccount: null });
  });

  test('a base URL with a path prefix is ignored for absolute API paths', async () => {
    const prefixed = new GatewayClient({ baseUrl: `http://127.0.0.1:${port}/ignored/`, verifyTls: true });
    try {
      await prefixed.authStatus();
      expect(seen[0].url).toBe('/v1/api/iserver/auth/status');
    } finally {
      prefixed.close();
    }
  });

  test('requests identify as ibflow', async () => {
    await client.authStatus();
    expect(seen[0].headers['user-agent']).toBe('ibflow');
  });
});

describe('GatewayClient.tickle', () => {
  test('parses session, ssoExpires and the nested auth status', async () => {
    handler = reply(200, {
      session: '0123456789abcdef0123456789abcdef',
      ssoExpires: 460311,
      collission: false,
      userId: 123456789,
      hmds: { error: 'no bridge' },
      iserver: { authStatus: { ...AUTH_OK, established: true } },
    });
    await expect(client.tickle()).resolves.toEqual({
      session: '0123456789abcdef0123456789abcdef',
      ssoExpiresMs: 460311,
      authStatus: { authenticated: true, connected: true, competing: false, established: true, serverName: 'JifN19053' },
    });
  });

  test('{"error":"no session"} with 200 → unauthorized', async () => {
    handler = reply(200, { error: 'no session' });
    const err = await gatewayError(client.tickle());
    expect(err.kind).toBe('unauthorized');
    expect(err.message).toContain('no session');
  });

  test('{"error":"failed to process request"} → unauthorized', async () => {
    handler = reply(200, { error: 'failed to process request' });
    expect((await gatewayError(client.tickle())).kind).toBe('unauthorized');
  });

  test('missing iserver and ssoExpires give safe defaults', async () => {
    handler = reply(200, { session: 'abc' });
    await expect(client.tickle()).resolves.toEqual({
      session: 'abc',
      ssoExpiresMs: null,
      authStatus: { authenticated: false, connected: false, competing: false, established: undefined, serverName: '' },
    });
  });
});

describe('parseAuthStatus', () => {
  test('documented authenticated shape', () => {
    expect(parseAuthStatus(AUTH_OK)).toEqual({
      authenticated: true,
      connected: true,
      competing: false,
      established: undefined,
      serverName: 'JifN19053',
    });
  });

  test('newer builds add established', () => {
    expect(parseAuthStatus({ ...AUTH_OK, established: true }).established).toBe(true);
    expect(parseAuthStatus({ ...AUTH_OK, established: false }).established).toBe(false);
  });

  test('timed out but connected', () => {
    expect(parseAuthStatus({ ...AUTH_OK, authenticated: false })).toMatchObject({ authenticated: false, connected: true });
  });

  test('competing', () => {
    expect(parseAuthStatus({ ...AUTH_OK, competing: true }).competing).toBe(true);
  });

  test('after logout: all flags false, MAC null', () => {
    expect(
      parseAuthStatus({ authenticated: false, competing: false, connected: false, message: '', MAC: null, fail: '' }),
    ).toEqual({ authenticated: false, connected: false, competing: false, established: undefined, serverName: '' });
  });

  test.each([null, undefined, {}, 'text', 42])('garbage %p gives an all-false status', (raw) => {
    expect(parseAuthStatus(raw)).toEqual({ authenticated: false, connected: false, competing: false, established: undefined, serverName: '' });
  });

  test('only literal true counts as true', () => {
    expect(parseAuthStatus({ authenticated: 'true', connected: 1, competing: 'yes', established: 'true', serverInfo: { serverName: 7 } })).toEqual({
      authenticated: false,
      connected: false,
      competing: false,
      established: undefined,
      serverName: '',
    });
  });
});
