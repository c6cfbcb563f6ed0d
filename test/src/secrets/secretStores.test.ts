import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkActivationCode, InvalidActivationCodeError } from '../../../src/secrets/activationCode';
import { GcpSecretStore, type GcpSecretManagerLike } from '../../../src/secrets/gcpSecretStore';
import { SecretAdmin } from '../../../src/secrets/secretAdmin';
import { parseSecretRef, SecretResolver, secretFilePath } from '../../../src/secrets/secretResolver';
import { SecretMissingError, SecretStoreError } from '../../../src/secrets/secretStore';

const CANARY = 'CANARY-gcp-9d2e-do-not-leak';

/** A fake Secret Manager: secrets → versions (1-based), with the official client's call shapes. */
function fakeSecretManager(initial: Record<string, string[]> = {}) {
  const secrets = new Map(Object.entries(initial).map(([k, v]) => [k, [...v]]));
  const calls: { method: string; name: string }[] = [];
  let failWith: unknown = null;
  const client: GcpSecretManagerLike = {
    async accessSecretVersion({ name }) {
      calls.push({ method: 'access', name });
      if (failWith) throw failWith;
      const m = /^(projects\/[^/]+\/secrets\/[^/]+)\/versions\/(.+)$/.exec(name)!;
      const versions = secrets.get(m[1]!);
      if (!versions) throw Object.assign(new Error(`5 NOT_FOUND: Secret [${m[1]}] not found`), { code: 5 });
      const v = m[2] === 'latest' ? versions.length : Number(m[2]);
      const value = versions[v - 1];
      if (value === undefined) throw Object.assign(new Error('5 NOT_FOUND: version'), { code: 5 });
      return [{ payload: { data: Buffer.from(value, 'utf8') } }];
    },
    async addSecretVersion({ parent, payload }) {
      calls.push({ method: 'add', name: parent });
      if (failWith) throw failWith;
      const versions = secrets.get(parent);
      if (!versions) throw Object.assign(new Error(`5 NOT_FOUND: Secret [${parent}] not found`), { code: 5 });
      versions.push(payload.data.toString('utf8'));
      return [{ name: `${parent}/versions/${versions.length}` }];
    },
  };
  return { client, secrets, calls, fail: (err: unknown) => (failWith = err) };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const REF = 'projects/my-project/secrets/ibkr-totp';

describe('GcpSecretStore', () => {
  test('reads the latest version on every get, so a new version applies at the next login', async () => {
    const fake = fakeSecretManager({ [REF]: ['first'] });
    const store = new GcpSecretStore(fake.client);
    await expect(store.get(REF)).resolves.toBe('first');
    await store.set(REF, 'second');
    await expect(store.get(REF)).resolves.toBe('second');
    expect(fake.calls.map((c) => `${c.method} ${c.name}`)).toEqual([`access ${REF}/versions/latest`, `add ${REF}`, `access ${REF}/versions/latest`]);
  });

  test('a pinned version is read as given; payload whitespace is trimmed', async () => {
    const fake = fakeSecretManager({ [REF]: ['v1\n', 'v2'] });
    await expect(new GcpSecretStore(fake.client).get(`${REF}/versions/1`)).resolves.toBe('v1');
  });

  test('a missing secret is SecretMissingError naming the reference and how to create it', async () => {
    const err = await rejection(new GcpSecretStore(fakeSecretManager().client).get(REF));
    expect(err).toBeInstanceOf(SecretMissingError);
    expect(err.message).toContain(`gcp:${REF}`);
    expect(err.message).toContain('gcloud secrets create ibkr-totp --project my-project');
  });

  test('permission denied says which role is missing; other errors keep Google text (which may echo data) out', async () => {
    const fake = fakeSecretManager({ [REF]: [CANARY] });
    const store = new GcpSecretStore(fake.client);
    fake.fail(Object.assign(new Error(`7 PERMISSION_DENIED: ${CANARY}`), { code: 7 }));
    const denied = await rejection(store.get(REF));
    expect(denied).toBeInstanceOf(SecretStoreError);
    expect(denied.message).toContain('roles/secretmanager.secretAccessor');
    expect(denied.message).not.toContain(CANARY);
    fake.fail(Object.assign(new Error(`14 UNAVAILABLE: ${CANARY}`), { code: 14 }));
    const down = await rejection(store.set(REF, CANARY));
    expect(down.message).toMatch(/cannot write secret .*\(gRPC status 14\)/);
    expect(down.message).not.toContain(CANARY);
  });

  test('an empty payload is a missing secret', async () => {
    await expect(new GcpSecretStore(fakeSecretManager({ [REF]: ['  '] }).client).get(REF)).rejects.toBeInstanceOf(SecretMissingError);
  });

  test('malformed names are refused before any call', async () => {
    const fake = fakeSecretManager();
    await expect(new GcpSecretStore(fake.client).get('my-project/ibkr')).rejects.toThrow(/gcp:projects\/<project>\/secrets\/<secret>/);
    expect(fake.calls).toHaveLength(0);
  });
});

describe('SecretResolver with gcp:', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ibflow-gcp-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('resolves gcp: refs through the injected client, file: and env: as before', async () => {
    const fake = fakeSecretManager({ [REF]: ['JBSWY3DPEHPK3PXP'] });
    const resolver = new SecretResolver(dir, { PW: 'pw' }, { gcpClient: fake.client });
    await expect(resolver.resolve(`gcp:${REF}`)).resolves.toBe('JBSWY3DPEHPK3PXP');
    await expect(resolver.resolve('env:PW')).resolves.toBe('pw');
  });

  test('the official client is not built until a gcp: ref is resolved', async () => {
    new SecretResolver(dir, {});
    expect(Object.keys(require.cache).some((k) => k.includes('@google-cloud/secret-manager'))).toBe(false);
  });

  test('parseSecretRef', () => {
    expect(parseSecretRef('gcp:projects/p/secrets/s')).toEqual({ scheme: 'gcp', name: 'projects/p/secrets/s' });
    expect(parseSecretRef('file:a:b')).toEqual({ scheme: 'file', name: 'a:b' });
    expect(parseSecretRef('vault:x')).toBeNull();
    expect(parseSecretRef('env:')).toBeNull();
  });
});

