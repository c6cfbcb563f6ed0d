import { join } from 'node:path';
import { EnvSecretStore } from './envSecretStore';
import { FileSecretStore } from './fileSecretStore';
import { SecretMissingError, type SecretStore } from './secretStore';

export function secretFilePath(stateDir: string): string {
  return join(stateDir, 'secrets.json');
}

/** Resolves `file:<name>` / `env:<NAME>` references; used only inside activities. */
export class SecretResolver {
  private readonly stores: Map<string, SecretStore>;

  constructor(stateDir: string, env: NodeJS.ProcessEnv = process.env) {
    this.stores = new Map<string, SecretStore>([
      ['file', new FileSecretStore(secretFilePath(stateDir))],
      ['env', new EnvSecretStore(env)],
    ]);
  }

  async resolve(ref: string): Promise<string> {
    const colon = ref.indexOf(':');
    const store = colon < 0 ? undefined : this.stores.get(ref.slice(0, colon));
    if (colon < 0 || !store) throw new SecretMissingError(`unsupported secret reference "${ref}"`);
    return store.get(ref.slice(colon + 1));
  }
}
