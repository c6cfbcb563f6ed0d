import { ConfigError } from '../../src/config/loadConfig';
import { SecretMissingError, SecretStoreError } from '../../src/secrets/secretStore';
import { InvalidActivationCodeError } from '../../src/totp/totpCode';

/** Exit codes (docs/cli.md): 0 ok, 1 failure, 2 bad usage or config, 3 not found. */
export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3 } as const;

/** An error whose message is for the user as it stands and whose exit code is chosen. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

export const usage = (message: string) => new CliError(message, EXIT.usage);
export const notFound = (message: string) => new CliError(message, EXIT.notFound);

/** The exit code for any error that reaches the top. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ConfigError) return (err as ConfigError & { notFound?: boolean }).notFound ? EXIT.notFound : EXIT.usage;
  if (err instanceof InvalidActivationCodeError) return EXIT.usage;
  if (err instanceof SecretMissingError || err instanceof SecretStoreError) return EXIT.failure;
  if ((err as { name?: string })?.name === 'ExitPromptError') return EXIT.failure;
  const code = (err as { exitCode?: unknown })?.exitCode;
  return typeof code === 'number' ? code : EXIT.failure;
}

/** One line (or a few) for stderr; never a stack trace. */
export function messageOf(err: unknown): string {
  if ((err as { name?: string })?.name === 'ExitPromptError') return 'cancelled';
  if (err instanceof Error) return err.message;
  return String(err);
}
