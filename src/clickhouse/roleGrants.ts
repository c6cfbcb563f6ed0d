/**
 * Does each configured ClickHouse role's user have the rights ibflow needs, and (reader) no more?
 * Checked by effect, on every server version the same way: ClickHouse checks rights before a
 * statement runs, so a statement that changes nothing — `SELECT … LIMIT 0`, an INSERT of zero rows,
 * dropping a partition id no part has, a probe table created and dropped — proves the right. This
 * works on 18.16 (no GRANT; users.xml readonly / allow_databases) and on servers with RBAC alike,
 * and cannot be fooled by roles, wildcards or grant syntax the way reading SHOW GRANTS could.
 */
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { CLICKHOUSE_ROLES, type ClickHouseRole, type IbflowConfig } from '../config/schema';
import type { Logger } from '../logging/logger';
import { clickHouseUser, createIbflowClickHouseClient, type ClickHouseUser } from './clickhouseClient';
import { classifyInsertError } from './insertErrorKind';
import { qualifiedName, quoteString } from './sql';

export interface RoleCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

/** One right a role needs, and the statement that proves it without changing anything. */
interface Right {
  /** As ClickHouse names it in GRANT, e.g. `INSERT`, `ALTER DELETE`. */
  privilege: string;
  /** What the probe touched, `db.table`. */
  on: string;
  /** What the fix grants it on: the table, or `db.*`. */
  grantOn: string;
  probe: (ch: ClickHouseClient) => Promise<unknown>;
}

/** A never-used partition id: dropping it drops nothing, but needs ALTER DELETE (ClickHouse checks DROP PARTITION as ALTER DELETE). */
const PROBE_PARTITION_ID = 'ibflowdoctorprobe';

const select = (table: string) => (ch: ClickHouseClient) => ch.query({ query: `SELECT * FROM ${table} LIMIT 0`, format: 'JSONEachRow' }).then((rs) => rs.json());
const insertNothing = (table: string) => (ch: ClickHouseClient) => ch.command({ query: `INSERT INTO ${table} FORMAT JSONEachRow` });

/** The rights each role needs (what docs/clickhouse.md "Users and grants" grants). */
export function requiredRights(config: IbflowConfig, role: ClickHouseRole): Right[] {
  const db = config.clickhouse.database;
  const t = (name: string) => qualifiedName(db, name);
  // In cluster mode the rows live in depth_local on each shard; retention drops partitions there.
  const depthData = config.clickhouse.cluster === undefined ? 'depth' : 'depth_local';
  switch (role) {
    case 'reader':
      return ['depth', 'session_events'].map((name) => ({ privilege: 'SELECT', on: `${db}.${name}`, grantOn: `${db}.*`, probe: select(t(name)) }));
    case 'ingest':
      return [
        ...['depth', 'session_events'].map((name) => ({ privilege: 'INSERT', on: `${db}.${name}`, grantOn: `${db}.${name}`, probe: insertNothing(t(name)) })),
        {
          privilege: 'ALTER DELETE',
          on: `${db}.${depthData}`,
          grantOn: `${db}.${depthData}`,
          probe: (ch) => ch.command({ query: `ALTER TABLE ${t(depthData)} DROP PARTITION ID ${quoteString(PROBE_PARTITION_ID)}` }),
        },
      ];
    case 'migrator': {
      // DDL on a probe table of its own, gone again at once: the migrator's rights, proven without touching ibflow's tables.
      const probe = t(`_ibflow_doctor_${randomBytes(4).toString('hex')}`);
      return [
        {
          privilege: 'CREATE TABLE, DROP TABLE',
          on: `${db}.*`,
          grantOn: `${db}.*`,
          probe: async (ch) => {
            await ch.command({ query: `CREATE TABLE ${probe} (x UInt8) ENGINE = Memory` });
            await ch.command({ query: `DROP TABLE ${probe}` });
          },
        },
      ];
    }
  }
}

/** Codes that mean "this user may not do that": 18.16 readonly / allow_databases, current servers' ACCESS_DENIED, NOT_ENOUGH_PRIVILEGES. */
const DENIED = new Set([164, 291, 497, 517]);
/** Codes that mean "this user cannot log in at all". */
const LOGIN = new Set([192, 193, 194, 195, 516]);
const MISSING_TABLE = new Set([60, 81]);

