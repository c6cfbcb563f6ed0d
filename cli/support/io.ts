import Table from 'cli-table3';
import { CliError, EXIT } from './errors';

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}
/** Progress and notes go to stderr, so stdout stays clean for --json and pipes. */
export function note(line = ''): void {
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({
    head,
    style: { head: process.stdout.isTTY ? ['bold'] : [], border: process.stdout.isTTY ? ['grey'] : [] },
    wordWrap: true,
  });
  for (const r of rows) t.push(r.map((c) => String(c)));
  return t.toString();
}

export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY) && process.env.IBFLOW_NO_PROMPT !== '1';
}

let stdinLines: string[] | null = null;
/** Stdin, read once, split into lines (a trailing newline does not make an empty last line). */
async function readStdinLines(): Promise<string[]> {
  if (stdinLines) return stdinLines;
  if (process.stdin.isTTY) throw new CliError('--password-stdin / --code-stdin read from a pipe, but stdin is a terminal; leave the flag out to be asked', EXIT.usage);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  stdinLines = text.split(/\r?\n/);
  if (stdinLines.length > 0 && stdinLines[stdinLines.length - 1] === '') stdinLines.pop();
  return stdinLines;
}

let stdinCursor = 0;
/** The next line of stdin; `what` names it in the error when stdin has run out. */
export async function nextStdinLine(what: string): Promise<string> {
  const lines = await readStdinLines();
  if (stdinCursor >= lines.length) throw new CliError(`stdin ended before the ${what} (one value per line)`, EXIT.usage);
  return lines[stdinCursor++]!;
}

type Prompts = typeof import('@inquirer/prompts');
let prompts: Prompts | null = null;
/** @inquirer/prompts is ESM; loaded only when a prompt is really shown. */
export function ask(): Prompts {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  prompts ??= require('@inquirer/prompts') as Prompts;
  return prompts;
}

/** Missing value and no terminal: say which flag would have given it. */
export function needFlag(flag: string, what: string): never {
  throw new CliError(`missing ${flag} (${what}); no terminal to ask on — pass the flag, see --help`, EXIT.usage);
}
