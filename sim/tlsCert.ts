import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  cert: string;
  key: string;
}

/**
 * Returns the simulator's self-signed certificate, generating it once and caching it in stateDir
 * (like the real gateway's bundled keystore, clients must connect insecurely to localhost).
 */
export async function loadOrCreateTlsCert(stateDir: string): Promise<TlsMaterial> {
  const dir = join(stateDir, 'tls');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  }
  mkdirSync(dir, { recursive: true });
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  // Write-then-rename so a concurrent simulator on the same stateDir never reads half a file.
  const suffix = `.${process.pid}.tmp`;
  writeFileSync(keyPath + suffix, pems.private, { mode: 0o600 });
  writeFileSync(certPath + suffix, pems.cert);
  renameSync(keyPath + suffix, keyPath);
  renameSync(certPath + suffix, certPath);
  return { cert: pems.cert, key: pems.private };
}
