import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface AppPortTls {
  cert: string;
  key: string;
}

export const CERT_FILE = 'app-port-cert.pem';
export const KEY_FILE = 'app-port-key.pem';

/**
 * The app port's self-signed certificate for localhost, 127.0.0.1 and ::1: made on first start in
 * `certDir` (key 0600) and reused after, so a client that pinned or trusted it keeps working.
 * Clients of the real gateway already accept its self-signed certificate; the port asks no more.
 */
export async function loadOrCreateAppPortCert(certDir: string): Promise<AppPortTls> {
  const certPath = join(certDir, CERT_FILE);
  const keyPath = join(certDir, KEY_FILE);
  if (existsSync(certPath) && existsSync(keyPath)) {
    // A key copied or restored with looser permissions is tightened rather than left readable.
    if ((statSync(keyPath).mode & 0o077) !== 0) chmodSync(keyPath, 0o600);
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  }
  mkdirSync(certDir, { recursive: true, mode: 0o700 });
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
  // Write-then-rename so a second port starting on the same folder never reads half a file.
  const suffix = `.${process.pid}.tmp`;
  writeFileSync(keyPath + suffix, pems.private, { mode: 0o600 });
  writeFileSync(certPath + suffix, pems.cert);
  renameSync(keyPath + suffix, keyPath);
  renameSync(certPath + suffix, certPath);
  return { cert: pems.cert, key: pems.private };
}
