import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CERT_FILE, KEY_FILE, loadOrCreateAppPortCert } from '../../../src/appPort/appPortCertificate';

describe('app port certificate', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ibflow-app-port-certdir-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('made on first start for localhost, 127.0.0.1 and ::1, key 0600, and reused after', async () => {
    const certDir = join(root, 'nested', 'tls');
    const first = await loadOrCreateAppPortCert(certDir);
    expect(statSync(join(certDir, KEY_FILE)).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(first.cert);
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.subjectAltName).toMatch(/IP Address:(0:0:0:0:0:0:0:1|::1)/);
    expect(cert.checkPrivateKey(createPrivateKey(first.key))).toBe(true);

    const second = await loadOrCreateAppPortCert(certDir);
    expect(second.cert).toBe(first.cert);
    expect(second.key).toBe(first.key);
    expect(statSync(join(certDir, CERT_FILE)).isFile()).toBe(true);
  });

  test('a reused key readable by others is tightened to 0600', async () => {
    const certDir = join(root, 'loose');
    await loadOrCreateAppPortCert(certDir);
    chmodSync(join(certDir, KEY_FILE), 0o644);
    await loadOrCreateAppPortCert(certDir);
    expect(statSync(join(certDir, KEY_FILE)).mode & 0o777).toBe(0o600);
  });
});
