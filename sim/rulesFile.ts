import { z } from 'zod';
import type { SimulatorOptions } from './types';
import { loadValidatedFile } from './validatedFile';

const ms = z.number().int().min(0);
const zone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as "America/New_York"');
const weekTime = z.string().regex(/^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) ([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be "Ddd HH:MM", e.g. "Fri 23:00"');

/** The `pacing:` block of a rules file; also the body of `PUT /sim/control/pacing`. */
export const pacingSchema = z.strictObject({
  enabled: z.boolean().optional(),
  mode: z.enum(['lenient', 'strict']).optional(),
  globalPerSecond: z.number().positive().optional(),
  penaltyMs: ms.optional(),
  boxAfterViolations: z.number().int().min(1).optional(),
  violationWindowMs: z.number().int().min(1).optional(),
  extendBoxOnRequest: z.boolean().optional(),
  retryAfter: z.enum(['none', 'remaining']).optional(),
});

/**
 * The session rules, pacing and depth settings of `ibflow sim --rules FILE` (JSON or YAML): every
 * rule the simulator has, so a rehearsal can use IBKR-like or deliberately harsh settings.
 */
const rulesSchema = z.strictObject({
  idleTimeoutMs: ms.optional(),
  maxSessionAgeMs: ms.optional(),
  dailyReset: z.union([z.null(), z.strictObject({ time: z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be "HH:MM"'), timeZone: zone })]).optional(),
  maintenance: z.union([z.null(), z.strictObject({ start: weekTime, end: weekTime, timeZone: zone })]).optional(),
  randomDrop: z.strictObject({ ratePerHour: z.number().min(0), kind: z.enum(['bridge', 'expire', 'competing', 'logout']).optional() }).optional(),
  lockout: z.strictObject({ maxFailures: z.number().int().min(0).optional(), durationMs: ms.optional() }).optional(),
  pacing: pacingSchema.optional(),
  tickleWithoutSession: z.enum(['unauthorized', 'no-session-200']).optional(),
  competingDelayMs: ms.optional(),
  heartbeatMs: z.number().int().min(100).optional(),
  smdIntervalMs: z.number().int().min(10).optional(),
  wsTextFrames: z.boolean().optional(),
  depth: z
    .strictObject({
      intervalMs: z.number().int().min(1).optional(),
      framesPerSecond: z.number().positive().optional(),
      levels: z.number().int().min(1).max(100).optional(),
      tickSize: z.number().positive().optional(),
      maxLaddersPerAccount: z.number().int().min(1).optional(),
      variant: z.strictObject({ frames: z.enum(['full', 'delta']).optional(), sizes: z.enum(['string', 'number']).optional(), topicExchange: z.boolean().optional() }).optional(),
    })
    .optional(),
});

export type SimRules = Pick<
  SimulatorOptions,
  | 'idleTimeoutMs'
  | 'maxSessionAgeMs'
  | 'dailyReset'
  | 'maintenance'
  | 'randomDrop'
  | 'lockout'
  | 'pacing'
  | 'tickleWithoutSession'
  | 'competingDelayMs'
  | 'heartbeatMs'
  | 'smdIntervalMs'
  | 'wsTextFrames'
  | 'depth'
>;

/** Reads a rules file; errors name the field at fault. */
export function loadSimRulesFile(path: string): SimRules {
  return loadValidatedFile(path, 'rules file', rulesSchema, {}) as SimRules;
}
