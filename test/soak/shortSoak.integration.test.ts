/**
 * The short soak: the real stack (Temporal dev server, ClickHouse, Chromium logins, simulated
 * gateways, pod workers as child processes) with every fault type at least once, then the full
 * audit. `npm run soak -- --minutes N` is the long, random version (docs/reliability.md).
 */
import { rmSync } from 'node:fs';
import { formatReport, runSoak } from '../../soak/runSoak';

jest.setTimeout(600_000);

test('every fault type once: no loss, no unmarked gap, no budget breach, no leaked secret', async () => {
  // A pinned default keeps CI repeatable; `npm run soak` explores random seeds.
  const seed = Number(process.env.IBFLOW_SOAK_SEED ?? 42);
  const lines: string[] = [];
  const report = await runSoak({
    minutes: 0,
    seed,
    pods: 3,
    plan: 'every-fault-once',
    framesPerSecond: 10,
    meanGapS: 15,
    log: (l) => lines.push(l),
  });
  const text = formatReport(report);
  if (!report.ok) process.stderr.write(`${lines.join('\n')}\n${text}\n`);
  for (const [kind, n] of Object.entries(report.faultCounts)) expect([kind, n > 0]).toEqual([kind, true]);
  expect(report.failures).toEqual([]);
  expect(report.depth.every((a) => a.stored > 0)).toBe(true);
  expect(report.leaks.histories).toBeGreaterThan(0);
  expect(report.leaks.files).toBeGreaterThan(0);
  rmSync(report.stateDir, { recursive: true, force: true }); // kept only when the soak failed
});
