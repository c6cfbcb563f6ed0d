import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';

/**
 * Reads a simulator file (JSON by extension, else YAML) and validates it. Errors start with
 * `<label> <path>:` and name each field at fault, never its value. An empty file reads as
 * `emptyAs` when given.
 */
export function loadValidatedFile<S extends z.ZodType>(path: string, label: string, schema: S, emptyAs?: unknown): z.infer<S> {
  const text = readFileSync(path, 'utf8');
  let raw: unknown;
  try {
    raw = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`${label} ${path}: cannot parse (${(err as Error).name})`);
  }
  const empty = raw === null || raw === undefined;
  const result = schema.safeParse(empty && emptyAs !== undefined ? emptyAs : raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`${label} ${path}: ${problems.join('; ')}`);
  }
  return result.data;
}
