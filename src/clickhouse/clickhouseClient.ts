import { createClient, type ClickHouseClient } from '@clickhouse/client';
import pino from 'pino';
import type { ClickHouseRole, IbflowConfig } from '../config/schema';
import { createLogger, type Logger } from '../logging/logger';
import { SecretResolver } from '../secrets/secretResolver';
import { clickHouseLoggerClass, clientLogLevel } from './clientLogger';

/**
 * Which process connects as which role:
 * - ingest: the pod and control workers (depth rows, session events, the retention drop);
 * - reader: the CLI's reads through the operations layer (and so the console and agents);
 * - migrator: `ibflow db migrate` only.
 */
export type { ClickHouseRole };

export interface ClickHouseUser {
  role: ClickHouseRole;
  username: string;
  passwordRef?: string;
  /** True when the role has no entry in clickhouse.users and uses clickhouse.username/passwordRef. */
  shared: boolean;
}

/** The user a role connects as: clickhouse.users.<role>, else the shared clickhouse.username/passwordRef. */
export function clickHouseUser(config: IbflowConfig, role: ClickHouseRole): ClickHouseUser {
  const own = config.clickhouse.users?.[role];
  if (own) return { role, username: own.username, ...(own.passwordRef ? { passwordRef: own.passwordRef } : {}), shared: false };
  const { username, passwordRef } = config.clickhouse;
  return { role, username, ...(passwordRef ? { passwordRef } : {}), shared: true };
}

export interface IbflowClickHouseClientOptions {
  /** Where the client's own log lines go; by default a redacting logger on stderr at IBFLOW_LOG_LEVEL or warn. */
  logger?: Logger;
  /** For `env:` secret references; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** The client's request_timeout; the client's default (30 s) when not given. */
  requestTimeoutMs?: number;
}

/** Thrown when a role's password cannot be read from its secret store; names the role and the reference, never a value. */
export class ClickHousePasswordError extends Error {
  constructor(
    readonly user: ClickHouseUser,
    cause: unknown,
  ) {
    super(`clickhouse ${user.role} password (${user.passwordRef}) for user ${user.username} cannot be read: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`);
    this.name = 'ClickHousePasswordError';
  }
}

/** Reads a role's password from its secret store; undefined when the role has no passwordRef. */
export async function resolveClickHousePassword(config: IbflowConfig, user: ClickHouseUser, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (!user.passwordRef) return undefined;
  try {
    return await new SecretResolver(config.stateDir, env).resolve(user.passwordRef);
  } catch (err) {
    throw new ClickHousePasswordError(user, err);
  }
}

/** The one way ibflow makes a ClickHouse client: the role's user, its password by reference, ibflow's logger. */
export async function createIbflowClickHouseClient(config: IbflowConfig, role: ClickHouseRole, opts: IbflowClickHouseClientOptions = {}): Promise<ClickHouseClient> {
  const user = clickHouseUser(config, role);
  const password = await resolveClickHousePassword(config, user, opts.env);
  const logger = opts.logger ?? defaultClientLogger(opts.env ?? process.env);
  return createClient({
    url: config.clickhouse.url,
    username: user.username,
    ...(password ? { password } : {}),
    ...(opts.requestTimeoutMs === undefined ? {} : { request_timeout: opts.requestTimeoutMs }),
    log: clientLog(logger, user.username, role),
  });
}

/**
 * The embedded stack's own client (its local server's default user, no password): migrations on
 * start, the stack's reads and restarts. Logs through ibflow's logger like every other client.
 */
export function createEmbeddedAdminClickHouseClient(url: string, opts: { logger?: Logger; env?: NodeJS.ProcessEnv } = {}): ClickHouseClient {
  const logger = opts.logger ?? defaultClientLogger(opts.env ?? process.env);
  return createClient({ url, log: clientLog(logger, 'default', 'embedded-admin') });
}

/** The client's `log` option: its lines through `logger`, tagged with who is connected. */
function clientLog(logger: Logger, clickhouseUser: string, role: string) {
  return { LoggerClass: clickHouseLoggerClass(logger.child({ clickhouseUser, role })), level: clientLogLevel(logger) };
}

/** stderr, so a command's output on stdout stays clean; warn unless IBFLOW_LOG_LEVEL says otherwise. */
function defaultClientLogger(env: NodeJS.ProcessEnv): Logger {
  const logger = createLogger('clickhouse', pino.destination(2));
  logger.level = env.IBFLOW_LOG_LEVEL ?? 'warn';
  return logger;
}
