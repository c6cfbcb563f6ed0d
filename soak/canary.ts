import { randomBytes } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Canary secrets: distinctive values used as the soak's passwords and activation codes, so that
 * finding one anywhere (history, log, table, evidence, state file) is unambiguous. Only letters
 * and digits, so no encoding (JSON, URL, HTML) changes them; base64 forms are searched too.
 */
export interface Canary {
  /** What it is, never its value: "password of soak-1". */
  label: string;
  value: string;
}

export interface Needle {
  label: string;
  bytes: Buffer;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function canaryPassword(tag: string): string {
  return `CanaryPw${tag}x${randomBytes(9).toString('hex')}Qz`;
}

/** A valid authenticator activation code (base32, 32 characters) that starts with CANARYTOTP. */
export function canaryActivationCode(): string {
  const bytes = randomBytes(22);
  let out = 'CANARYTOTP';
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}

/** The value itself, its lower-case form, and the stable middle of its base64 at each byte alignment. */
export function needlesOf(canaries: readonly Canary[]): Needle[] {
  const needles: Needle[] = [];
  for (const c of canaries) {
    needles.push({ label: c.label, bytes: Buffer.from(c.value, 'utf8') });
    if (c.value.toLowerCase() !== c.value) needles.push({ label: `${c.label} (lower-cased)`, bytes: Buffer.from(c.value.toLowerCase(), 'utf8') });
    for (let shift = 0; shift < 3; shift++) {
      const b64 = Buffer.concat([Buffer.alloc(shift), Buffer.from(c.value, 'utf8')]).toString('base64');
      // Characters 0..(prefix) and the last 4 depend on the neighbours; keep the part fixed by the value.
      const start = Math.ceil((shift * 4) / 3) + 2;
      const core = b64.slice(start, b64.length - 4);
      if (core.length >= 12) needles.push({ label: `${c.label} (base64)`, bytes: Buffer.from(core, 'utf8') });
    }
  }
  return needles;
}

export interface LeakHit {
  where: string;
  what: string;
}

export function scanBuffer(buf: Buffer, needles: readonly Needle[], where: string): LeakHit[] {
  const hits: LeakHit[] = [];
  for (const n of needles) if (buf.indexOf(n.bytes) !== -1) hits.push({ where, what: n.label });
  return hits;
}

const CHUNK = 8 * 1024 * 1024;
let scratch = Buffer.alloc(0);

/** Streams a file in chunks (with overlap) so large ClickHouse parts and SQLite files are fine. */
export function scanFile(path: string, needles: readonly Needle[], where = path): LeakHit[] {
  const overlap = Math.max(0, ...needles.map((n) => n.bytes.length));
  // One buffer for every file (a fresh 8 MB per file would dominate a scan of ClickHouse's many small files).
  if (scratch.length < CHUNK + overlap) scratch = Buffer.allocUnsafe(CHUNK + overlap);
  const chunk = scratch;
  const found = new Map<string, LeakHit>();
  const fd = openSync(path, 'r');
  try {
    let carried = 0;
    for (;;) {
      const n = readSync(fd, chunk, carried, chunk.length - carried, null);
      if (n === 0) break;
      const view = chunk.subarray(0, carried + n);
      for (const h of scanBuffer(view, needles, where)) found.set(h.what, h);
      carried = Math.min(overlap, view.length);
      view.copy(chunk, 0, view.length - carried);
    }
  } finally {
    closeSync(fd);
  }
  return [...found.values()];
}

export interface DirScan {
  files: number;
  bytes: number;
  hits: LeakHit[];
  skipped: string[];
}

/** Every regular file under dir, except the given paths (the secret store and the simulator's users files). */
export function scanDir(dir: string, needles: readonly Needle[], exclude: readonly string[]): DirScan {
  const excluded = new Set(exclude.map((p) => resolve(p)));
  const out: DirScan = { files: 0, bytes: 0, hits: [], skipped: [] };
  const walk = (d: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries) {
      const p = join(d, name);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue; // removed meanwhile (ClickHouse merges)
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        if (excluded.has(resolve(p))) {
          out.skipped.push(p);
          continue;
        }
        try {
          out.hits.push(...scanFile(p, needles, p));
          out.files++;
          out.bytes += st.size;
        } catch {
          // vanished between lstat and open
        }
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * Every string and byte array inside a decoded object (a Temporal history: payload data are bytes,
 * so a plain JSON.stringify would render them as lists of numbers and hide a secret).
 */
export function scanObject(value: unknown, needles: readonly Needle[], where: string): LeakHit[] {
  const parts: Buffer[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'string') parts.push(Buffer.from(v, 'utf8'));
    else if (v instanceof Uint8Array) parts.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    else if (typeof v === 'object') {
      if (seen.has(v)) return;
      seen.add(v);
      if (Array.isArray(v)) for (const x of v) walk(x);
      else for (const x of Object.values(v as Record<string, unknown>)) walk(x);
    }
  };
  walk(value);
  const found = new Map<string, LeakHit>();
  for (const p of parts) for (const h of scanBuffer(p, needles, where)) found.set(h.what, h);
  return [...found.values()];
}
