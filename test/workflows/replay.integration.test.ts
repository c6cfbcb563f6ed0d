/**
 * Determinism guard: the current workflow code replays every history recorded from earlier code
 * (test/workflows/histories/*.json.gz, gzipped JSON recorded by `npm run record-histories`). A change that would
 * make a running execution take another path fails here with the history's name. Also: every
 * workflow type and every patch id has at least one history, so a new one cannot ship unguarded.
 * See docs/workflow-versioning.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { bundleWorkflowCode, Worker, type ReplayResult, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import * as workflows from '../../workflows';
import { PATCHES } from '../../workflows/patches';
import { historyFromJson, type History } from './histories/historyJson';

jest.setTimeout(180_000);

const HISTORIES_DIR = join(__dirname, 'histories');

interface Recorded {
  name: string;
  history: History;
  workflowType: string;
  patchIds: string[];
}

function load(file: string): Recorded {
  const name = file.replace(/\.json\.gz$/, '');
  const history = historyFromJson(JSON.parse(gunzipSync(readFileSync(join(HISTORIES_DIR, file))).toString('utf8')));
  const events = history.events ?? [];
  const workflowType = events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '';
  const patchIds = events
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => {
      const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
      return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id : '';
    });
  return { name, history, workflowType, patchIds };
}

const recorded: Recorded[] = readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json.gz'))
  .sort()
  .map(load);

const quietLogger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => process.stderr.write(`${m}\n`) };

let workflowBundle: WorkflowBundleWithSourceMap;
const results = new Map<string, ReplayResult>();

beforeAll(async () => {
  workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  // One replay worker for all histories; the file name stands in for the workflow id so each result names its file.
  const replay = Worker.runReplayHistories({ workflowBundle, replayName: 'determinism-guard' }, recorded.map((r) => ({ workflowId: r.name, history: r.history })));
  for await (const result of replay) results.set(result.workflowId, result);
});

test('there are recorded histories to replay', () => {
  expect(recorded.length).toBeGreaterThan(0);
  for (const r of recorded) expect(r.workflowType).not.toBe('');
});

test.each(recorded.map((r) => [r.name]))('the current workflows replay %s', (name) => {
  const result = results.get(name);
  if (!result) throw new Error(`${name}: the replay worker returned no result`);
  if (result.error) throw new Error(`${name} does not replay: ${result.error.name}: ${result.error.message}`);
});

test('every workflow type exported by workflows/index.ts has a recorded history', () => {
  const covered = new Set(recorded.map((r) => r.workflowType));
  const missing = Object.keys(workflows).filter((type) => !covered.has(type));
  expect(missing).toEqual([]); // record one: npm run record-histories (docs/workflow-versioning.md)
});

test('every patch id in workflows/patches.ts is exercised by a recorded history', () => {
  const exercised = new Set(recorded.flatMap((r) => r.patchIds));
  const missing = Object.values(PATCHES).filter((id) => !exercised.has(id));
  expect(missing).toEqual([]);
});
