import { usage } from './errors';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration like 30s, 5m, 2h, 1d. */
export function parseDuration(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/i.exec(text);
  if (!m) throw usage(`${flag}: cannot read "${text}" as a duration; use e.g. 500ms, 30s, 5m, 2h, 1d`);
  const unit = m[2]!.toLowerCase();
  const ms = unit === 'ms' ? Number(m[1]) : Number(m[1]) * UNIT_MS[unit]!;
  if (ms <= 0) throw usage(`${flag}: must be more than zero`);
  return ms;
}

/**
 * A point in time: `now`, a relative time in the past (`15m`, `-2h`, `1d ago`), an ISO 8601 time
 * (`2024-05-01T14:30:00Z`; without a zone it is read as local time) or epoch milliseconds.
 */
export function parseTime(text: string, flag: string, nowMs = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return nowMs;
  const rel = /^-?\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)(\s+ago)?$/i.exec(t);
  if (rel) return nowMs - Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!;
  if (/^\d{12,14}$/.test(t)) return Number(t);
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw usage(`${flag}: cannot read "${text}" as a time; use ISO 8601 (2024-05-01T14:30:00Z), epoch milliseconds, "now", or a relative time like 15m, 2h, 1d (ago)`);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** "3 s ago", "2 min ago", "in 40 s". */
export function ago(isoOrMs: string | number | null, nowMs = Date.now()): string {
  if (isoOrMs === null) return '—';
  const ms = typeof isoOrMs === 'number' ? isoOrMs : Date.parse(isoOrMs);
  if (!Number.isFinite(ms)) return '—';
  const d = Math.round((nowMs - ms) / 1000);
  const abs = Math.abs(d);
  const text = abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : abs < 172_800 ? `${(abs / 3600).toFixed(1)} h` : `${Math.round(abs / 86400)} d`;
  return d >= 0 ? `${text} ago` : `in ${text}`;
}
