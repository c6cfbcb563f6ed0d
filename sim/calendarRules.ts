/**
 * Calendar rules of IBKR sessions, evaluated in a configurable IANA time zone without a date
 * library: the daily reset (sessions opened before the latest reset time end) and the weekly
 * maintenance window (no sessions, no logins inside it).
 */

export interface LocalParts {
  /** 0 = Sunday … 6 = Saturday */
  weekday: number;
  /** YYYY-MM-DD in the zone */
  date: string;
  /** minutes since local midnight */
  minutes: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

export function localParts(epochMs: number, timeZone: string): LocalParts {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(epochMs))) parts[p.type] = p.value;
  return {
    weekday: WEEKDAYS[parts.weekday] ?? 0,
    date: `${parts.year}-${parts.month}-${parts.day}`,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

/** `HH:MM` → minutes since midnight; throws on anything else. */
export function parseTimeOfDay(text: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) throw new Error(`time of day must be HH:MM (got "${text}")`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** `Fri 23:00` → minutes since Sunday 00:00. */
export function parseWeekTime(text: string): number {
  const m = /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat)\s+(\d{1,2}:\d{2})$/.exec(text.trim());
  if (!m) throw new Error(`weekly time must look like "Fri 23:00" (got "${text}")`);
  return WEEKDAYS[m[1]] * 1440 + parseTimeOfDay(m[2]);
}

export interface DailyResetRule {
  time: string; // HH:MM local
  timeZone: string;
}

/**
 * Identifies the reset period containing `epochMs`: the local date of the latest reset at or
 * before it. Two instants in different periods have a reset between them.
 */
export function resetPeriod(epochMs: number, rule: DailyResetRule): string {
  const p = localParts(epochMs, rule.timeZone);
  if (p.minutes >= parseTimeOfDay(rule.time)) return p.date;
  // Before today's reset: the period began at yesterday's reset.
  const [y, m, d] = p.date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
}

export interface MaintenanceRule {
  start: string; // e.g. 'Fri 23:00'
  end: string; // e.g. 'Sat 03:00'
  timeZone: string;
}

export function inMaintenance(epochMs: number, rule: MaintenanceRule): boolean {
  const p = localParts(epochMs, rule.timeZone);
  const t = p.weekday * 1440 + p.minutes;
  const start = parseWeekTime(rule.start);
  const end = parseWeekTime(rule.end);
  return start <= end ? t >= start && t < end : t >= start || t < end;
}
