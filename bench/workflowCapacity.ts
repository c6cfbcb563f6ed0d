/**
 * How many connection (session) workflows one control worker keeps usable, and what each costs.
 * Real Temporal dev server and the real workflow bundle; the pod side is a light fake (every
 * gateway says usable; keepalives heartbeat until cancelled), because the question is the
 * workflow worker's capacity, not a browser's.
 * Run: npx tsx bench/workflowCapacity.ts [connections=1000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { startTemporalDevServer, temporalPaths } from '../stack/temporalDevServer';
import { createLogger } from '../src/logging/logger';
import { installTemporalRuntimeLogging } from '../src/logging/temporalRuntime';
import { CONTROL_TASK_QUEUE, podTaskQueue } from '../src/contract/ids';
import { freePort } from '../src/util/freePort';
import { startSessionWorkflow } from '../src/operations/connectionWorkflows';

const N = Number(process.argv[2] ?? 1000);
const POD = 'cap';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

async function main(): Promise<void> {
  installTemporalRuntimeLogging(createLogger('bench', { write: () => undefined } as never));
  const dir = mkdtempSync(join(tmpdir(), 'ibflow-capacity-'));
  const server = await startTemporalDevServer({ port: await freePort(), uiPort: await freePort(), ...temporalPaths(dir) });
  try {
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
    const native = await NativeConnection.connect({ address: server.address });
    const control = await Worker.create({
      connection: native,
      taskQueue: CONTROL_TASK_QUEUE,
      workflowBundle: bundle,
      maxCachedWorkflows: N + 100,
      activities: {
        describeConnection: async (connectionId: string) => ({
          connectionId,
          mode: 'paper',
          pod: POD,
          podTaskQueue: podTaskQueue(POD),
          hasInstruments: false,
          sessionWorkflowId: `ibkr-session:${connectionId}`,
        }),
        recordSessionEvent: async () => undefined,
      },
    });
    const pod = await Worker.create({
      connection: native,
      taskQueue: podTaskQueue(POD),
      maxConcurrentActivityTaskExecutions: N + 100,
      activities: {
        checkSession: async () => ({ kind: 'usable', serverName: 'bench' }),
        keepAlive: async () => {
          const ctx = Context.current();
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(5_000);
          }
        },
      },
    });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const rssBefore = process.memoryUsage().rss;
    const cpuBefore = process.cpuUsage();

    await control.runUntil(
      pod.runUntil(async () => {
        const started = Date.now();
        for (let i = 0; i < N; i += 50) {
          await Promise.all(
            Array.from({ length: Math.min(50, N - i) }, (_, k) =>
              startSessionWorkflow(client, {
                workflowId: `ibkr-session:bench-${i + k}`,
                input: { connectionId: `bench-${i + k}`, maintenance: { daily: [], weekly: [] } },
                useExisting: false,
              }),
            ),
          );
        }
        // Usable = the search attribute the Web UI filters on.
        for (;;) {
          const { count } = await client.workflow.count('IbflowState = "usable"');
          if (count >= N) break;
          await new Promise((r) => setTimeout(r, 1_000));
        }
        const allUsableS = (Date.now() - started) / 1000;
        // Hold them for a minute: the steady state is what a worker lives in.
        const steadyStart = process.cpuUsage();
        await new Promise((r) => setTimeout(r, 60_000));
        const steadyCpu = process.cpuUsage(steadyStart);
        const { count } = await client.workflow.count('IbflowState = "usable"');
        const rss = process.memoryUsage().rss;
        const cpu = process.cpuUsage(cpuBefore);
        process.stdout.write('\n=== workflow capacity ===\n');
        process.stdout.write(`connections: ${N}, usable after start: ${allUsableS.toFixed(1)} s, still usable after 60 s: ${count}\n`);
        process.stdout.write(`worker process RSS: ${mb(rssBefore)} before, ${mb(rss)} with ${N} workflows (${((rss - rssBefore) / N / 1024).toFixed(0)} KB per connection, incl. the fake pod side)\n`);
        process.stdout.write(`CPU: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s total; steady state ${(((steadyCpu.user + steadyCpu.system) / 1e6 / 60) * 100).toFixed(1)} % of one core\n`);
      }),
    );
    await connection.close();
    await native.close();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
