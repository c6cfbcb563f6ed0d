import { z } from 'zod';

/** Hosts for which `verifyTls: false` is acceptable: the gateway's self-signed certificate on loopback. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1', '[::1]'] as const;

/** The pod's app port unless `gateway.appPort` says otherwise: next to the gateway's (5000 → 5001). */
export function defaultAppPort(gatewayUrl: string): number {
  return URL.canParse(gatewayUrl) ? gatewayPort(gatewayUrl) + 1 : 5001;
}

/** `gcp:projects/<project>/secrets/<secret>` with an optional `/versions/<n|latest>`. */
export const GCP_SECRET_REF = /^gcp:projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/secrets\/[A-Za-z0-9_-]{1,255}(\/versions\/(latest|[1-9][0-9]*))?$/;
const FILE_OR_ENV_REF = /^(file|env):[A-Za-z0-9_.\/-]+$/;

export const SECRET_REF_HINT =
  'must look like "file:<name>" (the 0600 secret file), "env:<VARIABLE>" (or <VARIABLE>_FILE) or ' +
  '"gcp:projects/<project>/secrets/<secret>"; put the secret itself into a store, never into the config ' +
  '(e.g. `ibflow connection add` or `ibflow connection rotate-code`)';

/**
 * A reference to a secret, never the secret itself: `file:<name>` (the 0600 secret file in the
 * state dir), `env:<VARIABLE>` (also reads `<VARIABLE>_FILE`) or `gcp:projects/P/secrets/S`
 * (Google Secret Manager, latest version unless `/versions/N` is given).
 */
export const SecretRefSchema = z
  .string({ error: (iss) => (iss.input === undefined ? 'is required: a secret reference such as "file:<id>/password"' : SECRET_REF_HINT) })
  .refine((ref) => FILE_OR_ENV_REF.test(ref) || GCP_SECRET_REF.test(ref), SECRET_REF_HINT)
  .describe('Reference to a secret in a secret store; the value itself never appears in config.');

/**
 * The gateway must be on the same host/pod as the pod worker (it only accepts local clients):
 * loopback (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`) or a single-label name that resolves
 * inside the pod (a sidecar alias such as `ibgateway`). Dotted names and other addresses are refused.
 */
export function isLocalGatewayHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '::1') return true;
  if (/^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(host)) return host.split('.').every((p) => Number(p) <= 255);
  if (/^\d+$/.test(host)) return false; // a bare number is an IPv4 address in URL syntax
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(host);
}

const HHMM = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be local time "HH:MM", e.g. "00:15"');
const ZONE = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as "America/New_York"');
const WEEKDAY = z.number().int().min(0, 'must be 0 (Sunday) … 6 (Saturday)').max(6, 'must be 0 (Sunday) … 6 (Saturday)');

/** IBKR's maintenance calendar (same shape as workflows/maintenance.ts MaintenanceCalendar). */
export const MaintenanceSchema = z.strictObject({
  daily: z.array(z.strictObject({ zone: ZONE, start: HHMM, end: HHMM })).default([]),
  weekly: z.array(z.strictObject({ zone: ZONE, startDay: WEEKDAY, start: HHMM, endDay: WEEKDAY, end: HHMM })).default([]),
});

const NAME_RULE = 'use lower-case letters, digits and dashes, starting with a letter or digit (max 63)';

export const InstrumentSchema = z.strictObject({
  conid: z
    .number({ error: 'must be a number: the IBKR contract id, e.g. 265598 for AAPL' })
    .int('must be a whole number (the IBKR contract id, e.g. 265598)')
    .positive('must be a positive contract id, e.g. 265598')
    .max(4_294_967_295, 'is too large for a contract id')
    .describe('IBKR contract id, e.g. 265598 for AAPL.'),
  exchange: z.string().min(1).optional().describe('Optional exchange for the BookTrader ladder.'),
});

