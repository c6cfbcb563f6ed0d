import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { IpRules } from './ipFilter';

/** The parts of the gateway's `root/conf.yaml` the simulator honours; other keys are ignored. */
export interface SimConf {
  listenPort?: number;
  listenSsl?: boolean;
  ips?: IpRules;
}

const patterns = z.array(z.union([z.string(), z.number()]).transform(String));

const confSchema = z
  .object({
    listenPort: z.number().int().min(0).max(65535).optional(),
    listenSsl: z.boolean().optional(),
    ips: z.object({ allow: patterns.optional(), deny: patterns.optional() }).optional(),
  })
  .loose();

/** Reads a conf.yaml-like file (YAML or JSON). Errors name the field. */
export function loadSimConfFile(path: string): SimConf {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`conf file ${path}: cannot parse (${(err as Error).name})`);
  }
  const result = confSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw new Error(`conf file ${path}: ${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  const { listenPort, listenSsl, ips } = result.data;
  return { listenPort, listenSsl, ips };
}
