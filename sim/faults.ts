/** Control-plane fault injection on gateway HTTP paths: status codes and latency, by glob or prefix. */

export interface PathFault {
  id: number;
  /** `*` matches any run of characters (glob); without `*` the path is a prefix. */
  path: string;
  /** Status to answer instead of the real handler (5xx or 429); none = only latency. */
  status?: number;
  latencyMs?: number;
  /** Requests left to affect; undefined = until cleared. */
  remaining?: number;
}

export type LoginFaultKind = 'wrong-password' | 'timeout' | 'page-change';

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

export function pathMatches(pattern: string, path: string): boolean {
  return pattern.includes('*') ? globToRegExp(pattern).test(path) : path.startsWith(pattern);
}

export class Faults {
  private nextId = 1;
  private readonly paths: PathFault[] = [];
  /** Pending login faults, used in order. */
  private readonly logins: LoginFaultKind[] = [];

  addPath(fault: Omit<PathFault, 'id'>): PathFault {
    const f = { ...fault, id: this.nextId++ };
    this.paths.push(f);
    return f;
  }

  /** The first fault matching one of the request's path spellings; consumes one use. */
  takePath(paths: string[]): PathFault | undefined {
    const i = this.paths.findIndex((f) => paths.some((p) => pathMatches(f.path, p)));
    if (i < 0) return undefined;
    const f = this.paths[i];
    if (f.remaining !== undefined) {
      f.remaining -= 1;
      if (f.remaining <= 0) this.paths.splice(i, 1);
    }
    return { ...f };
  }

  listPaths(): PathFault[] {
    return this.paths.map((f) => ({ ...f }));
  }

  addLogins(kind: LoginFaultKind, count: number): void {
    for (let i = 0; i < count; i++) this.logins.push(kind);
  }

  /** Consumes the next login fault if it is of one of these kinds. */
  takeLogin(kinds: LoginFaultKind[]): LoginFaultKind | undefined {
    if (this.logins.length === 0 || !kinds.includes(this.logins[0])) return undefined;
    return this.logins.shift();
  }

  pendingLogins(): LoginFaultKind[] {
    return [...this.logins];
  }

  clear(): void {
    this.paths.length = 0;
    this.logins.length = 0;
  }
}
