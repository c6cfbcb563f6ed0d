/**
 * What an app sent the port, decided from the method and path alone: only the gateway's own API
 * paths are served, and a few of them (tickle, auth status, logout) get special treatment.
 */
export type RequestKind = 'tickle' | 'authStatus' | 'logout' | 'websocket' | 'api' | 'notGateway';

export interface ClassifiedRequest {
  kind: RequestKind;
  /** The path without its query string, as the app sent it. */
  path: string;
}

const API_PREFIXES = ['/v1/api/', '/v1/portal/'];
export const WEBSOCKET_PATH = '/v1/api/ws';
const READ_OR_POST = new Set(['GET', 'POST']);

/**
 * A path that a URL parser would rewrite (dot segments, encoded slashes or dots, backslashes,
 * empty segments) could leave the API prefix once the gateway resolves it, so it is never
 * forwarded.
 */
function isAmbiguous(path: string): boolean {
  return /(^|\/)\.\.?(\/|$)/.test(path) || /%2e|%2f|%5c/i.test(path) || path.includes('\\') || path.includes('//');
}

/** The part after `/v1/api/` or `/v1/portal/`, or null for any other path. */
function apiSuffix(path: string): string | null {
  if (isAmbiguous(path)) return null;
  const prefix = API_PREFIXES.find((p) => path.startsWith(p));
  if (!prefix) return null;
  const suffix = path.slice(prefix.length).replace(/\/$/, '');
  return suffix === '' ? null : suffix;
}

export function classifyRequest(method: string, url: string): ClassifiedRequest {
  const path = url.split('?')[0];
  const suffix = apiSuffix(path);
  if (suffix === null) return { kind: 'notGateway', path };
  // Whatever the method, a logout would end the session ibflow keeps for everyone.
  if (suffix === 'logout') return { kind: 'logout', path };
  if (READ_OR_POST.has(method)) {
    if (suffix === 'tickle') return { kind: 'tickle', path };
    if (suffix === 'iserver/auth/status') return { kind: 'authStatus', path };
  }
  return { kind: 'api', path };
}

/** Websocket upgrades are served on the gateway's one websocket path only. */
export function isWebsocketPath(url: string): boolean {
  return url.split('?')[0] === WEBSOCKET_PATH;
}
