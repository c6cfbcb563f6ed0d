import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { loadSimConfFile } from '../../sim';
import { ipAllowed, ipMatches } from '../../sim/ipFilter';
import { freePort } from '../../src/util/freePort';
import { http, startTestSim, WsProbe, type TestSim } from './simTestKit';

describe('simulator transport and pre-login behaviour', () => {
  let sim: TestSim;
  beforeAll(async () => {
    // The one test simulator that generates its own certificate; the others share one.
    sim = await startTestSim({ generateCertificate: true });
  });
  afterAll(async () => {
    await sim.stop();
  });

  test('serves HTTPS on 127.0.0.1 with a self-signed certificate cached in stateDir', async () => {
    expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const cachedCert = readFileSync(join(sim.stateDir, 'tls', 'expired-cert.pem'), 'utf8'); // the default kind
    const served = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: sim.port, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().raw);
        socket.end();
      });
      socket.on('error', reject);
    });
    const pemBody = cachedCert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    expect(served.toString('base64')).toBe(pemBody);
  });

  test('POST without Content-Length is refused with 411', async () => {
    const res = await http(sim.url, 'POST', '/v1/api/tickle', { body: '{}', chunked: true });
    expect(res.status).toBe(411);
  });

  test('unknown /v1/api and /v1/portal paths answer 404 HTML "Resource not found"', async () => {
    for (const path of ['/v1/api/no/such/thing', '/v1/portal/no/such/thing']) {
      const res = await http(sim.url, 'GET', path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.text).toContain('Resource not found');
    }
  });

  test('before any login every API call answers 401 plain text', async () => {
    const calls: [string, string][] = [
      ['POST', '/v1/api/tickle'],
      ['GET', '/v1/api/tickle'],
      ['POST', '/v1/api/iserver/auth/status'],
      ['GET', '/v1/portal/iserver/auth/status'],
      ['POST', '/v1/api/iserver/auth/ssodh/init'],
      ['GET', '/v1/api/iserver/accounts'],
      ['GET', '/v1/api/portfolio/accounts'],
      ['GET', '/v1/portal/sso/validate'],
      ['POST', '/v1/api/logout'],
    ];
    for (const [method, path] of calls) {
      const res = await http(sim.url, method, path);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(res.headers['content-type']).toMatch(/text\/plain/);
    }
  });

  test('reauthenticate before login answers 200 {"error":"not logged in"}', async () => {
    const res = await http(sim.url, 'POST', '/v1/portal/iserver/reauthenticate?force=true');
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ error: 'not logged in' });
  });

  test('GET / redirects to the SSO login page', async () => {
    const res = await http(sim.url, 'GET', '/');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/sso/Login?forwardTo=22&RL=1&ip2loc=US');
  });

  test('the login page carries the selectors automation relies on', async () => {
    const res = await http(sim.url, 'GET', '/sso/Login?forwardTo=22&RL=1&ip2loc=on');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    const html = res.text;
    for (const fragment of [
      'class="loginformWrapper"',
      'class="xyzform-username"',
      'id="xyz-field-username" name="username"',
      'id="xyz-field-password" name="password"',
      'type="checkbox" id="toggle1"',
      '<label for="toggle1">Paper</label>',
      'class="btn btn-lg xyz-button-login"',
      'id="twofactbase" hidden',
      'class="xyz-errormessage" role="alert" hidden',
      'select class="form-control xyz-multipleselect"',
      'class="xyzform-silver"',
      'id="xyz-field-silver-response" name="silver-response"',
      'placeholder="Mobile Authenticator App Code"',
      'action="/sso/Dispatcher"',
    ]) {
      expect(html).toContain(fragment);
    }
  });
});

describe('simulator without TLS', () => {
  test('tls:false serves plain HTTP and caches no certificate', async () => {
    const sim = await startTestSim({ tls: false });
    try {
      expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await http(sim.url, 'GET', '/');
      expect(res.status).toBe(302);
      expect(existsSync(join(sim.stateDir, 'tls'))).toBe(false);
    } finally {
      await sim.stop();
    }
  });

  test('a second start on the same stateDir reuses the cached certificate', async () => {
    const first = await startTestSim();
    const certBefore = readFileSync(join(first.stateDir, 'tls', 'expired-cert.pem'), 'utf8');
    await first.close();
    const second = await startTestSim({ stateDir: first.stateDir });
    try {
      expect(readFileSync(join(first.stateDir, 'tls', 'expired-cert.pem'), 'utf8')).toBe(certBefore);
    } finally {
      await second.close();
      await first.stop();
    }
  });
});