export const ConnectionSchema = z
  .strictObject({
    id: z
      .string({ error: 'is required: a stable id such as "me-live"' })
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, NAME_RULE)
      .describe('Stable connection id; used in ClickHouse rows and the Temporal Web UI.'),
    mode: z.enum(['paper', 'live'], { error: 'must be "paper" or "live" (live logins answer the authenticator-app code)' }).describe('Live logins answer a TOTP second factor.'),
    username: z.string({ error: 'is required: the IBKR username' }).min(1, 'must not be empty: the IBKR username').describe('IBKR username; one session workflow exists per username.'),
    passwordRef: SecretRefSchema,
    totpSecretRef: SecretRefSchema.optional().describe('Mobile Authenticator App activation code (live only).'),
    pod: z.string({ error: 'is required: the pod whose local gateway this connection uses, e.g. "pod-a"' }).regex(/^[a-z0-9][a-z0-9-]{0,62}$/, `${NAME_RULE}, e.g. "pod-a"`).describe('Pod whose local gateway this connection uses.'),
    gateway: z.strictObject(
      {
        url: z
          .string({ error: 'is required: the gateway URL, e.g. https://localhost:5000' })
          .url('must be a URL such as https://localhost:5000')
          .refine((u) => !URL.canParse(u) || /^https?:$/.test(new URL(u).protocol), 'must start with https:// (or http:// for a gateway with listenSsl: false)')
          .describe('Client Portal Gateway base URL; must be on this pod (loopback or a pod-local name).'),
        verifyTls: z.boolean({ error: 'must be true or false' }).default(true).describe('false only for the self-signed gateway on loopback.'),
        appPort: z
          .union([z.number().int().min(0).max(65535), z.literal(false)], { error: 'must be a port number 0-65535 (0 = any free port) or false (no app port)' })
          .optional()
          .describe("The pod's pacing-safe port for the user's own programs (HTTPS on loopback, the gateway's own paths); default the gateway's port + 1; false turns it off."),
      },
      {
        error: (iss) =>
          iss.code !== 'invalid_type' ? undefined : iss.input === undefined ? 'is required: { url: https://localhost:5000, verifyTls: false }' : 'must be a mapping { url, verifyTls, appPort }',
      },
    )
    .transform((g) => ({ ...g, appPort: g.appPort ?? defaultAppPort(g.url) })),
    instruments: z.array(InstrumentSchema, { error: 'must be a list such as [{ conid: 265598 }]' }).default([]).describe('Depth subscriptions of this connection.'),
    account: z.string().min(1).optional().describe('Account for depth subscriptions; default: the first account.'),
    competingPolicy: z
      .enum(['reclaim', 'wait-for-human'], { error: 'must be "reclaim" (take the session back after the cool-down) or "wait-for-human"' })
      .default('reclaim')
      .describe(
        'When a login elsewhere (TWS, mobile, web) takes the session: "reclaim" after session.competingCooldownMs — ' +
          'unless it happens again and again, then it waits for a human — or always "wait-for-human".',
      ),
  })
  .superRefine((c, ctx) => {
    if (c.mode === 'live' && !c.totpSecretRef) {
      ctx.addIssue({
        code: 'custom',
        path: ['totpSecretRef'],
        message: `live connections need the authenticator-app activation code: add totpSecretRef: "file:${c.id}/totp" and store the code with \`ibflow connection rotate-code ${c.id}\``,
      });
    }
    if (c.mode === 'paper' && c.totpSecretRef) {
      ctx.addIssue({ code: 'custom', path: ['totpSecretRef'], message: 'paper connections log in without a second factor: remove totpSecretRef or set mode: live' });
    }
    let host = '';
    try {
      host = new URL(c.gateway.url).hostname;
    } catch {
      return; // the url check above reports it
    }
    if (!isLocalGatewayHost(host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'url'],
        message:
          `the gateway must run next to the pod worker (it only accepts local clients): use localhost, 127.0.0.1, ::1 ` +
          `or a single-label pod-local name such as "ibgateway" (got "${host}")`,
      });
    }
    if (!c.gateway.verifyTls && !(LOOPBACK_HOSTS as readonly string[]).includes(host.toLowerCase())) {
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'verifyTls'],
        message: `verifyTls: false is only allowed for localhost, 127.0.0.1 or ::1 (got "${host}"); use a trusted certificate or a loopback URL`,
      });
    }
  });

/** The `depth` section; optional in the file, so read it through {@link depthSettings} to get every default. */
export const DepthSettingsSchema = z.strictObject({
  spillDir: z.string().min(1).optional().describe('Where the sink spills batches while ClickHouse is away; default <stateDir>/spill/<pod>.'),
  spillMaxBytes: z.number().int().min(1_048_576, 'must be at least 1048576 (1 MiB)').default(1_073_741_824).describe('Disk bound of the spill; over it the sink reports SpillFullError and holds rows in memory (backpressure).'),
  quarantineDir: z.string().min(1).optional().describe('Where batches ClickHouse refused for good are kept, one folder per pod; default <stateDir>/quarantine (so <stateDir>/quarantine/<pod>).'),
  quarantineMaxBytes: z.number().int().min(1_048_576, 'must be at least 1048576 (1 MiB)').default(1_073_741_824).describe('Disk bound of a pod\'s quarantine; over it a refused batch stays in the sink and is retried (the stream backs up) until records are replayed or dropped.'),
  batchRows: z.number().int().min(1).default(50_000).describe('Seal a ClickHouse insert batch at this many rows.'),
  batchDelayMs: z.number().int().min(0).default(250).describe('Seal a batch this long after its first row at the latest.'),
  maxBufferedRows: z.number().int().min(1).default(500_000).describe('Rows the sink holds in memory before it applies backpressure.'),
  maxLaddersPerAccount: z.number().int().min(1).max(60).default(1).describe('Depth ladders one account may hold at a time (IBKR: 1 BookTrader ladder; 3 deep books per 100 lines).'),
  staleAfterMs: z.number().int().min(1000).default(30_000).describe('Watchdog: resubscribe a ladder that sent nothing this long while the session is fine.'),
  snapshotEveryMs: z.number().int().min(1000).default(60_000).describe('Write a full snapshot rebuilt from the maintained book this often (delta streams).'),
  maxFrameBytes: z.number().int().min(1024).default(1_048_576).describe('Depth frames larger than this are counted, logged and skipped.'),
  moveAfterMs: z.number().int().min(0).default(300_000).describe('Coordinator: move the instruments of a connection unusable this long to healthy connections.'),
  retentionDays: z.number().int().min(1).default(30).describe('Retention schedule: drop depth partitions older than this many days.'),
});

