import { writeFileAtomic } from '../../src/util/atomicWrite';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import { applyEnvOverrides, ConfigError, defaultConfigPath, loadConfig, parseConfig } from '../../src/config/loadConfig';
import type { ConnectionConfig, IbflowConfig } from '../../src/config/schema';
import { yamlErrorText } from '../../src/config/yamlErrorText';

/** `--config` with the documented default. */
export const configOption = ['--config <file>', 'config file (default: $IBFLOW_CONFIG or .ibflow/ibflow.yaml)'] as const;

export function configPathOf(opts: { config?: string }): string {
  return resolve(opts.config ?? defaultConfigPath());
}

export function readConfig(opts: { config?: string }): IbflowConfig {
  return loadConfig(configPathOf(opts));
}

/**
 * The config file as a YAML document, so an edit keeps the operator's comments and layout. A
 * missing file becomes an empty document (written on save).
 */
export class ConfigFile {
  readonly doc: Document;
  readonly exists: boolean;

  constructor(readonly path: string) {
    this.exists = existsSync(path);
    const text = this.exists ? readFileSync(path, 'utf8') : '';
    this.doc = parseDocument(text);
    if (this.doc.errors.length > 0) throw new ConfigError(`config ${path} is not valid YAML: ${yamlErrorText(this.doc.errors[0])}`);
    if (this.doc.contents === null) {
      this.doc.contents = this.doc.createNode({}) as never;
      this.doc.commentBefore = ' ibflow config — see docs/configuration.md. Secrets live in secret stores, never here.';
    }
    if (!isMap(this.doc.contents)) throw new ConfigError(`config ${path} is invalid:\n  (root): must be a mapping of sections (temporal, clickhouse, connections, …)`);
  }

  /** Validates what the file would hold (defaults and IBFLOW_* overrides applied, as workers will). */
  validate(): IbflowConfig {
    const raw = (this.doc.toJS() ?? {}) as Record<string, unknown>;
    const { raw: overridden, fromEnv } = applyEnvOverrides({ stateDir: dirname(resolve(this.path)), ...raw });
    return parseConfig(overridden, this.path, fromEnv);
  }

  addConnection(c: ConnectionConfig): void {
    const entry: Record<string, unknown> = {
      id: c.id,
      mode: c.mode,
      username: c.username,
      passwordRef: c.passwordRef,
      ...(c.totpSecretRef ? { totpSecretRef: c.totpSecretRef } : {}),
      pod: c.pod,
      ...(c.account ? { account: c.account } : {}),
      gateway: { url: c.gateway.url, verifyTls: c.gateway.verifyTls },
      instruments: c.instruments.map((i) => ({ conid: i.conid, ...(i.exchange ? { exchange: i.exchange } : {}) })),
    };
    const list = this.doc.get('connections');
    if (isSeq(list)) list.add(this.doc.createNode(entry));
    else this.doc.set('connections', this.doc.createNode([entry]));
  }

  /** Removes the connection with this id; false when there is none. */
  removeConnection(id: string): boolean {
    const list = this.doc.get('connections');
    if (!isSeq(list)) return false;
    const index = list.items.findIndex((item) => isMap(item) && item.get('id') === id);
    if (index < 0) return false;
    list.delete(index);
    return true;
  }

  /** Atomic write (temp file + rename); a fresh 0644 file (no secrets here). */
  save(): void {
    writeFileAtomic(this.path, this.doc.toString(), 0o644);
  }
}
