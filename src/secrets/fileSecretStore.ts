import { readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomicWrite';
import { SecretMissingError, SecretStoreError, type SecretStore } from './secretStore';

/**
 * Secrets in one JSON file, mode 0600. The file is re-read on every `get` so a rotated activation
 * code takes effect at the next login without a restart; writes are atomic (temp file + rename).
 */
export class FileSecretStore implements SecretStore {
  constructor(readonly path: string) {}

  async get(name: string): Promise<string> {
    const all = this.readAll();
    const value = Object.hasOwn(all, name) ? all[name] : undefined;
    if (typeof value !== 'string' || value === '') {
      throw new SecretMissingError(`secret "file:${name}" is not in ${this.path}`);
    }
    return value;
  }

  has(name: string): boolean {
    const all = this.readAll();
    return Object.hasOwn(all, name) && typeof all[name] === 'string' && all[name] !== '';
  }

  set(name: string, value: string): void {
    const all = this.exists() ? this.readAll() : {};
    all[name] = value;
    this.writeAll(all);
  }

  delete(name: string): void {
    const all = this.readAll();
    delete all[name];
    this.writeAll(all);
  }

  private exists(): boolean {
    try {
      statSync(this.path);
      return true;
    } catch {
      return false;
    }
  }

  private readAll(): Record<string, string> {
    let mode: number;
    try {
      mode = statSync(this.path).mode;
    } catch {
      return {};
    }
    if ((mode & 0o077) !== 0) {
      throw new SecretStoreError(
        `refusing to read ${this.path}: it is readable by group or others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${this.path}`,
      );
    }
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.path, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return parsed as Record<string, string>;
    } catch {
      // The parse error text could quote file content, i.e. a secret: report only the file.
      throw new SecretStoreError(`secret file ${this.path} is not a JSON object`);
    }
  }

  private writeAll(all: Record<string, string>): void {
    writeFileAtomic(this.path, JSON.stringify(all, null, 2), 0o600);
  }
}
