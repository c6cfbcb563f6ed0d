import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { writeFileAtomic } from '../util/atomicWrite';

export interface TlsMaterial {
  cert: string;
  key: string;
}

export interface SelfSignedOptions {
  dir: string;
  certFile: string;
  keyFile: string;
  commonName?: string;
  /** Validity from now; default ten years. Ignored when `notAfter` is given. */
  validForMs?: number;
  /** Start of validity; default now. */
  notBefore?: Date;
  /** End of validity; default `validForMs` from now. A date in the past makes an expired certificate. */
  notAfter?: Date;
}

/**
 * A self-signed certificate for localhost, 127.0.0.1 and ::1 (what the stock gateway has, and what
 * a loopback-only port needs): made once in `dir` (key 0600, written whole or not at all, so a
 * second process starting on the same folder never reads half a file) and reused after, so a
 * client that trusted it keeps working. A key restored with looser permissions is tightened.
 */
export async function loadOrCreateSelfSignedCert(opts: SelfSignedOptions): Promise<TlsMaterial> {
  const certPath = join(opts.dir, opts.certFile);
  const keyPath = join(opts.dir, opts.keyFile);
  if (existsSync(certPath) && existsSync(keyPath)) {
    if ((statSync(keyPath).mode & 0o077) !== 0) chmodSync(keyPath, 0o600);
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  }
  const pems = await generate([{ name: 'commonName', value: opts.commonName ?? 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    ...(opts.notBefore ? { notBeforeDate: opts.notBefore } : {}),
    notAfterDate: opts.notAfter ?? new Date(Date.now() + (opts.validForMs ?? 10 * 365 * 24 * 3600 * 1000)),
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
  // The key first: a certificate on disk always has its key.
  writeFileAtomic(keyPath, pems.private, 0o600);
  writeFileAtomic(certPath, pems.cert, 0o644);
  return { cert: pems.cert, key: pems.private };
}
