import { WorkflowNotFoundError, type Client } from '@temporalio/client';

/** Runs one RPC with a deadline, so a missing worker or server turns into an error, not a hang. */
export function withDeadline<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  return client.connection.withDeadline(Date.now() + ms, fn);
}

export function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (err as { name?: string })?.name === 'WorkflowNotFoundError';
}

/** The first line of an error, without gRPC noise. */
export function shortReason(err: unknown): string {
  const seen = new Set<unknown>();
  let e: unknown = err;
  // Prefer the innermost cause's message (ApplicationFailure from a validator, for example).
  while (e && typeof e === 'object' && 'cause' in e && (e as { cause?: unknown }).cause && !seen.has(e)) {
    seen.add(e);
    e = (e as { cause: unknown }).cause;
  }
  const text = e instanceof Error ? e.message : String(e ?? err);
  return text.split('\n')[0]!.replace(/^\d+ [A-Z_]+: /, '').slice(0, 300);
}
