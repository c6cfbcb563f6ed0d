import { existsSync } from 'node:fs';
import { FileSecretStore } from './fileSecretStore';
import { GcpSecretStore, type GcpSecretManagerLike } from './gcpSecretStore';
import { parseSecretRef, secretFilePath } from './secretResolver';
import { SecretStoreError } from './secretStore';

/**
 * What the CLI does with secrets outside activities: write a new value, delete one, and tell
 * whether one is present — never read a value back out to show it.
 */
export interface SecretAdminOptions {
  stateDir: string;
  env?: NodeJS.ProcessEnv;
  gcpClient?: GcpSecretManagerLike;
}

export type SecretPresence = 'present' | 'missing' | 'unchecked' | 'unreadable';

export class SecretAdmin {
  private readonly file: FileSecretStore;
  private readonly env: NodeJS.ProcessEnv;
  private gcp: GcpSecretStore | null = null;

  constructor(private readonly opts: SecretAdminOptions) {
    this.file = new FileSecretStore(secretFilePath(opts.stateDir));
    this.env = opts.env ?? process.env;
  }

  get filePath(): string {
    return this.file.path;
  }

  private gcpStore(): GcpSecretStore {
    this.gcp ??= new GcpSecretStore(this.opts.gcpClient);
    return this.gcp;
  }

  /** Stores `value` under `ref`: file (0600, atomic) or a new Secret Manager version. env: cannot be written. */
  async write(ref: string, value: string): Promise<void> {
    const parsed = parseSecretRef(ref);
    if (!parsed) throw new SecretStoreError(`unsupported secret reference "${ref}"`);
    switch (parsed.scheme) {
      case 'file':
        this.file.set(parsed.name, value);
        return;
      case 'gcp':
        await this.gcpStore().set(parsed.name, value);
        return;
      case 'env':
        throw new SecretStoreError(
          `"${ref}" is an environment variable: ibflow cannot change it. Set ${parsed.name} (or the file named by ${parsed.name}_FILE) where the pod worker runs`,
        );
    }
  }

  /** Removes a file secret; other stores are left alone (reported by the caller). Returns whether anything was removed. */
  remove(ref: string): boolean {
    const parsed = parseSecretRef(ref);
    if (!parsed || parsed.scheme !== 'file') return false;
    if (!this.file.has(parsed.name)) return false;
    this.file.delete(parsed.name);
    return true;
  }

  /** Present or not, without reading the value out. env: is checked in this process's environment. gcp: is not contacted. */
  presence(ref: string): SecretPresence {
    const parsed = parseSecretRef(ref);
    if (!parsed) return 'missing';
    if (parsed.scheme === 'file') {
      try {
        return this.file.has(parsed.name) ? 'present' : 'missing';
      } catch {
        return 'unreadable';
      }
    }
    if (parsed.scheme === 'env') {
      const own = (k: string) => (Object.hasOwn(this.env, k) ? this.env[k] : undefined);
      if (own(parsed.name)) return 'present';
      const file = own(`${parsed.name}_FILE`);
      return file && existsSync(file) ? 'present' : 'missing';
    }
    return 'unchecked';
  }
}
