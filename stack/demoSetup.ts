import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSecret } from 'otplib';
import { stringify as toYaml } from 'yaml';
import { FileSecretStore } from '../src/secrets/fileSecretStore';
import { secretFilePath } from '../src/secrets/secretResolver';

export interface DemoPorts {
  temporalPort: number;
  clickhouseHttpPort: number;
  /** Simulated gateways listen on gatewayPortBase, gatewayPortBase + 1, ... */
  gatewayPortBase: number;
  /** Explicit ports, one per pod (tests pick free ones); overrides gatewayPortBase. */
  gatewayPorts?: number[];
  /** Each pod's app port; default gatewayPortBase + 100 + i (both demo pods share this host). */
  appPorts?: number[];
}

export interface DemoPod {
  pod: string;
  gatewayPort: number;
  /** The pacing-safe port for the user's own programs (docs/app-port.md). */
  appPort: number;
  usersFile: string;
}

/** Demo app ports sit this far above the demo gateways (5000, 5001 → 5100, 5101). */
export const APP_PORT_OFFSET = 100;

/** The two demo connections: one paper user (password only), one live user (password + TOTP). */
export const DEMO_CONNECTIONS = [
  { id: 'demo-paper', mode: 'paper', username: 'demopaper1', account: 'DU1234567', pod: 'pod-a', conid: 265598 },
  { id: 'demo-live', mode: 'live', username: 'demolive1', account: 'U7654321', pod: 'pod-b', conid: 8314 },
] as const;

export function configPathIn(stateDir: string): string {
  return join(stateDir, 'ibflow.yaml');
}

/**
 * Writes, once, the demo config, its secrets (random, into the 0600 secret file) and the matching
 * simulator users (the simulator plays IBKR, so it must know the same passwords). Ports are
 * rewritten on every run so `up --*-port` flags apply; secrets are kept so workflows resume.
 */
export function ensureDemoSetup(stateDir: string, ports: DemoPorts): { configPath: string; pods: DemoPod[] } {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const secrets = new FileSecretStore(secretFilePath(stateDir));
  for (const c of DEMO_CONNECTIONS) {
    if (!secrets.has(`${c.id}/password`)) secrets.set(`${c.id}/password`, randomBytes(12).toString('base64url'));
    if (c.mode === 'live' && !secrets.has(`${c.id}/totp`)) secrets.set(`${c.id}/totp`, generateSecret());
  }
  const pods: DemoPod[] = [];
  const simDir = join(stateDir, 'sim');
  mkdirSync(simDir, { recursive: true, mode: 0o700 });
  DEMO_CONNECTIONS.forEach((c, i) => {
    pods.push({
      pod: c.pod,
      gatewayPort: ports.gatewayPorts?.[i] ?? ports.gatewayPortBase + i,
      appPort: ports.appPorts?.[i] ?? ports.gatewayPortBase + APP_PORT_OFFSET + i,
      usersFile: join(simDir, `${c.pod}-users.json`),
    });
  });

  const config = {
    temporal: { address: `127.0.0.1:${ports.temporalPort}`, namespace: 'default' },
    clickhouse: { url: `http://127.0.0.1:${ports.clickhouseHttpPort}`, database: 'ibflow' },
    // The simulator keeps no reset calendar unless told to, so neither does the demo.
    session: { maintenance: { daily: [], weekly: [] } },
    connections: DEMO_CONNECTIONS.map((c, i) => simulatedConnectionConfig({ ...c, gatewayPort: pods[i].gatewayPort, appPort: pods[i].appPort })),
  };
  const configPath = configPathIn(stateDir);
  writeFileSync(configPath, `# Written by \`ibflow up\` for the embedded demo stack. Secrets live in secrets.json (mode 0600).\n${toYaml(config)}`);
  return { configPath, pods };
}

/** The simulator's user file for one pod: the users whose gateway that pod is. */
export async function writeDemoSimUsers(stateDir: string, pod: Pick<DemoPod, 'pod' | 'usersFile'>): Promise<void> {
  const secrets = new FileSecretStore(secretFilePath(stateDir));
  const users = [];
  for (const c of DEMO_CONNECTIONS.filter((d) => d.pod === pod.pod)) {
    users.push({
      username: c.username,
      password: await secrets.get(`${c.id}/password`),
      mode: c.mode,
      ...(c.mode === 'live' ? { totpSecret: await secrets.get(`${c.id}/totp`) } : {}),
      accounts: [c.account],
    });
  }
  writeFileSync(pod.usersFile, JSON.stringify({ users }, null, 2), { mode: 0o600 });
}

export interface SimulatedConnection {
  id: string;
  mode: 'paper' | 'live';
  username: string;
  pod: string;
  account: string;
  conid: number;
  gatewayPort: number;
  /** Default: no app port. */
  appPort?: number | false;
}

/** The config entry of a connection to a simulated gateway on loopback, secrets in the file store. */
export function simulatedConnectionConfig(c: SimulatedConnection): Record<string, unknown> {
  return {
    id: c.id,
    mode: c.mode,
    username: c.username,
    passwordRef: `file:${c.id}/password`,
    ...(c.mode === 'live' ? { totpSecretRef: `file:${c.id}/totp` } : {}),
    pod: c.pod,
    account: c.account,
    gateway: { url: `https://127.0.0.1:${c.gatewayPort}`, verifyTls: false, appPort: c.appPort ?? false },
    instruments: [{ conid: c.conid }],
  };
}