export type DepthSettings = z.infer<typeof DepthSettingsSchema>;

/** The depth settings with every default filled in. */
export function depthSettings(config: { depth?: Partial<DepthSettings> | undefined }): DepthSettings {
  return DepthSettingsSchema.parse(config.depth ?? {});
}

/** The roles ibflow connects to ClickHouse as; each may have its own user (clickhouse.users.<role>). */
export const CLICKHOUSE_ROLES = ['ingest', 'reader', 'migrator'] as const;
export type ClickHouseRole = (typeof CLICKHOUSE_ROLES)[number];

function ClickHouseUserSchema(role: ClickHouseRole, who: string) {
  return z
    .strictObject({
      username: z.string({ error: `is required: the ClickHouse user for the ${role} role` }).min(1, `must not be empty: the ClickHouse user for the ${role} role`),
      passwordRef: SecretRefSchema.optional(),
    })
    .describe(`The ClickHouse user for ${who}.`);
}

export const IbflowConfigSchema = z
  .strictObject({
    stateDir: z.string({ error: 'is required: where state, logs and secrets live' }).min(1).describe('Where state, logs, secrets and screenshots live.'),
    temporal: z
      .strictObject({
        address: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233').default('127.0.0.1:7233'),
        namespace: z.string().min(1).default('default'),
      })
      .prefault({}),
    clickhouse: z
      .strictObject({
        url: z
          .string()
          .url('must be a URL such as http://127.0.0.1:8123')
          .refine((u) => !URL.canParse(u) || (new URL(u).username === '' && new URL(u).password === ''), 'must not carry a user or password: use clickhouse.username and clickhouse.passwordRef')
          .default('http://127.0.0.1:8123'),
        database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier (letters, digits, underscore), e.g. ibflow').default('ibflow'),
        username: z.string().default('default'),
        passwordRef: SecretRefSchema.optional(),
        users: z
          .strictObject({
            ingest: ClickHouseUserSchema('ingest', 'the workers: inserts into depth and session_events, drops old depth partitions').optional(),
            reader: ClickHouseUserSchema('reader', 'the CLI, console and agents: SELECT on the ibflow database').optional(),
            migrator: ClickHouseUserSchema('migrator', '`ibflow db migrate`: creates and alters the schema').optional(),
          })
          .optional()
          .describe('One ClickHouse user per role (least privilege); a role left out uses clickhouse.username / clickhouse.passwordRef.'),
        cluster: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'must be the name of a cluster in the server\'s remote_servers, e.g. ibflow')
          .optional()
          .describe('Cluster mode: migrations run ON CLUSTER and create replicated *_local tables behind Distributed tables with the public names.'),
        insertTarget: z
          .enum(['distributed'], { error: 'must be "distributed" (writes go through the Distributed table; direct writes to local shards are not implemented yet)' })
          .default('distributed')
          .describe('Cluster mode: where the depth sink inserts. Only "distributed" is implemented.'),
      })
      .prefault({}),
    browser: z
      .strictObject({
        executablePath: z.string().min(1).default('/usr/bin/chromium'),
        headless: z.boolean({ error: 'must be true or false' }).default(true),
        loginTimeoutMs: z.number().int().positive().default(60_000),
      })
      .prefault({}),
    session: z
      .strictObject({
        keepaliveIntervalMs: z.number().int().min(1000, 'must be at least 1000 (ms); IBKR asks for a tickle about every 60000').default(60_000).describe('IBKR asks for /tickle about every minute.'),
        maxFailedLoginsPerDay: z.number().int().min(1, 'must be at least 1; IBKR locks accounts after a few failures, 3 is the default').default(3).describe('Stops before IBKR locks the account.'),
        competingCooldownMs: z.number().int().min(0).default(120_000),
        penaltyBoxMs: z
          .number()
          .int()
          .min(1000, 'must be at least 1000 (ms); IBKR documents 900000 (15 minutes)')
          .default(15 * 60_000)
          .describe("How long IBKR's penalty box is assumed to last when a 429 carries no Retry-After; REST waits it out (the session is kept alive over the websocket), then one probe."),
        outageReportAfterMs: z
          .number()
          .int()
          .min(10_000, 'must be at least 10000 (ms)')
          .default(5 * 60_000)
          .describe('An outage ibflow cannot fix (the gateway not running, IBKR unreachable through it) lasting longer is reported as such: a session event and the status reason.'),
        maintenance: MaintenanceSchema.optional().describe("IBKR's reset/maintenance windows; default: North America (workflows/maintenance.ts)."),
      })
      .prefault({}),
    connections: z.array(ConnectionSchema, { error: 'must be a list of connections' }).default([]),
    depth: DepthSettingsSchema.optional().describe('Depth streaming, sink, spill, coordinator and retention settings (all defaulted).'),
  })
  .superRefine((cfg, ctx) => {
    const seenIds = new Map<string, number>();
    const seenUsers = new Map<string, number>();
    /** `pod gatewayUrl` → [connection index, app port]: one gateway has one app port. */
    const appPorts = new Map<string, [number, number | false]>();
    cfg.connections.forEach((c, i) => {
      if (seenIds.has(c.id)) {
        ctx.addIssue({ code: 'custom', path: ['connections', i, 'id'], message: `duplicate connection id "${c.id}" (also connections[${seenIds.get(c.id)}]): pick another id` });
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
      const gatewayKey = `${c.pod} ${c.gateway.url}`;
      const earlier = appPorts.get(gatewayKey);
      if (earlier && earlier[1] !== c.gateway.appPort) {
        ctx.addIssue({
          code: 'custom',
          path: ['connections', i, 'gateway', 'appPort'],
          message: `connections[${earlier[0]}] uses the same gateway with appPort ${String(earlier[1])}: one gateway has one app port`,
        });
      }
      appPorts.set(gatewayKey, earlier ?? [i, c.gateway.appPort]);
      if (c.gateway.appPort !== false && URL.canParse(c.gateway.url) && gatewayPort(c.gateway.url) === c.gateway.appPort) {
        ctx.addIssue({ code: 'custom', path: ['connections', i, 'gateway', 'appPort'], message: `must differ from the gateway's own port ${c.gateway.appPort}` });
      }
    });
    // Two gateways on one host (5000 and 5001) would otherwise put the first one's app port on the second gateway.
    cfg.connections.forEach((c, i) => {
      if (c.gateway.appPort === false || c.gateway.appPort === 0) return;
      const other = cfg.connections.findIndex((o) => o.pod === c.pod && URL.canParse(o.gateway.url) && gatewayPort(o.gateway.url) === c.gateway.appPort && o.gateway.url !== c.gateway.url);
      if (other >= 0) {
        ctx.addIssue({ code: 'custom', path: ['connections', i, 'gateway', 'appPort'], message: `${c.gateway.appPort} is the gateway port of connections[${other}]: set gateway.appPort to a free port` });
      }
    });
  });

function gatewayPort(url: string): number {
  const u = new URL(url);
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

/** Every field name the schema knows, for "did you mean" hints on unknown keys. */
export const KNOWN_FIELDS = [
  'stateDir', 'temporal', 'clickhouse', 'browser', 'session', 'connections', 'address', 'namespace', 'url', 'database', 'username',
  'passwordRef', 'executablePath', 'headless', 'loginTimeoutMs', 'keepaliveIntervalMs', 'maxFailedLoginsPerDay', 'competingCooldownMs', 'penaltyBoxMs',
  'outageReportAfterMs', 'maintenance', 'daily', 'weekly', 'zone', 'start', 'end', 'startDay', 'endDay',
  'cluster', 'insertTarget', 'users', 'ingest', 'reader', 'migrator', 'id', 'mode', 'competingPolicy', 'totpSecretRef', 'pod', 'gateway', 'verifyTls', 'appPort', 'instruments', 'account', 'conid', 'exchange',
  'depth', 'spillDir', 'spillMaxBytes', 'quarantineDir', 'quarantineMaxBytes', 'batchRows', 'batchDelayMs', 'maxBufferedRows', 'maxLaddersPerAccount', 'staleAfterMs',
  'snapshotEveryMs', 'maxFrameBytes', 'moveAfterMs', 'retentionDays',
] as const;

export type IbflowConfig = z.infer<typeof IbflowConfigSchema>;
export type ConnectionConfig = z.infer<typeof ConnectionSchema>;
