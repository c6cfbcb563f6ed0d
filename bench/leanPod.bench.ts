/**
 * What one pod worker costs at a realistic rate (printed, never asserted): one paper connection,
 * one ladder at 10 frames/s (as IBKR serves an account), the embedded stack with the pod worker in
 * its own process (the soak's stack: stack/startStack.ts through soak/soakStack.ts). Every second
 * the pod worker's resident memory (VmRSS) and CPU time are read from /proc, and its descendant
 * processes are listed: a Chromium among them outside a login is a browser left resident.
 * Half-way through, the simulator ends the SSO session (`expire`), so the run includes a real
 * browser login; the samples show Chromium during it and none after.
 *
 *   npx tsx bench/leanPod.bench.ts [--minutes 10] [--json]
 *
 * Steady state = from 60 s after depth rows first reach ClickHouse, excluding 60 s from the drop.
 * Targets (issue 14): ≤ 120 MB RSS and ≤ 2 % of a core in steady state; no Chromium between logins.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simControl } from '../sim/controlClient';
import { startConnectionWorkflows } from '../src/operations/connectionWorkflows';
import { startSoakStack } from '../soak/soakStack';
import { flagArg, loadAverage, machineLine, median, numberArg, readProc, type ProcInfo } from './benchSupport';

const MINUTES = numberArg('minutes', 10, { fraction: true });
// The first minute and the minute after the half-way drop are not steady state: leave some.
if (MINUTES < 3) throw new Error(`--minutes ${MINUTES}: at least 3, so that a steady state remains besides the first minute and the minute after the drop`);
const JSON_OUT = flagArg('json');
const out = (line: string) => {
  if (!JSON_OUT) console.log(line);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function allProcs(): ProcInfo[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProc(Number(d)))
    .filter((p): p is ProcInfo => p !== null);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function descendants(procs: ProcInfo[], root: number): ProcInfo[] {
  const found: ProcInfo[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const next = procs.filter((p) => frontier.includes(p.ppid));
    found.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return found;
}

const isChromium = (p: ProcInfo) => /chrom|headless/i.test(p.comm) || /chromium|chrome|headless_shell/.test(cmdline(p.pid));

interface Sample {
  t: number;
  rss: number;
  descendantsRss: number;
  cpuSeconds: number;
  chromium: number;
}

function sparkline(values: number[]): string {
  const bars = '▁▂▃▄▅▆▇█';
  const max = Math.max(...values, 1e-9);
  return values.map((v) => bars[Math.min(7, Math.floor((v / max) * 7.999))]).join('');
}

async function main(): Promise<void> {
  const machine = machineLine();
  out(machine);
  const stateDir = mkdtempSync(join(tmpdir(), 'ibflow-lean-pod-'));
  const stack = await startSoakStack({ stateDir, pods: 1, framesPerSecond: 10, log: (l) => out(l) });
  const c = stack.connections[0]!;
  try {
    await startConnectionWorkflows(stack.config, (l) => out(l));
    const rows = async () => Number((await (await stack.clickhouse.query({ query: `SELECT count() AS n FROM ibflow.depth WHERE connection = '${c.id}'`, format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n);
    const t0 = Date.now();
    while ((await rows()) === 0) {
      if (Date.now() - t0 > 180_000) throw new Error('no depth rows within 180 s');
      await sleep(1000);
    }
    const findPodWorker = () => allProcs().find((p) => cmdline(p.pid).includes(`worker pod --pod ${c.pod}`));
    let podWorker = findPodWorker();
    if (!podWorker) throw new Error(`no pod worker process for ${c.pod}`);
    const pids = [podWorker.pid];
    out(`depth flowing after ${((Date.now() - t0) / 1000).toFixed(0)} s; pod worker pid ${podWorker.pid}; sampling for ${MINUTES} min`);
    const rows0 = await rows();
    const start = Date.now();
    const end = start + MINUTES * 60_000;
    const dropAt = start + (MINUTES * 60_000) / 2;
    let dropped = false;
    const samples: Sample[] = [];
    while (Date.now() < end) {
      if (!dropped && Date.now() >= dropAt) {
        dropped = true;
        await simControl([...stack.sims.values()][0]!, 'POST', '/sim/control/drop', { username: c.username, kind: 'expire' });
        out(`  ${((Date.now() - start) / 1000).toFixed(0)} s: SSO session expired by the simulator; ibflow logs in again`);
      }
      const procs = allProcs();
      let self = procs.find((p) => p.pid === podWorker!.pid);
      if (!self) {
        // Exited (the supervisor starts a new one): a finding, reported below; follow the new one.
        out(`  ${((Date.now() - start) / 1000).toFixed(0)} s: pod worker ${podWorker.pid} is gone (restarts so far: ${JSON.stringify(stack.podWorkerRestarts())}); logs in ${join(stateDir, 'logs')}`);
        await sleep(1000);
        const next = findPodWorker();
        if (!next) continue;
        podWorker = next;
        pids.push(next.pid);
        self = next;
      }
      const kids = descendants(procs, podWorker.pid);
      samples.push({ t: Date.now() - start, rss: self.rssBytes, descendantsRss: kids.reduce((s, p) => s + p.rssBytes, 0), cpuSeconds: self.cpuSeconds + kids.reduce((s, p) => s + p.cpuSeconds, 0), chromium: kids.filter(isChromium).length });
      await sleep(1000);
    }
    const stored = (await rows()) - rows0;
    const dropT = dropAt - start;
    const steady = samples.filter((s) => s.t >= 60_000 && !(s.t >= dropT && s.t < dropT + 60_000));
    const mb = (b: number) => (b / 1048576).toFixed(0);
    const rss = steady.map((s) => s.rss);
    // CPU % of one core per minute (pod worker + its children), and over the steady samples.
    const perMinute: number[] = [];
    for (let m = 0; m < Math.floor(MINUTES); m++) {
      const inMinute = samples.filter((s) => s.t >= m * 60_000 && s.t < (m + 1) * 60_000);
      if (inMinute.length > 1) perMinute.push((100 * (inMinute.at(-1)!.cpuSeconds - inMinute[0]!.cpuSeconds)) / ((inMinute.at(-1)!.t - inMinute[0]!.t) / 1000));
    }
    const steadyCpu = (() => {
      let cpu = 0;
      let secs = 0;
      for (let i = 1; i < steady.length; i++) {
        if (steady[i]!.t - steady[i - 1]!.t > 2000) continue; // the gap around the drop
        cpu += steady[i]!.cpuSeconds - steady[i - 1]!.cpuSeconds;
        secs += (steady[i]!.t - steady[i - 1]!.t) / 1000;
      }
      return (100 * cpu) / secs;
    })();
    const chromiumSamples = samples.filter((s) => s.chromium > 0);
    const outsideLogin = chromiumSamples.filter((s) => !(s.t >= dropT && s.t < dropT + 60_000));
    const result = {
      machine,
      minutes: MINUTES,
      rowsStored: stored,
      steadyRssMb: { min: Number(mb(Math.min(...rss))), median: Number(mb(median(rss))), max: Number(mb(Math.max(...rss))) },
      steadyDescendantsRssMb: Number(mb(Math.max(...steady.map((s) => s.descendantsRss)))),
      steadyCpuPercentOfCore: steadyCpu,
      cpuPercentPerMinute: perMinute,
      chromium: { samplesWithChromium: chromiumSamples.length, maxProcesses: Math.max(0, ...samples.map((s) => s.chromium)), samplesOutsideTheLogin: outsideLogin.length },
      podWorkerPids: pids,
      loadAverageAfter: loadAverage(),
    };
    out(`rows stored in the window: ${stored} (${(stored / (MINUTES * 60)).toFixed(0)} rows/s)`);
    out(`pod worker RSS in steady state: min ${result.steadyRssMb.min} MB, median ${result.steadyRssMb.median} MB, max ${result.steadyRssMb.max} MB (target ≤ 120 MB); its child processes at most ${result.steadyDescendantsRssMb} MB`);
    out(`CPU (pod worker + children), % of one core, per minute: ${perMinute.map((x) => x.toFixed(1)).join(' ')}  ${sparkline(perMinute)}`);
    out(`CPU in steady state: ${steadyCpu.toFixed(2)} % of one core (target ≤ 2 %)`);
    out(`Chromium: seen in ${chromiumSamples.length} of ${samples.length} samples (at most ${result.chromium.maxProcesses} processes), ${outsideLogin.length} of them outside the minute after the drop (target 0)`);
    out(`pod worker processes seen: ${pids.join(', ')}${pids.length > 1 ? ' (it exited and was restarted: see the logs)' : ''}`);
    out(`load average after: ${result.loadAverageAfter}`);
    if (JSON_OUT) console.log(JSON.stringify(result, null, 2));
    await stack.stop();
    if (pids.length === 1) rmSync(stateDir, { recursive: true, force: true });
    else out(`state and logs kept in ${stateDir}`);
  } catch (err) {
    await stack.stop().catch(() => undefined);
    out(`state and logs kept in ${stateDir}`);
    throw err;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
