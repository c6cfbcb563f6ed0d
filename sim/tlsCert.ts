import { join } from 'node:path';
import { loadOrCreateSelfSignedCert, type TlsMaterial } from '../src/tls/selfSignedCertificate';

export type { TlsMaterial };

/**
 * Returns the simulator's self-signed certificate, generating it once and caching it in stateDir
 * (like the real gateway's bundled keystore, clients must connect insecurely to localhost).
 */
export function loadOrCreateTlsCert(stateDir: string): Promise<TlsMaterial> {
  return loadOrCreateSelfSignedCert({ dir: join(stateDir, 'tls'), certFile: 'cert.pem', keyFile: 'key.pem' });
}
