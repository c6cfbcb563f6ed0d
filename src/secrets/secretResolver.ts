import { join } from 'node:path';
import { EnvSecretStore } from './envSecretStore';
import { FileSecretStore } from './fileSecretStore';
import { GcpSecretStore, type GcpSecretManagerLike } from './gcpSecretStore';
import { SecretMissingError, type SecretStore } from './secretStore';

export function secretFilePath(stateDir: string): string {
  return join(stateDir, 'secrets.json');
}

export type SecretScheme = 'file' | 'env' | 'gcp';

export interface SecretResolverOptions {
  /** A Secret Manager client (tests inject a fake); default: the official client, built on first use. */
  gcpClient?: GcpSecretManagerLike;
}

/** Splits `scheme:name`; null for anything else. */
export function parseSecretRef(ref: string): { scheme: SecretScheme; name: string } | null {
  const colon = ref.indexOf(':');
  if (colon < 0) return null;
  const scheme = ref.slice(0, colon);
  const name = ref.slice(colon + 1);
  if ((scheme === 'file' || scheme === 'env' || scheme === 'gcp') && name) return { scheme, name };
  return null;
}

/** Resolves `file:<name>` / `env:<NAME>` / `gcp:projects/P/secrets/S` references; used only inside activities. */
export class SecretResolver {
  private readonly stores: Map<string, SecretStore>;

  constructor(stateDir: string, env: NodeJS.ProcessEnv = process.env, opts: SecretResolverOptions = {}) {
    this.stores = new Map<string, SecretStore>([
      ['file', new FileSecretStore(secretFilePath(stateDir))],
      ['env', new EnvSecretStore(env)],
      ['gcp', new GcpSecretStore(opts.gcpClient)],
    ]);
  }

  async resolve(ref: string): Promise<string> {
    const colon = ref.indexOf(':');
    const store = colon < 0 ? undefined : this.stores.get(ref.slice(0, colon));
    if (colon < 0 || !store) throw new SecretMissingError(`unsupported secret reference "${ref}"`);
    return store.get(ref.slice(colon + 1));
  }
}
