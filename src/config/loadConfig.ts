import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { IbflowConfigSchema, KNOWN_FIELDS, type IbflowConfig, type ConnectionConfig } from './schema';
import { yamlErrorText } from './yamlErrorText';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** State lives in `.ibflow/` at the project root unless IBFLOW_STATE_DIR says otherwise. */
export function defaultStateDir(): string {
  return resolve(process.env.IBFLOW_STATE_DIR ?? resolve(__dirname, '..', '..', '.ibflow'));
}

export function defaultConfigPath(): string {
  return process.env.IBFLOW_CONFIG ?? resolve(defaultStateDir(), 'ibflow.yaml');
}

type OverrideKind = 'string' | 'number' | 'boolean';

/**
 * Environment variables that override single config fields (they win over the file). Handy for
 * containers: the same file, different addresses per environment.
 */
export const ENV_OVERRIDES: readonly { env: string; path: readonly string[]; kind: OverrideKind }[] = [
  { env: 'IBFLOW_TEMPORAL_ADDRESS', path: ['temporal', 'address'], kind: 'string' },
  { env: 'IBFLOW_TEMPORAL_NAMESPACE', path: ['temporal', 'namespace'], kind: 'string' },
  { env: 'IBFLOW_CLICKHOUSE_URL', path: ['clickhouse', 'url'], kind: 'string' },
  { env: 'IBFLOW_CLICKHOUSE_DATABASE', path: ['clickhouse', 'database'], kind: 'string' },
  { env: 'IBFLOW_CLICKHOUSE_USERNAME', path: ['clickhouse', 'username'], kind: 'string' },
  { env: 'IBFLOW_CLICKHOUSE_PASSWORD_REF', path: ['clickhouse', 'passwordRef'], kind: 'string' },
  ...(['ingest', 'reader', 'migrator'] as const).flatMap((role) => [
    { env: `IBFLOW_CLICKHOUSE_${role.toUpperCase()}_USERNAME`, path: ['clickhouse', 'users', role, 'username'], kind: 'string' as const },
    { env: `IBFLOW_CLICKHOUSE_${role.toUpperCase()}_PASSWORD_REF`, path: ['clickhouse', 'users', role, 'passwordRef'], kind: 'string' as const },
  ]),
  { env: 'IBFLOW_CLICKHOUSE_CLUSTER', path: ['clickhouse', 'cluster'], kind: 'string' },
  { env: 'IBFLOW_BROWSER_EXECUTABLE_PATH', path: ['browser', 'executablePath'], kind: 'string' },
  { env: 'IBFLOW_BROWSER_HEADLESS', path: ['browser', 'headless'], kind: 'boolean' },
  { env: 'IBFLOW_BROWSER_LOGIN_TIMEOUT_MS', path: ['browser', 'loginTimeoutMs'], kind: 'number' },
  { env: 'IBFLOW_SESSION_KEEPALIVE_INTERVAL_MS', path: ['session', 'keepaliveIntervalMs'], kind: 'number' },
  { env: 'IBFLOW_SESSION_MAX_FAILED_LOGINS_PER_DAY', path: ['session', 'maxFailedLoginsPerDay'], kind: 'number' },
  { env: 'IBFLOW_SESSION_COMPETING_COOLDOWN_MS', path: ['session', 'competingCooldownMs'], kind: 'number' },
  { env: 'IBFLOW_SESSION_OUTAGE_REPORT_AFTER_MS', path: ['session', 'outageReportAfterMs'], kind: 'number' },
];

function convert(value: string, kind: OverrideKind): unknown {
  const v = value.trim();
  if (kind === 'string') return v;
  if (kind === 'boolean') return /^(true|1|yes)$/i.test(v) ? true : /^(false|0|no)$/i.test(v) ? false : v;
  return v !== '' && Number.isFinite(Number(v)) ? Number(v) : v; // a non-number stays a string: zod names it
}

