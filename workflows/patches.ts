/**
 * Every patch id the workflows use, in one place. A change to a workflow that running executions
 * would replay differently ships behind `wf.patched(PATCH)`; the lifecycle is in
 * docs/workflow-versioning.md: `patched` → `deprecatePatch` (once no execution older than the
 * patch can still replay) → removed (once no execution from before the deprecation is left).
 * Ids are never reused. Every id must be exercised by a recorded history (test/workflows/replay.integration.test.ts).
 */
export const PATCHES = {
  /** sessionWorkflow: `wait-for-human` competing policy and the flip-flop guard (stop 9). */
  competingPolicy: 'competing-policy',
  /** sessionWorkflow: ssodh/init that fails three times in a row escalates to a fresh login (stop 9). */
  noBridgeEscalatesToLogin: 'no-bridge-escalates-to-login',
  /** sessionWorkflow: one competing cool-down per loss, not one per `competing` check (stop 9). */
  oneCooldownPerCompetingLoss: 'one-cooldown-per-competing-loss',
  /** depthWorkflow: a cancelled stream ends before the next one starts (stop 9). */
  streamEndsBeforeTheNext: 'stream-ends-before-the-next',
  /** sessionWorkflow: a login or reconnect tried during an outage does not end it; only an answer does (stop 14). */
  outageSpansAttempts: 'outage-spans-attempts',
} as const;

export type PatchId = (typeof PATCHES)[keyof typeof PATCHES];

/** Lifecycle stage of each patch: `patched` (both branches live) or `deprecated` (old branch gone). */
export const PATCH_STAGE: Record<PatchId, 'patched' | 'deprecated'> = {
  'competing-policy': 'patched',
  'no-bridge-escalates-to-login': 'patched',
  'one-cooldown-per-competing-loss': 'patched',
  'stream-ends-before-the-next': 'patched',
  'outage-spans-attempts': 'patched',
};
