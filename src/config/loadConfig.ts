import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { IbflowConfigSchema, type IbflowConfig, type ConnectionConfig } from './schema';

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

/** Validates raw config; the error lists every problem as `path: message`. */
export function parseConfig(raw: unknown, source = 'config'): IbflowConfig {
  const result = IbflowConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const path = issue.path.length ? issue.path.join('.') : '(root)';
      return `  ${path}: ${issue.message}`;
    });
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  return result.data;
}

export function loadConfig(path = defaultConfigPath()): IbflowConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config ${path} is not valid YAML: ${(err as Error).message}`);
  }
  const withDefaults = { stateDir: dirname(resolve(path)), ...(raw as object) };
  return parseConfig(withDefaults, path);
}

export function findConnection(config: IbflowConfig, connectionId: string): ConnectionConfig {
  const found = config.connections.find((c) => c.id === connectionId);
  if (!found) throw new ConfigError(`unknown connection "${connectionId}"`);
  return found;
}