export interface RoleCheckOptions {
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  requestTimeoutMs?: number;
}

/**
 * One check per role that has its own user (clickhouse.users.<role>); when ingest or reader has
 * none, the shared clickhouse.username is checked for that role's rights. The migrator is only
 * checked when configured: a pod's config does not carry its password.
 */
export async function checkClickHouseRoles(config: IbflowConfig, opts: RoleCheckOptions = {}): Promise<RoleCheck[]> {
  const roles = CLICKHOUSE_ROLES.filter((r) => r !== 'migrator' || config.clickhouse.users?.migrator !== undefined);
  return Promise.all(roles.map((role) => checkRole(config, clickHouseUser(config, role), opts)));
}

async function checkRole(config: IbflowConfig, user: ClickHouseUser, opts: RoleCheckOptions): Promise<RoleCheck> {
  const name = `clickhouse ${user.role}`;
  const who = `user ${user.username}${user.shared ? ' (shared clickhouse.username)' : ''}`;
  let ch: ClickHouseClient;
  try {
    ch = await createIbflowClickHouseClient(config, user.role, { requestTimeoutMs: opts.requestTimeoutMs ?? 8_000, ...(opts.env ? { env: opts.env } : {}), ...(opts.logger ? { logger: opts.logger } : {}) });
  } catch (err) {
    return { name, status: 'fail', detail: firstLine(err), fix: `store ${user.username}'s password under ${user.passwordRef}` };
  }
  try {
    let version = '';
    try {
      const [v] = await (await ch.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json<{ v: string }>();
      version = v?.v ?? '';
    } catch (err) {
      const { code } = classifyInsertError(err);
      if (code !== undefined && LOGIN.has(code)) {
        const field = user.shared ? 'clickhouse.passwordRef' : `clickhouse.users.${user.role}.passwordRef`;
        return { name, status: 'fail', detail: `${who} cannot log in: ${firstLine(err)}`, fix: `check the user exists on the server and its password matches ${user.passwordRef ?? `a secret: none is configured, set ${field}`}` };
      }
      return { name, status: 'fail', detail: `cannot reach ${config.clickhouse.url} as ${who}: ${firstLine(err)}`, fix: 'start it (`npm run up` starts one), or point clickhouse.url / IBFLOW_CLICKHOUSE_URL at it' };
    }
    const rbac = Number(version.split('.')[0]) >= 20;
    const proven: string[] = [];
    for (const right of requiredRights(config, user.role)) {
      try {
        await right.probe(ch);
        proven.push(`${right.privilege} on ${right.on}`);
      } catch (err) {
        const { code } = classifyInsertError(err);
        if (code !== undefined && MISSING_TABLE.has(code)) {
          return { name, status: 'fail', detail: `${right.on} is missing (${firstLine(err)})`, fix: 'create the schema: ibflow db migrate' };
        }
        if (code !== undefined && DENIED.has(code)) {
          return {
            name,
            status: 'fail',
            detail: `${who} lacks ${right.privilege} on ${right.on} (${firstLine(err)})`,
            fix: rbac
              ? `GRANT ${right.privilege} ON ${right.grantOn} TO ${user.username}`
              : `ClickHouse ${version} has no GRANT: in users.xml give ${user.username} a profile with readonly ${user.role === 'reader' ? '1' : '0'} and allow_databases including ${config.clickhouse.database}`,
          };
        }
        return { name, status: 'fail', detail: `${who}: checking ${right.privilege} on ${right.on} failed: ${firstLine(err)}` };
      }
    }
    if (user.role === 'reader' && !user.shared) {
      // Least privilege: the reader serves the CLI, console and agents, so it should not write.
      const writes = await insertNothing(qualifiedName(config.clickhouse.database, 'depth'))(ch).then(
        () => true,
        () => false,
      );
      if (writes) {
        return {
          name,
          status: 'warn',
          detail: `${who} has ${proven.join(', ')} but can also INSERT into ${config.clickhouse.database}.depth`,
          fix: rbac ? `REVOKE INSERT ON ${config.clickhouse.database}.* FROM ${user.username}` : `give ${user.username} a profile with readonly 1 in users.xml`,
        };
      }
    }
    return { name, status: 'ok', detail: `${who} has ${proven.join(', ')}` };
  } finally {
    await ch.close();
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 240);
}
