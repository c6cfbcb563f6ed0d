import { freePort } from '../src/util/freePort';
import type { StackPorts } from './stackOptions';

/** Free ports for a stack that must not disturb a running `ibflow up` (tests, soak, benchmarks). */
export async function freeStackPorts(): Promise<StackPorts> {
  const [temporal, temporalUi, clickhouseHttp, clickhouseTcp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  return { temporal, temporalUi, clickhouseHttp, clickhouseTcp };
}
