import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEnvOverrides, ConfigError, loadConfig, parseConfig } from '../../../src/config/loadConfig';
import { isLocalGatewayHost } from '../../../src/config/schema';

type Raw = Record<string, unknown>;

const paper = (o: Raw = {}): Raw => ({
  id: 'paper-1',
  mode: 'paper',
  username: 'paperuser',
  passwordRef: 'file:paper-1/password',
  pod: 'pod-a',
  gateway: { url: 'https://localhost:5000' },
  ...o,
});

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message.split('\n').slice(1).map((l) => l.trim());
  }
  throw new Error('config was accepted');
}

describe('every invalid field is reported at its path with what to do', () => {
  test.each<[string, Raw, string, RegExp]>([
    ['id', { connections: [paper({ id: 'Bad_Id' })] }, 'connections.0.id', /lower-case letters/],
    ['mode', { connections: [paper({ mode: 'demo' })] }, 'connections.0.mode', /"paper" or "live"/],
    ['username missing', { connections: [paper({ username: undefined })] }, 'connections.0.username', /required/],
    ['passwordRef literal', { connections: [paper({ passwordRef: 'hunter2' })] }, 'connections.0.passwordRef', /never into the config/],
    ['pod', { connections: [paper({ pod: 'Pod A' })] }, 'connections.0.pod', /e\.g\. "pod-a"/],
    ['clickhouse url credentials', { clickhouse: { url: 'http://default:CANARY@127.0.0.1:8123' } }, 'clickhouse.url', /clickhouse\.passwordRef/],
    ['competingPolicy', { connections: [paper({ competingPolicy: 'fight' })] }, 'connections.0.competingPolicy', /"reclaim" .* or "wait-for-human"/],
    ['gateway missing', { connections: [paper({ gateway: undefined })] }, 'connections.0.gateway', /required/],
    ['gateway url', { connections: [paper({ gateway: { url: 'localhost' } })] }, 'connections.0.gateway.url', /https:\/\/localhost:5000/],
    ['gateway scheme', { connections: [paper({ gateway: { url: 'ftp://localhost' } })] }, 'connections.0.gateway.url', /https:\/\//],
    ['gateway remote', { connections: [paper({ gateway: { url: 'https://10.1.2.3:5000' } })] }, 'connections.0.gateway.url', /next to the pod worker/],
    ['verifyTls type', { connections: [paper({ gateway: { url: 'https://localhost:5000', verifyTls: 'no' } })] }, 'connections.0.gateway.verifyTls', /true or false/],
    ['conid', { connections: [paper({ instruments: [{ conid: 'AAPL' }] })] }, 'connections.0.instruments.0.conid', /contract id/],
    ['instruments type', { connections: [paper({ instruments: 265598 })] }, 'connections.0.instruments', /list/],
    ['paper with totp', { connections: [paper({ totpSecretRef: 'file:x/totp' })] }, 'connections.0.totpSecretRef', /remove totpSecretRef or set mode: live/],
    ['live without totp', { connections: [paper({ mode: 'live' })] }, 'connections.0.totpSecretRef', /rotate-code paper-1/],
    ['temporal address', { temporal: { address: 'localhost' } }, 'temporal.address', /host:port/],
    ['clickhouse url', { clickhouse: { url: 'nope' } }, 'clickhouse.url', /http:\/\/127\.0\.0\.1:8123/],
    ['clickhouse database', { clickhouse: { database: 'my-db' } }, 'clickhouse.database', /identifier/],
    ['headless', { browser: { headless: 'yes' } }, 'browser.headless', /true or false/],
    ['keepalive', { session: { keepaliveIntervalMs: 5 } }, 'session.keepaliveIntervalMs', /at least 1000/],
    ['login budget', { session: { maxFailedLoginsPerDay: 0 } }, 'session.maxFailedLoginsPerDay', /lock/],
    ['maintenance time', { session: { maintenance: { daily: [{ zone: 'America/New_York', start: '25:00', end: '01:00' }] } } }, 'session.maintenance.daily.0.start', /HH:MM/],
    ['maintenance zone', { session: { maintenance: { daily: [{ zone: 'Mars/Base', start: '00:15', end: '01:45' }] } } }, 'session.maintenance.daily.0.zone', /IANA/],
    ['connections type', { connections: { id: 'x' } }, 'connections', /list/],
  ])('%s', (_name, raw, path, message) => {
    const lines = problems({ stateDir: '/s', ...raw });
    const line = lines.find((l) => l.startsWith(`${path}: `));
    expect(line).toBeDefined();
    expect(line).toMatch(message);
  });

  test('unknown fields are named with a did-you-mean hint', () => {
    const lines = problems({ stateDir: '/s', temporal: { adress: 'x:1' }, connections: [paper({ gateway: { url: 'https://localhost:5000', verifyTLS: false } })] });
    expect(lines).toContain('temporal: unknown field "adress" — did you mean "address"?');
    expect(lines).toContain('connections.0.gateway: unknown field "verifyTLS" — did you mean "verifyTls"?');
  });

  test('a value that looks like a secret is never echoed', () => {
    const canary = 'CANARY-pw-31337';
    const lines = problems({ stateDir: '/s', connections: [paper({ passwordRef: canary, totpSecretRef: canary })] });
    expect(lines.join('\n')).not.toContain(canary);
  });

  test('a YAML syntax error names the line, never quotes it (a pasted secret stays unprinted)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ibflow-cfgyaml-'));
    try {
      const file = join(dir, 'ibflow.yaml');
      writeFileSync(file, 'stateDir: /s\nconnections:\n  - id: me\n    password: CANARY-hunter2: x\n');
      let message = '';
      try {
        loadConfig(file, {});
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/is not valid YAML: .* at line 4, column \d+/);
      expect(message).not.toContain('CANARY');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('secret references', () => {
  test.each(['gcp:projects/my-project/secrets/ibkr-password', 'gcp:projects/my-project/secrets/ibkr_totp/versions/3', 'gcp:projects/my-project/secrets/x/versions/latest'])(
    'accepts %s',
    (ref) => {
      expect(parseConfig({ stateDir: '/s', connections: [paper({ passwordRef: ref })] }).connections[0].passwordRef).toBe(ref);
    },
  );
  test.each(['gcp:my-project/ibkr', 'gcp:projects/P/secrets/S', 'gcp:projects/my-project/secrets/', 'gcp:projects/my-project/secrets/s/versions/0', 'gcp:'])('rejects %s', (ref) => {
    expect(problems({ stateDir: '/s', connections: [paper({ passwordRef: ref })] })[0]).toMatch(/^connections\.0\.passwordRef: .*gcp:projects\/<project>\/secrets\/<secret>/);
  });
});

describe('gateway locality', () => {
  test.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '[::1]', '::1', 'gw.localhost', 'ibgateway', 'cpgw-1'])('%s is local', (h) => expect(isLocalGatewayHost(h)).toBe(true));
  test.each(['10.0.0.5', '0.0.0.0', 'gateway.example.com', 'localhost.example.com', '192.168.1.1', '[fe80::1]', '127.0.0.256', '2130706433'])('%s is not local', (h) =>
    expect(isLocalGatewayHost(h)).toBe(false),
  );
});

describe('environment overrides', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ibflow-cfgenv-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('IBFLOW_* variables win over the file and are typed', () => {
    const path = join(dir, 'c.yaml');
    writeFileSync(path, 'temporal: { address: "127.0.0.1:7233" }\nclickhouse: { url: "http://127.0.0.1:8123" }\n');
    const cfg = loadConfig(path, {
      IBFLOW_TEMPORAL_ADDRESS: 'temporal:7233',
      IBFLOW_TEMPORAL_NAMESPACE: 'prod',
      IBFLOW_CLICKHOUSE_URL: 'http://clickhouse:8123',
      IBFLOW_CLICKHOUSE_DATABASE: 'depthdb',
      IBFLOW_BROWSER_HEADLESS: 'false',
      IBFLOW_SESSION_MAX_FAILED_LOGINS_PER_DAY: '2',
    });
    expect(cfg.temporal).toEqual({ address: 'temporal:7233', namespace: 'prod' });
    expect(cfg.clickhouse.url).toBe('http://clickhouse:8123');
    expect(cfg.clickhouse.database).toBe('depthdb');
    expect(cfg.browser.headless).toBe(false);
    expect(cfg.session.maxFailedLoginsPerDay).toBe(2);
  });

  test('empty variables are ignored', () => {
    const path = join(dir, 'c.yaml');
    writeFileSync(path, '');
    expect(loadConfig(path, { IBFLOW_TEMPORAL_ADDRESS: '' }).temporal.address).toBe('127.0.0.1:7233');
  });

  test('a bad override names the variable and the field', () => {
    const path = join(dir, 'c.yaml');
    writeFileSync(path, '');
    expect(() => loadConfig(path, { IBFLOW_CLICKHOUSE_URL: 'nope', IBFLOW_SESSION_KEEPALIVE_INTERVAL_MS: 'soon' })).toThrow(
      /clickhouse\.url \(from IBFLOW_CLICKHOUSE_URL\): must be a URL[\s\S]*session\.keepaliveIntervalMs \(from IBFLOW_SESSION_KEEPALIVE_INTERVAL_MS\): must be a number/,
    );
  });

  test('applyEnvOverrides does not touch the input and records the variables', () => {
    const raw = { temporal: { namespace: 'x' } };
    const { raw: out, fromEnv } = applyEnvOverrides(raw, { IBFLOW_TEMPORAL_ADDRESS: 'h:1' });
    expect(raw).toEqual({ temporal: { namespace: 'x' } });
    expect(out.temporal).toEqual({ namespace: 'x', address: 'h:1' });
    expect([...fromEnv]).toEqual([['temporal.address', 'IBFLOW_TEMPORAL_ADDRESS']]);
  });

  test('a YAML list at the top is a clear error', () => {
    const path = join(dir, 'c.yaml');
    writeFileSync(path, '- a\n- b\n');
    expect(() => loadConfig(path, {})).toThrow(/\(root\): must be a mapping/);
  });
});
