import { activeMaintenanceWindow, DEFAULT_MAINTENANCE, localClock } from '../../workflows/maintenance';

const at = (iso: string) => Date.parse(iso);

test('local clock follows the zone, including daylight saving', () => {
  expect(localClock(at('2026-07-01T04:30:00Z'), 'America/New_York')).toEqual({ day: 3, minute: 30 }); // EDT, Wed 00:30
  expect(localClock(at('2026-12-02T05:30:00Z'), 'America/New_York')).toEqual({ day: 3, minute: 30 }); // EST, Wed 00:30
  expect(localClock(at('2026-12-02T05:30:00Z'), 'Asia/Hong_Kong')).toEqual({ day: 3, minute: 13 * 60 + 30 });
});

test('the North America daily reset is 00:15–01:45 New York time, in winter and summer', () => {
  expect(activeMaintenanceWindow(at('2026-12-02T05:14:00Z'), DEFAULT_MAINTENANCE)).toBeNull(); // 00:14 EST
  expect(activeMaintenanceWindow(at('2026-12-02T05:15:00Z'), DEFAULT_MAINTENANCE)).toEqual({ name: 'daily reset', endsAtMs: at('2026-12-02T06:45:00Z') });
  expect(activeMaintenanceWindow(at('2026-07-01T05:44:30Z'), DEFAULT_MAINTENANCE)).toEqual({ name: 'daily reset', endsAtMs: at('2026-07-01T05:45:00Z') });
  expect(activeMaintenanceWindow(at('2026-07-01T05:45:00Z'), DEFAULT_MAINTENANCE)).toBeNull(); // 01:45 EDT: over
});

test('the weekly window runs Friday 23:00 to Saturday 03:00 New York time and wins over the daily one', () => {
  expect(activeMaintenanceWindow(at('2026-11-28T03:59:00Z'), DEFAULT_MAINTENANCE)).toBeNull(); // Fri 22:59 EST
  expect(activeMaintenanceWindow(at('2026-11-28T04:00:00Z'), DEFAULT_MAINTENANCE)).toEqual({ name: 'weekly maintenance', endsAtMs: at('2026-11-28T08:00:00Z') });
  // Sat 00:30 EST is inside both; the later end (03:00) is what matters.
  expect(activeMaintenanceWindow(at('2026-11-28T05:30:00Z'), DEFAULT_MAINTENANCE)).toEqual({ name: 'weekly maintenance', endsAtMs: at('2026-11-28T08:00:00Z') });
  expect(activeMaintenanceWindow(at('2026-11-28T08:00:00Z'), DEFAULT_MAINTENANCE)).toBeNull();
});

test('a daily window may cross midnight; an empty calendar never matches', () => {
  const cal = { daily: [{ zone: 'UTC', start: '23:30', end: '00:30' }], weekly: [] };
  expect(activeMaintenanceWindow(at('2026-11-25T23:45:00Z'), cal)).toEqual({ name: 'daily reset', endsAtMs: at('2026-11-26T00:30:00Z') });
  expect(activeMaintenanceWindow(at('2026-11-26T00:10:00Z'), cal)).toEqual({ name: 'daily reset', endsAtMs: at('2026-11-26T00:30:00Z') });
  expect(activeMaintenanceWindow(at('2026-11-26T00:30:00Z'), cal)).toBeNull();
  expect(activeMaintenanceWindow(at('2026-11-26T00:10:00Z'), { daily: [], weekly: [] })).toBeNull();
});