describe('control plane on its own port', () => {
  test('control plane answers on controlUrl (plain HTTP); the old /sim/control paths on the gateway are 404 HTML', async () => {
    const sim = await startTestSim();
    try {
      expect(sim.controlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(sim.controlUrl).not.toBe(sim.url);
      expect((await http(sim.controlUrl, 'GET', '/sim/control/stats')).json()).toMatchObject({ depth: {}, logins: {} });
      for (const [method, path] of [['GET', '/sim/control/stats'], ['GET', '/sim/control/sessions'], ['POST', '/sim/control/depth']]) {
        const res = await http(sim.url, method, path, method === 'POST' ? { body: { paused: true } } : {});
        expect(res.status).toBe(404);
        expect(res.text).toContain('Resource not found');
      }
      expect((await http(sim.controlUrl, 'POST', '/sim/control/depth', { body: '{"paused":true}', chunked: true })).status).toBe(411);
    } finally {
      await sim.stop();
    }
  });

  test('controlPort picks the port', async () => {
    const port = await freePort();
    const sim = await startTestSim({ controlPort: port });
    try {
      expect(sim.controlUrl).toBe(`http://127.0.0.1:${port}`);
    } finally {
      await sim.stop();
    }
  });
});

describe('ips.allow / ips.deny', () => {
  test('wildcard octets; a rejected address gets 404 Access Denied; websockets bypass the filter', async () => {
    expect(ipMatches('192.*', '192.168.1.20')).toBe(true);
    expect(ipMatches('192.*', '10.0.0.1')).toBe(false);
    expect(ipMatches('10.*.0.1', '10.9.0.1')).toBe(true);
    expect(ipMatches('127.0.0.1', '::ffff:127.0.0.1')).toBe(true);
    expect(ipMatches('0:0:0:0:0:0:0:1', '::1')).toBe(true);
    expect(ipAllowed({ allow: ['192.*'], deny: ['192.168.1.5'] }, '192.168.1.5')).toBe(false);
    expect(ipAllowed({ deny: ['10.*'] }, '127.0.0.1')).toBe(true);

    const sim = await startTestSim({ ips: { allow: ['192.*', '10.*'] } });
    try {
      const res = await http(sim.url, 'GET', '/v1/api/iserver/auth/status');
      expect(res.status).toBe(404);
      expect(res.text).toBe('Access Denied');
      expect((await http(sim.url, 'GET', '/sso/Login')).text).toBe('Access Denied');
      const ws = await WsProbe.open(sim.url);
      await ws.waitFor((f) => f.message === 'waiting for session');
      await ws.close();
    } finally {
      await sim.stop();
    }
    const denied = await startTestSim({ ips: { allow: ['127.*'], deny: ['127.0.0.*'] } });
    try {
      expect((await http(denied.url, 'GET', '/')).status).toBe(404);
    } finally {
      await denied.stop();
    }
  });

  test('Access Denied on the wire: status line, content-length: 13 and the body, nothing else (no Content-Type, Date, Connection)', async () => {
    const sim = await startTestSim({ ips: { allow: ['192.*'] } });
    try {
      const raw = await new Promise<string>((resolve, reject) => {
        let received = '';
        const socket = connect({ host: '127.0.0.1', port: sim.port, rejectUnauthorized: false }, () => {
          socket.write('GET /v1/api/tickle HTTP/1.1\r\nHost: localhost:5000\r\n\r\n');
        });
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          received += chunk;
          // The connection stays open (keep-alive), so the answer is complete once the body is in.
          if (received.endsWith('\r\n\r\nAccess Denied')) {
            socket.destroy();
            resolve(received);
          }
        });
        socket.on('error', reject);
        socket.setTimeout(5000, () => {
          socket.destroy();
          reject(new Error(`incomplete answer: ${JSON.stringify(received)}`));
        });
      });
      expect(raw).toBe('HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\n\r\nAccess Denied');
    } finally {
      await sim.stop();
    }
  });

  test('a conf.yaml-like file gives listenPort, listenSsl and ips', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ibflow-sim-conf-'));
    try {
      const path = join(dir, 'conf.yaml');
      writeFileSync(path, ['ip2loc: "US"', 'listenPort: 5000', 'listenSsl: true', 'ips:', '  allow:', '    - 192.*', '    - 127.0.0.1', '  deny:', '    - 212.90.324.10'].join('\n'));
      expect(loadSimConfFile(path)).toEqual({ listenPort: 5000, listenSsl: true, ips: { allow: ['192.*', '127.0.0.1'], deny: ['212.90.324.10'] } });
      writeFileSync(path, 'listenPort: "x"');
      expect(() => loadSimConfFile(path)).toThrow(/listenPort/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