/**
 * Applies IBFLOW_* overrides to raw (parsed YAML) config; returns the new object and which paths
 * came from which variable (so errors can name the variable instead of the file).
 */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): { raw: Record<string, unknown>; fromEnv: Map<string, string> } {
  const out: Record<string, unknown> = { ...raw };
  const fromEnv = new Map<string, string>();
  for (const o of ENV_OVERRIDES) {
    const value = Object.hasOwn(env, o.env) ? env[o.env] : undefined;
    if (value === undefined || value === '') continue;
    setPath(out, o.path, convert(value, o.kind));
    fromEnv.set(o.path.join('.'), o.env);
  }
  return { raw: out, fromEnv };
}

/** Sets `path` in `obj`, copying (never mutating) each mapping on the way; a non-mapping is replaced. */
function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  const [head, ...rest] = path as [string, ...string[]];
  if (rest.length === 0) {
    obj[head] = value;
    return;
  }
  const current = obj[head];
  const copy = current && typeof current === 'object' && !Array.isArray(current) ? { ...(current as Record<string, unknown>) } : {};
  setPath(copy, rest, value);
  obj[head] = copy;
}

function closest(key: string): string | null {
  const lower = key.toLowerCase().replace(/[_-]/g, '');
  for (const k of KNOWN_FIELDS) if (k.toLowerCase() === lower) return k;
  let best: string | null = null;
  let bestD = 3;
  for (const k of KNOWN_FIELDS) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** One `path: message` line per issue, in words that say what to change. Never echoes values. */
export function formatIssue(issue: z.core.$ZodIssue, fromEnv: Map<string, string> = new Map()): string {
  const path = issue.path.length ? issue.path.join('.') : '(root)';
  const env = fromEnv.get(path);
  const where = env ? `${path} (from ${env})` : path;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    message = issue.keys
      .map((k) => {
        const hint = closest(k);
        return `unknown field "${k}"${hint ? ` — did you mean "${hint}"?` : ' — remove it'}`;
      })
      .join('; ');
  } else if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
    message = `is required (expected ${issue.expected})`;
  } else if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) {
    message = `must be ${issue.expected === 'object' ? 'a mapping' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`} (${issue.message.replace(/^Invalid input: /, '')})`;
  }
  return `  ${where}: ${message}`;
}

/** Validates raw config; the error lists every problem as `path: message`. */
export function parseConfig(raw: unknown, source = 'config', fromEnv: Map<string, string> = new Map()): IbflowConfig {
  const result = IbflowConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => formatIssue(issue, fromEnv));
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Reads the raw YAML document of a config file (no defaults, no overrides). */
export function readRawConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const hint = code === 'ENOENT' ? ' (create it with `ibflow connection add`, or pass --config / set IBFLOW_CONFIG)' : '';
    throw new ConfigError(`cannot read config ${path}: ${code}${hint}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config ${path} is not valid YAML: ${yamlErrorText(err)}`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`config ${path} is invalid:\n  (root): must be a mapping of sections (temporal, clickhouse, connections, …), not a ${Array.isArray(raw) ? 'list' : typeof raw}`);
  }
  return raw as Record<string, unknown>;
}

/** Loads a YAML config, applies IBFLOW_* environment overrides and validates it. */
export function loadConfig(path = defaultConfigPath(), env: NodeJS.ProcessEnv = process.env): IbflowConfig {
  const raw = readRawConfig(path);
  const { raw: overridden, fromEnv } = applyEnvOverrides({ stateDir: dirname(resolve(path)), ...raw }, env);
  return parseConfig(overridden, path, fromEnv);
}

export function findConnection(config: IbflowConfig, connectionId: string): ConnectionConfig {
  const found = config.connections.find((c) => c.id === connectionId);
  if (!found) {
    const known = config.connections.map((c) => c.id).join(', ') || 'none';
    throw Object.assign(new ConfigError(`unknown connection "${connectionId}" (configured: ${known})`), { notFound: true });
  }
  return found;
}
