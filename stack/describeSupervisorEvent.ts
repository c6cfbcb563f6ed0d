import type { SupervisorEvent } from './supervisor';

/** One progress line per supervisor event, as `ibflow up` and the soak print them. */
export function describeSupervisorEvent(event: SupervisorEvent): string {
  switch (event.kind) {
    case 'starting':
      return `  starting ${event.name}…`;
    case 'ready':
      return `  ✓ ${event.name} ready (${((event.ms ?? 0) / 1000).toFixed(1)} s)`;
    case 'crashed':
      return `  ! ${event.name} exited (${event.code ?? event.signal})${event.restartInMs === null ? '' : `; restarting in ${event.restartInMs / 1000} s`}`;
    case 'restart_failed':
      return `  ! ${event.name} failed to restart: ${event.error}`;
    case 'gave_up':
      return `  ! ${event.name} failed to restart: ${event.error}; giving it up`;
    case 'stopping':
      return `  stopping ${event.name}…`;
    case 'stopped':
      return `  ✓ ${event.name} stopped`;
  }
}
