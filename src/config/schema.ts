import { z } from 'zod';

/** Hosts for which `verifyTls: false` is acceptable: the gateway's self-signed certificate on loopback. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1', '[::1]'] as const;

/**
 * A reference to a secret, never the secret itself: `file:<name>` (the 0600 secret file in the
 * state dir) or `env:<VARIABLE>` (also reads `<VARIABLE>_FILE`).
 */
export const SecretRefSchema = z
  .string()
  .regex(/^(file|env):[A-Za-z0-9_.\/-]+$/, 'must look like "file:<name>" or "env:<VARIABLE>"')
  .describe('Reference to a secret in a secret store; the value itself never appears in config.');

export const InstrumentSchema = z.object({
  conid: z.number().int().positive().describe('IBKR contract id, e.g. 265598 for AAPL.'),
  exchange: z.string().min(1).optional().describe('Optional exchange for the BookTrader ladder.'),
});

export const ConnectionSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'use lower-case letters, digits and dashes (max 63)')
      .describe('Stable connection id; used in ClickHouse rows and the Temporal Web UI.'),
    mode: z.enum(['paper', 'live']).describe('Live logins answer a TOTP second factor.'),
    username: z.string().min(1).describe('IBKR username; one session workflow exists per username.'),
    passwordRef: SecretRefSchema,
    totpSecretRef: SecretRefSchema.optional().describe('Mobile Authenticator App activation code (live only).'),
    pod: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).describe('Pod whose local gateway this connection uses.'),
    gateway: z.object({
      url: z.string().url().describe('Client Portal Gateway base URL; must be on this pod (loopback).'),
      verifyTls: z.boolean().default(true).describe('false only for the self-signed gateway on loopback.'),
    }),
    instruments: z.array(InstrumentSchema).default([]).describe('Depth subscriptions of this connection.'),
    account: z.string().min(1).optional().describe('Account for depth subscriptions; default: the first account.'),
  })
  .superRefine((c, ctx) => {
    if (c.mode === 'live' && !c.totpSecretRef) {
      ctx.addIssue({
        code: 'custom',
        path: ['totpSecretRef'],
        message: 'live connections need the authenticator-app activation code (e.g. "file:<id>/totp")',
      });
    }
    let host = '';
    try {
      host = new URL(c.gateway.url).hostname;
    } catch {
      return; // the url check above reports it
    }
    if (!c.gateway.verifyTls && !(LOOPBACK_HOSTS as readonly string[]).includes(host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'verifyTls'],
        message: `verifyTls: false is only allowed for localhost, 127.0.0.1 or ::1 (got "${host}")`,
      });
    }
  });

export const IbflowConfigSchema = z
  .object({
    stateDir: z.string().min(1).describe('Where state, logs, secrets and screenshots live.'),
    temporal: z
      .object({
        address: z.string().default('127.0.0.1:7233'),
        namespace: z.string().default('default'),
      })
      .prefault({}),
    clickhouse: z
      .object({
        url: z.string().url().default('http://127.0.0.1:8123'),
        database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('ibflow'),
        username: z.string().default('default'),
        passwordRef: SecretRefSchema.optional(),
      })
      .prefault({}),
    browser: z
      .object({
        executablePath: z.string().default('/usr/bin/chromium'),
        headless: z.boolean().default(true),
        loginTimeoutMs: z.number().int().positive().default(60_000),
      })
      .prefault({}),
    session: z
      .object({
        keepaliveIntervalMs: z.number().int().min(1000).default(60_000).describe('IBKR asks for /tickle about every minute.'),
        maxFailedLoginsPerDay: z.number().int().min(1).default(3).describe('Stops before IBKR locks the account.'),
        competingCooldownMs: z.number().int().min(0).default(120_000),
      })
      .prefault({}),
    connections: z.array(ConnectionSchema).default([]),
  })
  .superRefine((cfg, ctx) => {
    const seenIds = new Map<string, number>();
    const seenUsers = new Map<string, number>();
    cfg.connections.forEach((c, i) => {
      if (seenIds.has(c.id)) {
        ctx.addIssue({ code: 'custom', path: ['connections', i, 'id'], message: `duplicate connection id "${c.id}"` });
      }
      seenIds.set(c.id, i);
      const user = c.username.toLowerCase();
      if (seenUsers.has(user)) {
        ctx.addIssue({
          code: 'custom',
          path: ['connections', i, 'username'],
          message: `username already used by connections[${seenUsers.get(user)}]: IBKR allows one session per username`,
        });
      }
      seenUsers.set(user, i);
    });
  });

export type IbflowConfig = z.infer<typeof IbflowConfigSchema>;
export type ConnectionConfig = z.infer<typeof ConnectionSchema>;
