import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', '..', 'cli', 'bin.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every byte any CLI run printed in this test file, to check canaries against at the end. */
export const transcript: string[] = [];

/** Runs `ibflow …` as a user would from a script: no terminal, optional stdin. */
export function runCli(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env, FORCE_COLOR: '0' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      transcript.push(stdout, stderr);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `ibflow …` in a pseudo-terminal (util-linux `script`), as a person at a keyboard: wait for a
 * prompt, type an answer. The terminal echoes whatever the program does not hide.
 */
export class PtySession {
  output = '';
  private readonly exited: Promise<number>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    const cmd = [process.execPath, CLI, ...args].map(shellQuote).join(' ');
    const child = spawn('script', ['-qefc', cmd, '/dev/null'], { env: { ...process.env, ...env, TERM: 'xterm', COLUMNS: '200' }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    this.write = (text: string) => void child.stdin.write(text);
    this.kill = () => child.kill('SIGKILL');
  }

  readonly write: (text: string) => void;
  readonly kill: () => void;

  /** Output already answered; prompts are looked for after it. */
  private seen = 0;

  /** Resolves once `pattern` appears in output not yet consumed by an answer. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(plain(this.output.slice(this.seen)))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in:\n${plain(this.output)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits for a prompt, then types the answer (keys as given, Enter appended). */
  async answer(prompt: RegExp, keys: string): Promise<void> {
    await this.waitFor(prompt);
    await new Promise((r) => setTimeout(r, 150)); // let the prompt finish rendering
    this.seen = this.output.length;
    this.write(`${keys}\r`);
  }

  async exit(timeoutMs = 120_000): Promise<number> {
    const timer = setTimeout(() => this.kill(), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    transcript.push(this.output);
    return code;
  }
}

/** Terminal output without colour and cursor codes. */
export function plain(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
}

export const DOWN = '\x1b[B';
