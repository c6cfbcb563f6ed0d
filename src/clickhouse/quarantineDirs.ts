/**
 * Where each pod keeps its depth quarantine: `<depth.quarantineDir>/<pod>`, by default
 * `<stateDir>/quarantine/<pod>`. One folder per pod, so the CLI on a shared disk (compose, the
 * embedded stack) can list every pod's records and a pod never touches another's.
 */
import { join } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { depthSettings, type IbflowConfig } from '../config/schema';

export function quarantineRoot(config: Pick<IbflowConfig, 'stateDir' | 'depth'>): string {
  return depthSettings(config).quarantineDir ?? join(config.stateDir, 'quarantine');
}

export function quarantineDirFor(config: Pick<IbflowConfig, 'stateDir' | 'depth'>, pod: string): string {
  return join(quarantineRoot(config), pod);
}

/** The pods with a quarantine folder here, and the configured pods, sorted. */
export function quarantinePods(config: Pick<IbflowConfig, 'stateDir' | 'depth' | 'connections'>): string[] {
  const pods = new Set(config.connections.map((c) => c.pod));
  const root = quarantineRoot(config);
  if (existsSync(root)) for (const e of readdirSync(root, { withFileTypes: true })) if (e.isDirectory()) pods.add(e.name);
  return [...pods].sort();
}
