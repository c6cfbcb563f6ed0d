import type { IbflowConfig } from '../src/config/schema';
import { startConnectionWorkflows, startDepthMaintenance } from '../src/operations/connectionWorkflows';
import { startStack } from './startStack';

export interface EmbeddedStackOptions {
  stateDir: string;
  temporalPort: number;
  temporalUiPort: number;
  clickhouseHttpPort: number;
  clickhouseTcpPort: number;
  gatewayPortBase: number;
  /** First pod's app port (one per pod); default gatewayPortBase + 100. */
  appPortBase?: number;
  progress: (line: string) => void;
}

export interface EmbeddedStack {
  config: IbflowConfig;
  configPath: string;
  temporalUiUrl: string;
  clickhouseUrl: string;
  stop(): Promise<void>;
}

/**
 * `ibflow up`: the whole system on one machine. The demo config, every service a supervised child
 * process restarted whenever it exits; then one session workflow per connection and one depth
 * workflow per connection, started idempotently so a second `up` resumes the same workflows.
 */
export async function startEmbeddedStack(opts: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const stack = await startStack({
    stateDir: opts.stateDir,
    ports: { temporal: opts.temporalPort, temporalUi: opts.temporalUiPort, clickhouseHttp: opts.clickhouseHttpPort, clickhouseTcp: opts.clickhouseTcpPort },
    config: { kind: 'demo', gatewayPortBase: opts.gatewayPortBase, appPorts: opts.appPortBase === undefined ? undefined : [opts.appPortBase, opts.appPortBase + 1] },
    workers: 'child-processes',
    simulators: 'child-processes',
    restart: { services: 'all' },
    progress: opts.progress,
  });
  try {
    await startConnectionWorkflows(stack.config, opts.progress);
    await startDepthMaintenance(stack.config, opts.progress);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return {
    config: stack.config,
    configPath: stack.configPath,
    temporalUiUrl: stack.temporalUiUrl,
    clickhouseUrl: stack.clickhouseUrl,
    stop: () => stack.stop(),
  };
}
