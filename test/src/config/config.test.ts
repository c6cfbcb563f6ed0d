import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, findConnection, loadConfig, parseConfig } from '../../../src/config/loadConfig';

type Raw = Record<string, unknown>;

function paperConnection(overrides: Raw = {}): Raw {
  return {
    id: 'paper-1',
    mode: 'paper',
    username: 'paperuser',
    passwordRef: 'file:paper-1/password',
    pod: 'pod-a',
    gateway: { url: 'https://localhost:5000' },
    ...overrides,
  };
}

function liveConnection(overrides: Raw = {}): Raw {
  return {
    id: 'live-1',
    mode: 'live',
    username: 'liveuser',
    passwordRef: 'env:LIVE_PASSWORD',
    totpSecretRef: 'file:live-1/totp',
    pod: 'pod-b',
    gateway: { url: 'https://127.0.0.1:5000' },
    ...overrides,
  };
}

function configError(raw: unknown): ConfigError {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('parseConfig accepted an invalid config');
}

/** The `path: message` lines of a ConfigError, keyed by path. */
function issuePaths(err: ConfigError): string[] {
  return err.message
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(': ')[0]);
}

describe('parseConfig', () => {
  test('a minimal config gets every default', () => {
    const cfg = parseConfig({ stateDir: '/tmp/state' });
    expect(cfg).toEqual({
      stateDir: '/tmp/state',
      temporal: { address: '127.0.0.1:7233', namespace: 'default' },
      clickhouse: { url: 'http://127.0.0.1:8123', database: 'ibflow', username: 'default', insertTarget: 'distributed' },
      browser: { executablePath: '/usr/bin/chromium', headless: true, loginTimeoutMs: 60_000 },
      session: { keepaliveIntervalMs: 60_000, maxFailedLoginsPerDay: 3, competingCooldownMs: 120_000, penaltyBoxMs: 900_000, outageReportAfterMs: 300_000 },
      connections: [],
    });
  });

  test('connection defaults: verifyTls true, no instruments', () => {
    const cfg = parseConfig({ stateDir: '/s', connections: [paperConnection(), liveConnection()] });
    expect(cfg.connections).toHaveLength(2);
    expect(cfg.connections[0].gateway.verifyTls).toBe(true);
    expect(cfg.connections[0].instruments).toEqual([]);
    expect(cfg.connections[1].totpSecretRef).toBe('file:live-1/totp');
  });

  test('partial sections keep the other defaults', () => {
    const cfg = parseConfig({ stateDir: '/s', session: { maxFailedLoginsPerDay: 5 }, temporal: { namespace: 'ib' } });
    expect(cfg.session).toEqual({ keepaliveIntervalMs: 60_000, maxFailedLoginsPerDay: 5, competingCooldownMs: 120_000, penaltyBoxMs: 900_000, outageReportAfterMs: 300_000 });
    expect(cfg.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'ib' });
  });

  test('missing stateDir is reported at its path', () => {
    const err = configError({});
    expect(issuePaths(err)).toContain('stateDir');
    expect(err.message.startsWith('config is invalid:')).toBe(true);
  });

  test('the source name appears in the message', () => {
    expect(() => parseConfig({}, '/etc/ibflow.yaml')).toThrow(/^\/etc\/ibflow\.yaml is invalid:/);
  });

  test('a live connection without an activation code names connections.0.totpSecretRef', () => {
    const live = liveConnection();
    delete live.totpSecretRef;
    const err = configError({ stateDir: '/s', connections: [live] });
    expect(issuePaths(err)).toEqual(['connections.0.totpSecretRef']);
    expect(err.message).toMatch(/activation code/);
  });

  test('a paper connection needs no activation code', () => {
    expect(() => parseConfig({ stateDir: '/s', connections: [paperConnection()] })).not.toThrow();
  });

  test('verifyTls false on a non-loopback host names connections.0.gateway.verifyTls', () => {
    const err = configError({
      stateDir: '/s',
      connections: [paperConnection({ gateway: { url: 'https://gateway.example.com:5000', verifyTls: false } })],
    });
    // A dotted host is also not pod-local, so gateway.url is reported as well.
    expect(issuePaths(err)).toContain('connections.0.gateway.verifyTls');
    expect(err.message).toContain('gateway.example.com');
  });

  test.each(['10.0.0.5', '127.0.0.2', '0.0.0.0', 'localhost.example.com', 'mylocalhost'])(
    'verifyTls false is rejected for host %s',
    (host) => {
      const err = configError({
        stateDir: '/s',
        connections: [paperConnection({ gateway: { url: `https://${host}:5000`, verifyTls: false } })],
      });
      expect(issuePaths(err)).toContain('connections.0.gateway.verifyTls');
    },
  );

  test.each(['https://localhost:5000', 'https://127.0.0.1:5000', 'https://[::1]:5000', 'https://LOCALHOST:5000/'])(
    'verifyTls false is accepted for loopback %s',
    (url) => {
      const cfg = parseConfig({ stateDir: '/s', connections: [paperConnection({ gateway: { url, verifyTls: false } })] });
      expect(cfg.connections[0].gateway.verifyTls).toBe(false);
    },
  );

  test('verifyTls true is fine on any local host, including a pod-local name', () => {
    const cfg = parseConfig({
      stateDir: '/s',
      connections: [paperConnection({ gateway: { url: 'https://ibgateway:5000', verifyTls: true } })],
    });
    expect(cfg.connections[0].gateway.url).toBe('https://ibgateway:5000');
  });

  test.each(['plain-password', 'vault:x', 'file:', 'env:', 'file:a b', 'FILE:x', 'env:A$B'])(
    'bad secret reference %p is reported at connections.0.passwordRef',
    (ref) => {
      const err = configError({ stateDir: '/s', connections: [paperConnection({ passwordRef: ref })] });
      expect(issuePaths(err)).toEqual(['connections.0.passwordRef']);
      expect(err.message).toContain('file:<name>');
    },
  );

  test('a bad totpSecretRef and clickhouse.passwordRef are reported at their paths', () => {
    const err = configError({
      stateDir: '/s',
      clickhouse: { passwordRef: 'hunter2' },
      connections: [liveConnection({ totpSecretRef: 'JBSWY3DPEHPK3PXP' })],
    });
    expect(issuePaths(err).sort()).toEqual(['clickhouse.passwordRef', 'connections.0.totpSecretRef']);
  });

  test.each(['file:paper-1/password', 'env:IB_PASSWORD', 'file:a.b_c-d'])('good secret reference %p is accepted', (ref) => {
    expect(parseConfig({ stateDir: '/s', connections: [paperConnection({ passwordRef: ref })] }).connections[0].passwordRef).toBe(ref);
  });

  test.each(['Paper', '-paper', 'paper_1', '', 'a'.repeat(64), 'päper'])('bad connection id %p is reported at connections.0.id', (id) => {
    const err = configError({ stateDir: '/s', connections: [paperConnection({ id })] });
    expect(issuePaths(err)).toEqual(['connections.0.id']);
  });

  test('a 63-character id is accepted', () => {
    const id = 'a'.repeat(63);
    expect(parseConfig({ stateDir: '/s', connections: [paperConnection({ id })] }).connections[0].id).toBe(id);
  });

  test('duplicate ids are reported at the second occurrence', () => {
    const err = configError({
      stateDir: '/s',
      connections: [paperConnection({ id: 'dup', username: 'u1' }), paperConnection({ id: 'dup', username: 'u2' })],
    });
    expect(issuePaths(err)).toEqual(['connections.1.id']);
    expect(err.message).toContain('duplicate connection id "dup"');
  });

  test("the app port: the gateway's port + 1 by default, false turns it off; one gateway has one app port, never a gateway's", () => {
    expect(parseConfig({ stateDir: '/s', connections: [paperConnection()] }).connections[0].gateway.appPort).toBe(5001);
    expect(parseConfig({ stateDir: '/s', connections: [paperConnection({ gateway: { url: 'https://localhost:5001' } })] }).connections[0].gateway.appPort).toBe(5002);
    const clash = configError({
      stateDir: '/s',
      connections: [paperConnection({ id: 'a', username: 'u1' }), paperConnection({ id: 'b', username: 'u2', gateway: { url: 'https://localhost:5001', appPort: 5101 } })],
    });
    expect(issuePaths(clash)).toEqual(['connections.0.gateway.appPort']);
    expect(clash.message).toContain('5001 is the gateway port of connections[1]');
    expect(parseConfig({ stateDir: '/s', connections: [paperConnection({ gateway: { url: 'https://localhost:5000', appPort: false } })] }).connections[0].gateway.appPort).toBe(false);
    const two = configError({
      stateDir: '/s',
      connections: [
        paperConnection({ id: 'a', username: 'u1', gateway: { url: 'https://localhost:5000', appPort: 5001 } }),
        paperConnection({ id: 'b', username: 'u2', gateway: { url: 'https://localhost:5000', appPort: 5002 } }),
      ],
    });
    expect(issuePaths(two)).toEqual(['connections.1.gateway.appPort']);
    expect(two.message).toContain('one gateway has one app port');
    const own = configError({ stateDir: '/s', connections: [paperConnection({ gateway: { url: 'https://localhost:5000', appPort: 5000 } })] });
    expect(own.message).toContain("must differ from the gateway's own port 5000");
    const bad = configError({ stateDir: '/s', connections: [paperConnection({ gateway: { url: 'https://localhost:5000', appPort: 'yes' } })] });
    expect(issuePaths(bad)).toEqual(['connections.0.gateway.appPort']);
  });

  test('the same username twice (case-insensitive) is reported at the second occurrence', () => {
    const err = configError({
      stateDir: '/s',
      connections: [
        paperConnection({ id: 'a', username: 'Trader1' }),
        paperConnection({ id: 'b', username: 'other' }),
        liveConnection({ id: 'c', username: 'TRADER1' }),
      ],
    });
    expect(issuePaths(err)).toEqual(['connections.2.username']);
    expect(err.message).toContain('connections[0]');
  });

  test.each(['not a url', 'localhost', '', 'http//missing-colon'])('invalid gateway url %p is reported at connections.0.gateway.url', (url) => {
    const err = configError({ stateDir: '/s', connections: [paperConnection({ gateway: { url } })] });
    expect(issuePaths(err)).toContain('connections.0.gateway.url');
  });

  test('invalid clickhouse url is reported at clickhouse.url', () => {
    const err = configError({ stateDir: '/s', clickhouse: { url: 'nope' } });
    expect(issuePaths(err)).toEqual(['clickhouse.url']);
  });

  test('wrong mode, bad instrument and bad database name are each reported', () => {
    const err = configError({
      stateDir: '/s',
      clickhouse: { database: 'my-db' },
      connections: [paperConnection({ mode: 'demo', instruments: [{ conid: -1 }] })],
    });
    expect(issuePaths(err).sort()).toEqual(['clickhouse.database', 'connections.0.instruments.0.conid', 'connections.0.mode']);
  });

  test('every problem is listed, not just the first', () => {
    const err = configError({
      stateDir: '/s',
      connections: [paperConnection({ id: 'BAD' }), paperConnection({ id: 'ok', username: 'other', passwordRef: 'x' })],
    });
    expect(issuePaths(err).sort()).toEqual(['connections.0.id', 'connections.1.passwordRef']);
  });

  test('session limits are validated', () => {
    const err = configError({ stateDir: '/s', session: { keepaliveIntervalMs: 10, maxFailedLoginsPerDay: 0 } });
    expect(issuePaths(err).sort()).toEqual(['session.keepaliveIntervalMs', 'session.maxFailedLoginsPerDay']);
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ibflow-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('reads YAML, applies defaults and defaults stateDir to the file directory', () => {
    const path = join(dir, 'ibflow.yaml');
    writeFileSync(
      path,
      [
        'connections:',
        '  - id: live-1',
        '    mode: live',
        '    username: me',
        '    passwordRef: file:live-1/password',
        '    totpSecretRef: env:IB_TOTP',
        '    pod: pod-a',
        '    gateway:',
        '      url: https://localhost:5000',
        '      verifyTls: false',
        '    instruments:',
        '      - conid: 265598',
        '        exchange: NASDAQ',
        '',
      ].join('\n'),
    );
    const cfg = loadConfig(path);
    expect(cfg.stateDir).toBe(dir);
    expect(cfg.clickhouse.database).toBe('ibflow');
    expect(cfg.connections[0]).toEqual({
      id: 'live-1',
      mode: 'live',
      username: 'me',
      passwordRef: 'file:live-1/password',
      totpSecretRef: 'env:IB_TOTP',
      pod: 'pod-a',
      gateway: { url: 'https://localhost:5000', verifyTls: false, appPort: 5001 },
      instruments: [{ conid: 265598, exchange: 'NASDAQ' }],
      competingPolicy: 'reclaim',
    });
  });

  test('an explicit stateDir wins over the file directory', () => {
    const path = join(dir, 'c.yaml');
    writeFileSync(path, 'stateDir: /var/lib/ibflow\n');
    expect(loadConfig(path).stateDir).toBe('/var/lib/ibflow');
  });

  test('an empty file is a valid config with defaults', () => {
    const path = join(dir, 'empty.yaml');
    writeFileSync(path, '');
    const cfg = loadConfig(path);
    expect(cfg.stateDir).toBe(dir);
    expect(cfg.connections).toEqual([]);
  });

  test('a missing file gives "cannot read config" with the path and errno code', () => {
    const path = join(dir, 'missing.yaml');
    expect(() => loadConfig(path)).toThrow(ConfigError);
    expect(() => loadConfig(path)).toThrow(`cannot read config ${path}: ENOENT`);
  });

  test('a directory instead of a file is unreadable', () => {
    const path = join(dir, 'sub');
    mkdirSync(path);
    expect(() => loadConfig(path)).toThrow(`cannot read config ${path}: EISDIR`);
  });

  test('invalid YAML gives "is not valid YAML" naming the file', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'connections:\n  - id: [unclosed\n    mode: paper\n');
    let caught: unknown;
    try {
      loadConfig(path);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toContain(`config ${path} is not valid YAML: `);
  });

  test('schema errors from a file name the file and the field path', () => {
    const path = join(dir, 'invalid.yaml');
    writeFileSync(
      path,
      'connections:\n  - id: x\n    mode: live\n    username: u\n    passwordRef: file:x\n    pod: p\n    gateway: { url: "https://localhost:5000" }\n',
    );
    expect(() => loadConfig(path)).toThrow(`${path} is invalid:\n  connections.0.totpSecretRef: `);
  });
});

describe('findConnection', () => {
  const cfg = parseConfig({ stateDir: '/s', connections: [paperConnection(), liveConnection()] });

  test('finds a connection by id', () => {
    expect(findConnection(cfg, 'live-1').username).toBe('liveuser');
    expect(findConnection(cfg, 'paper-1').username).toBe('paperuser');
  });

  test('an unknown id throws a ConfigError naming it', () => {
    expect(() => findConnection(cfg, 'nope')).toThrow(ConfigError);
    expect(() => findConnection(cfg, 'nope')).toThrow('unknown connection "nope"');
  });
});
