import { loadOrCreateSelfSignedCert, type TlsMaterial } from '../tls/selfSignedCertificate';

export type AppPortTls = TlsMaterial;

export const CERT_FILE = 'app-port-cert.pem';
export const KEY_FILE = 'app-port-key.pem';

/**
 * The app port's self-signed certificate, made on first start in `certDir` and reused after.
 * Clients of the real gateway already accept its self-signed certificate; the port asks no more.
 */
export function loadOrCreateAppPortCert(certDir: string): Promise<AppPortTls> {
  return loadOrCreateSelfSignedCert({ dir: certDir, certFile: CERT_FILE, keyFile: KEY_FILE });
}
