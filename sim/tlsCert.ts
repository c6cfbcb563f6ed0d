import { join } from 'node:path';
import { loadOrCreateSelfSignedCert, type TlsMaterial } from '../src/tls/selfSignedCertificate';

export type { TlsMaterial };

/**
 * `expired`: like the real gateway's bundled certificate (self-signed, CN "Client Portal Web API",
 * expired since May 2019); `fresh`: a ten-year localhost certificate.
 */
export type SimCertificateKind = 'expired' | 'fresh';

export const SIM_CERTIFICATE_KINDS: readonly SimCertificateKind[] = ['expired', 'fresh'];

/** The real one's subject CN; its exact validity was not recorded, so these dates are approximations. */
export const EXPIRED_CERTIFICATE = {
  commonName: 'Client Portal Web API',
  notBefore: new Date('2018-05-01T00:00:00Z'),
  notAfter: new Date('2019-05-31T00:00:00Z'),
} as const;

/** File names per kind in `<stateDir>/tls/`, so a state dir holding an older fresh certificate keeps it apart. */
export const CERTIFICATE_FILES: Record<SimCertificateKind, { certFile: string; keyFile: string }> = {
  fresh: { certFile: 'cert.pem', keyFile: 'key.pem' },
  expired: { certFile: 'expired-cert.pem', keyFile: 'expired-key.pem' },
};

/**
 * Returns the simulator's self-signed certificate of that kind, generating it once and caching it
 * in stateDir (like the real gateway's bundled keystore, clients must connect insecurely to localhost).
 */
export function loadOrCreateTlsCert(stateDir: string, kind: SimCertificateKind = 'expired'): Promise<TlsMaterial> {
  const dir = join(stateDir, 'tls');
  if (kind === 'fresh') return loadOrCreateSelfSignedCert({ dir, ...CERTIFICATE_FILES.fresh });
  return loadOrCreateSelfSignedCert({ dir, ...CERTIFICATE_FILES.expired, ...EXPIRED_CERTIFICATE });
}
