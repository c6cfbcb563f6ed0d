import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvSecretStore } from '../../../src/secrets/envSecretStore';
import { FileSecretStore } from '../../../src/secrets/fileSecretStore';
import { SecretResolver, secretFilePath } from '../../../src/secrets/secretResolver';
import { SecretMissingError, SecretStoreError } from '../../../src/secrets/secretStore';

const CANARY = 'CANARY-7f3a9c-do-not-leak';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ibflow-secrets-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('FileSecretStore', () => {
  test('set writes the file with mode 0600 and get returns the value', async () => {
    const path = join(dir, 'secrets.json');
    const store = new FileSecretStore(path);
    store.set('paper-1/password', 'pw-1');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await expect(store.get('paper-1/password')).resolves.toBe('pw-1');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ 'paper-1/password': 'pw-1' });
  });

  test('set creates missing parent directories with mode 0700', () => {
    const path = join(dir, 'state', 'nested', 'secrets.json');
    new FileSecretStore(path).set('a', 'b');
    expect(statSync(join(dir, 'state', 'nested')).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test('the file stays 0600 even if a temp file with loose permissions already exists', () => {
    // Containers often reuse the same pid, so `<path>.<pid>.tmp` from an earlier run or another user can exist.
    const path = join(dir, 'secrets.json');
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, '{}', { mode: 0o644 });
    chmodSync(tmp, 0o644);
    new FileSecretStore(path).set('live-1/totp', CANARY);
    expect(statSync(path).mode & 0o077).toBe(0);
  });

  test.each([0o640, 0o604, 0o644, 0o660, 0o606])('refuses to read a file with mode %o', async (mode) => {
    const path = join(dir, 'secrets.json');
    const store = new FileSecretStore(path);
    store.set('live-1/totp', CANARY);
    chmodSync(path, mode);
    const err = await rejection(store.get('live-1/totp'));
    expect(err).toBeInstanceOf(SecretStoreError);
    expect(err.message).toContain(path);
    expect(err.message).toContain(`chmod 600 ${path}`);
    expect(err.message).toContain(mode.toString(8));
    expect(err.message).not.toContain(CANARY);
    expect(() => store.has('live-1/totp')).toThrow(SecretStoreError);
    expect(() => store.set('x', 'y')).toThrow(SecretStoreError);
  });

  test('mode 0400 is accepted', async () => {
    const path = join(dir, 'secrets.json');
    const store = new FileSecretStore(path);
    store.set('k', 'v');
    chmodSync(path, 0o400);
    await expect(store.get('k')).resolves.toBe('v');
  });

  test('a corrupted JSON file: error names the file but never its content', async () => {
    const path = join(dir, 'secrets.json');
    writeFileSync(path, `{"live-1/totp": "${CANARY}", broken`, { mode: 0o600 });
    const store = new FileSecretStore(path);
    const err = await rejection(store.get('live-1/totp'));
    expect(err).toBeInstanceOf(SecretStoreError);
    expect(err.message).toContain(path);
    expect(err.message).toContain('not a JSON object');
    expect(err.message).not.toContain(CANARY);
    expect(String(err.stack)).not.toContain(CANARY);
  });

  test.each([`["${CANARY}"]`, `"${CANARY}"`, 'null', '42'])('valid JSON that is not an object (%s) is rejected without content', async (text) => {
    const path = join(dir, 'secrets.json');
    writeFileSync(path, text, { mode: 0o600 });
    const err = await rejection(new FileSecretStore(path).get('x'));
    expect(err).toBeInstanceOf(SecretStoreError);
    expect(err.message).not.toContain(CANARY);
  });

  test('a missing secret names the reference and the file, not other secrets', async () => {
    const path = join(dir, 'secrets.json');
    const store = new FileSecretStore(path);
    store.set('paper-1/password', CANARY);
    const err = await rejection(store.get('live-1/totp'));
    expect(err).toBeInstanceOf(SecretMissingError);
    expect(err.message).toContain('file:live-1/totp');
    expect(err.message).toContain(path);
    expect(err.message).not.toContain(CANARY);
    expect(err.message).not.toContain('paper-1/password');
  });

  test('a missing file means no secrets', async () => {
    const store = new FileSecretStore(join(dir, 'none.json'));
    expect(store.has('a')).toBe(false);
    await expect(store.get('a')).rejects.toBeInstanceOf(SecretMissingError);
  });

  test('an empty-string value counts as missing for get', async () => {
    const path = join(dir, 'secrets.json');
    writeFileSync(path, JSON.stringify({ a: '', b: 7 }), { mode: 0o600 });
    const store = new FileSecretStore(path);
    await expect(store.get('a')).rejects.toBeInstanceOf(SecretMissingError);
    await expect(store.get('b')).rejects.toBeInstanceOf(SecretMissingError);
  });

  test('prototype property names are not secrets', async () => {
    const store = new FileSecretStore(join(dir, 'secrets.json'));
    store.set('k', 'v');
    await expect(store.get('constructor')).rejects.toBeInstanceOf(SecretMissingError);
    await expect(store.get('toString')).rejects.toBeInstanceOf(SecretMissingError);
    await expect(store.get('__proto__')).rejects.toBeInstanceOf(SecretMissingError);
  });

  test('set keeps other secrets, delete removes only the named one', async () => {
    const path = join(dir, 'secrets.json');
    const store = new FileSecretStore(path);
    store.set('a', '1');
    store.set('b', '2');
    expect(store.has('a')).toBe(true);
    store.delete('a');
    expect(store.has('a')).toBe(false);
    await expect(store.get('b')).resolves.toBe('2');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ b: '2' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test('set and delete replace the file atomically (new inode, no temp file left)', () => {
    const path = join(dir, 'secrets.json');
    const store = new FileSecretStore(path);
    store.set('a', '1');
    const ino1 = statSync(path).ino;
    store.set('a', '2');
    const ino2 = statSync(path).ino;
    expect(ino2).not.toBe(ino1);
    store.delete('a');
    expect(statSync(path).ino).not.toBe(ino2);
    expect(readdirSync(dir)).toEqual(['secrets.json']);
  });

  test('a failed write leaves the previous file intact', async () => {
    const path = join(dir, 'secrets.json');
    const store = new FileSecretStore(path);
    store.set('a', 'old');
    mkdirSync(`${path}.${process.pid}.tmp`); // the temp file cannot be opened
    expect(() => store.set('a', 'new')).toThrow();
    await expect(store.get('a')).resolves.toBe('old');
    expect(existsSync(path)).toBe(true);
  });

  test('rotation: a value set by another instance is returned without a new instance', async () => {
    const path = join(dir, 'secrets.json');
    const worker = new FileSecretStore(path);
    const cli = new FileSecretStore(path);
    cli.set('live-1/totp', 'AAAAAAAAAAAAAAAA');
    await expect(worker.get('live-1/totp')).resolves.toBe('AAAAAAAAAAAAAAAA');
    cli.set('live-1/totp', 'BBBBBBBBBBBBBBBB');
    await expect(worker.get('live-1/totp')).resolves.toBe('BBBBBBBBBBBBBBBB');
    cli.delete('live-1/totp');
    await expect(worker.get('live-1/totp')).rejects.toBeInstanceOf(SecretMissingError);
  });
});

describe('EnvSecretStore', () => {
  test('reads NAME', async () => {
    await expect(new EnvSecretStore({ IB_PASSWORD: 'pw' }).get('IB_PASSWORD')).resolves.toBe('pw');
  });

  test('reads NAME_FILE, trimmed', async () => {
    const file = join(dir, 'pw');
    writeFileSync(file, '  from-file\n');
    await expect(new EnvSecretStore({ IB_PASSWORD_FILE: file }).get('IB_PASSWORD')).resolves.toBe('from-file');
  });

  test('NAME wins over NAME_FILE', async () => {
    const file = join(dir, 'pw');
    writeFileSync(file, 'from-file');
    await expect(new EnvSecretStore({ IB_PASSWORD: 'direct', IB_PASSWORD_FILE: file }).get('IB_PASSWORD')).resolves.toBe('direct');
  });

  test('an empty NAME falls back to NAME_FILE', async () => {
    const file = join(dir, 'pw');
    writeFileSync(file, 'from-file');
    await expect(new EnvSecretStore({ IB_PASSWORD: '', IB_PASSWORD_FILE: file }).get('IB_PASSWORD')).resolves.toBe('from-file');
  });

  test('not set: SecretMissingError naming both variables, no other values', async () => {
    const err = await rejection(new EnvSecretStore({ OTHER: CANARY }).get('IB_PASSWORD'));
    expect(err).toBeInstanceOf(SecretMissingError);
    expect(err.message).toContain('env:IB_PASSWORD');
    expect(err.message).toContain('IB_PASSWORD_FILE');
    expect(err.message).not.toContain(CANARY);
  });

  test('an unreadable NAME_FILE names the variable and the errno code', async () => {
    const err = await rejection(new EnvSecretStore({ IB_PASSWORD_FILE: join(dir, 'missing') }).get('IB_PASSWORD'));
    expect(err).toBeInstanceOf(SecretMissingError);
    expect(err.message).toContain('IB_PASSWORD_FILE');
    expect(err.message).toContain('ENOENT');
  });

  test('an empty NAME_FILE counts as not set', async () => {
    const file = join(dir, 'empty');
    writeFileSync(file, '\n  \n');
    await expect(new EnvSecretStore({ IB_PASSWORD_FILE: file }).get('IB_PASSWORD')).rejects.toThrow(/is not set/);
  });

  test('reads process.env by default', async () => {
    const name = `IBFLOW_TEST_SECRET_${process.pid}`;
    process.env[name] = 'from-process';
    try {
      await expect(new EnvSecretStore().get(name)).resolves.toBe('from-process');
    } finally {
      delete process.env[name];
    }
  });

  // Inherited Object.prototype members (`env:toString`) must not "resolve" to a function.
  test('inherited property names (toString, constructor) are not set variables', async () => {
    await expect(new EnvSecretStore({}).get('toString')).rejects.toBeInstanceOf(SecretMissingError);
    await expect(new EnvSecretStore({}).get('constructor')).rejects.toBeInstanceOf(SecretMissingError);
  });
});

describe('SecretResolver', () => {
  test('secretFilePath is secrets.json in the state dir', () => {
    expect(secretFilePath('/var/lib/ibflow')).toBe('/var/lib/ibflow/secrets.json');
  });

  test('resolves file: from <stateDir>/secrets.json and env: from the given env', async () => {
    new FileSecretStore(secretFilePath(dir)).set('live-1/totp', 'JBSWY3DPEHPK3PXP');
    const resolver = new SecretResolver(dir, { IB_PW: 'pw' });
    await expect(resolver.resolve('file:live-1/totp')).resolves.toBe('JBSWY3DPEHPK3PXP');
    await expect(resolver.resolve('env:IB_PW')).resolves.toBe('pw');
  });

  test('only the first colon separates the scheme', async () => {
    new FileSecretStore(secretFilePath(dir)).set('a:b', 'colon');
    await expect(new SecretResolver(dir, {}).resolve('file:a:b')).resolves.toBe('colon');
  });

  test.each(['vault:x', 'plain-password', 'filex', ':x', 'FILE:x', 'https://example.com/x'])('rejects unsupported reference %p', async (ref) => {
    const err = await rejection(new SecretResolver(dir, {}).resolve(ref));
    expect(err).toBeInstanceOf(SecretMissingError);
    expect(err.message).toContain(`unsupported secret reference "${ref}"`);
  });

  // Object.prototype member names are not stores: a clear SecretMissingError, not a TypeError.
  test.each(['constructor:x', 'toString:x', '__proto__:x'])('rejects prototype-named scheme %p', async (ref) => {
    await expect(new SecretResolver(dir, {}).resolve(ref)).rejects.toBeInstanceOf(SecretMissingError);
  });

  test('a missing env secret propagates SecretMissingError', async () => {
    await expect(new SecretResolver(dir, {}).resolve('env:NOPE')).rejects.toThrow('secret "env:NOPE" is not set');
  });

  test('file store errors are not swallowed', async () => {
    const path = secretFilePath(dir);
    new FileSecretStore(path).set('a', CANARY);
    chmodSync(path, 0o644);
    const err = await rejection(new SecretResolver(dir, {}).resolve('file:a'));
    expect(err).toBeInstanceOf(SecretStoreError);
    expect(err.message).not.toContain(CANARY);
  });
});
