/**
 * IBKR's published maintenance windows, during which sessions drop and logins fail by design.
 * Pure and deterministic (Intl with an explicit time zone), so workflows can use it.
 */
export interface DailyWindow {
  /** IANA zone of the connecting region, e.g. America/New_York. */
  zone: string;
  /** Local "HH:MM"; a window may cross midnight (end < start). */
  start: string;
  end: string;
}

export interface WeeklyWindow {
  zone: string;
  /** 0 = Sunday … 6 = Saturday, local. */
  startDay: number;
  start: string;
  endDay: number;
  end: string;
}

export interface MaintenanceCalendar {
  daily: DailyWindow[];
  weekly: WeeklyWindow[];
}

/** North America defaults from IBKR's status page: daily reset 00:15–01:45 ET; Fri 23:00 – Sat 03:00 ET. */
export const DEFAULT_MAINTENANCE: MaintenanceCalendar = {
  daily: [{ zone: 'America/New_York', start: '00:15', end: '01:45' }],
  weekly: [{ zone: 'America/New_York', startDay: 5, start: '23:00', endDay: 6, end: '03:00' }],
};

export interface ActiveWindow {
  name: 'daily reset' | 'weekly maintenance';
  endsAtMs: number;
}

const WEEK_MIN = 7 * 24 * 60;
const DAY_MIN = 24 * 60;

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Local weekday and minute of the day in `zone` at `nowMs`. */
export function localClock(nowMs: number, zone: string): { day: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(
    new Date(nowMs),
  );
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { day: WEEKDAYS.indexOf(get('weekday')), minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

/** The window `nowMs` falls in, if any, with when it ends. */
export function activeMaintenanceWindow(nowMs: number, calendar: MaintenanceCalendar): ActiveWindow | null {
  let found: ActiveWindow | null = null;
  const consider = (name: ActiveWindow['name'], minutesLeft: number) => {
    const endsAtMs = nowMs + minutesLeft * 60_000 - (nowMs % 60_000);
    if (!found || endsAtMs > found.endsAtMs) found = { name, endsAtMs };
  };
  for (const w of calendar.daily) {
    const { minute } = localClock(nowMs, w.zone);
    const start = minutesOf(w.start);
    const length = (minutesOf(w.end) - start + DAY_MIN) % DAY_MIN;
    const into = (minute - start + DAY_MIN) % DAY_MIN;
    if (into < length) consider('daily reset', length - into);
  }
  for (const w of calendar.weekly) {
    const { day, minute } = localClock(nowMs, w.zone);
    const start = w.startDay * DAY_MIN + minutesOf(w.start);
    const length = (w.endDay * DAY_MIN + minutesOf(w.end) - start + WEEK_MIN) % WEEK_MIN;
    const into = (day * DAY_MIN + minute - start + WEEK_MIN) % WEEK_MIN;
    if (into < length) consider('weekly maintenance', length - into);
  }
  return found;
}
