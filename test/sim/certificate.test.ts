import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { Command } from 'commander';
import { registerSimCommand } from '../../cli/commands/sim';
import { startSimulator } from '../../sim';
import { startTestSim, WsProbe, type TestSim } from './simTestKit';

function servedCertificate(sim: TestSim): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: sim.port, servername: 'localhost', rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** GET / with Node's own certificate check on or off: the status, or the error code. */
function getRoot(sim: TestSim, rejectUnauthorized: boolean): Promise<{ status?: number; code?: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest(new URL('/', sim.url), { rejectUnauthorized, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode });
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ code: err.code }));
    req.end();
  });
}

describe('the default certificate is expired, like the real gateway’s', () => {
  let sim: TestSim;
  beforeAll(async () => {
    sim = await startTestSim();
  });
  afterAll(async () => {
    await sim.stop();
  });

  test('self-signed, CN "Client Portal Web API", valid May 2018 to May 2019, SANs for loopback', async () => {
    const cert = await servedCertificate(sim);
    expect(cert.subject.CN).toBe('Client Portal Web API');
    expect(cert.issuer.CN).toBe('Client Portal Web API');
    expect(cert.valid_to).toMatch(/ 2019 GMT$/);
    expect(cert.valid_from).toMatch(/ 2018 GMT$/);
    expect(new Date(cert.valid_to).getTime()).toBeLessThan(Date.now());
    expect(cert.subjectaltname).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  });

  test('a checking client fails with CERT_HAS_EXPIRED; an insecure one gets its answer', async () => {
    expect(await getRoot(sim, true)).toEqual({ code: 'CERT_HAS_EXPIRED' });
    expect(await getRoot(sim, false)).toEqual({ status: 302 });
  });

  test('a websocket with rejectUnauthorized:false connects to /v1/api/ws', async () => {
    const ws = await WsProbe.open(sim.url); // WsProbe connects with rejectUnauthorized:false
    try {
      await ws.waitFor((f) => f.message === 'waiting for session');
    } finally {
      await ws.close();
    }
  });
});

describe("certificate: 'fresh'", () => {
  test('serves a currently valid localhost certificate', async () => {
    const sim = await startTestSim({ certificate: 'fresh' });
    try {
      const cert = await servedCertificate(sim);
      expect(cert.subject.CN).toBe('localhost');
      expect(new Date(cert.valid_from).getTime()).toBeLessThan(Date.now());
      expect(new Date(cert.valid_to).getTime()).toBeGreaterThan(Date.now() + 365 * 24 * 3600_000);
    } finally {
      await sim.stop();
    }
  });

  test('a state dir holding a fresh certificate from before serves the expired one by default, and keeps both', async () => {
    const first = await startTestSim({ certificate: 'fresh' });
    const fresh = readFileSync(join(first.stateDir, 'tls', 'cert.pem'), 'utf8');
    await first.close();
    // The simulator makes the expired one itself, next to the cached fresh one.
    const second = await startTestSim({ stateDir: first.stateDir, generateCertificate: true });
    try {
      expect((await servedCertificate(second)).subject.CN).toBe('Client Portal Web API');
      expect(readFileSync(join(first.stateDir, 'tls', 'cert.pem'), 'utf8')).toBe(fresh);
      expect(readFileSync(join(first.stateDir, 'tls', 'expired-cert.pem'), 'utf8')).not.toBe(fresh);
    } finally {
      await second.close();
      await first.stop();
    }
  });

  test('an unknown kind is refused naming the option', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ibflow-sim-cert-'));
    try {
      await expect(startSimulator({ port: 0, stateDir, users: [], certificate: 'stale' as 'fresh' })).rejects.toThrow('certificate must be one of expired, fresh (got "stale")');
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('ibflow sim --certificate', () => {
  test('anything but expired or fresh is a usage error naming the flag', async () => {
    const program = new Command().exitOverride();
    registerSimCommand(program);
    await expect(program.parseAsync(['sim', '--state-dir', '/nonexistent', '--certificate', 'stale'], { from: 'user' })).rejects.toThrow(
      '--certificate must be expired or fresh (got "stale")',
    );
  });
});
