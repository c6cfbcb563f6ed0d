import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Small JSON files in stateDir shared by every simulator using it (other processes included). */
export class StateFiles {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** File name for a key; hex so any username is a safe file name. */
  path(key: string): string {
    return join(this.dir, `${Buffer.from(key, 'utf8').toString('hex')}.json`);
  }

  read<T>(key: string): T | undefined {
    try {
      return JSON.parse(readFileSync(this.path(key), 'utf8')) as T;
    } catch {
      return undefined; // missing or (never with rename) half-written
    }
  }

  /** Write-then-rename, so readers see the old or the new content, never a mix. */
  write(key: string, value: unknown): void {
    const target = this.path(key);
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
    renameSync(tmp, target);
  }

  remove(key: string): void {
    try {
      unlinkSync(this.path(key));
    } catch {
      // already gone
    }
  }
}