describe('SecretAdmin', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ibflow-admin-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('writes file and gcp secrets, refuses env, removes only file secrets', async () => {
    const fake = fakeSecretManager({ [REF]: [] });
    const admin = new SecretAdmin({ stateDir: dir, env: {}, gcpClient: fake.client });
    await admin.write('file:a/password', CANARY);
    await admin.write(`gcp:${REF}`, 'code');
    expect(fake.secrets.get(REF)).toEqual(['code']);
    await expect(admin.write('env:IB_PW', CANARY)).rejects.toThrow(/cannot change it/);
    expect(admin.remove(`gcp:${REF}`)).toBe(false);
    expect(admin.remove('file:a/password')).toBe(true);
    expect(admin.remove('file:a/password')).toBe(false);
  });

  test('presence without reading values out; loose permissions are "unreadable"', async () => {
    const envFile = join(dir, 'pw');
    writeFileSync(envFile, 'x');
    const admin = new SecretAdmin({ stateDir: dir, env: { A: 'set', B_FILE: envFile } });
    expect(admin.presence('file:x')).toBe('missing');
    await admin.write('file:x', 'v');
    expect(admin.presence('file:x')).toBe('present');
    expect(admin.presence('env:A')).toBe('present');
    expect(admin.presence('env:B')).toBe('present');
    expect(admin.presence('env:C')).toBe('missing');
    expect(admin.presence(`gcp:${REF}`)).toBe('unchecked');
    chmodSync(secretFilePath(dir), 0o644);
    expect(admin.presence('file:x')).toBe('unreadable');
  });
});

describe('checkActivationCode', () => {
  test('normalises spaces, dashes and case, and computes a code', () => {
    expect(checkActivationCode('jbsw y3dp-ehpk 3pxp')).toBe('JBSWY3DPEHPK3PXP');
    expect(checkActivationCode('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')).toHaveLength(32);
  });

  test.each([
    ['', /empty/],
    ['JBSWY3DPEHPK3PX', /16 to 32/],
    ['JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPA', /16 to 32/],
    ['JBSWY3DPEHPK3PX1', /base32/],
    ['JBSWY3DPEHPK3PX!', /base32/],
  ])('rejects %p', (code, message) => {
    expect(() => checkActivationCode(code)).toThrow(InvalidActivationCodeError);
    expect(() => checkActivationCode(code)).toThrow(message);
  });

  test('errors never contain the code', () => {
    const bad = 'CANARYCODE1CANARYCODE1';
    try {
      checkActivationCode(bad);
      throw new Error('accepted');
    } catch (err) {
      expect((err as Error).message).not.toContain('CANARY');
    }
  });
});
