/**
 * Which answers the gateway gives by itself and which it passes on from IBKR. A real gateway
 * (build 2023-04-24) cut off from IBKR still answered these and nothing else, and its own answers
 * carry no `Date` header. The IP filter's `Access Denied` and the 411 for a POST without
 * Content-Length are local too; they come before any routing (see startSimulator).
 */

const LOCAL_PATHS: Record<string, readonly string[]> = {
  '/': ['GET'],
  '/v1/api/iserver/reauthenticate': ['GET', 'POST'],
  '/v1/portal/iserver/reauthenticate': ['GET', 'POST'],
};

/** True when the gateway answers `method path` itself; false when the request goes on to IBKR. */
export function isLocalAnswer(method: string, path: string): boolean {
  return LOCAL_PATHS[path]?.includes(method.toUpperCase()) ?? false;
}
