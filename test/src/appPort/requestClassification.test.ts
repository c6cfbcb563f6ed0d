import { classifyRequest, isWebsocketPath } from '../../../src/appPort/requestClassification';

describe('classifyRequest', () => {
  test.each([
    ['GET', '/v1/api/tickle', 'tickle'],
    ['POST', '/v1/portal/tickle', 'tickle'],
    ['GET', '/v1/api/iserver/auth/status', 'authStatus'],
    ['POST', '/v1/portal/iserver/auth/status', 'authStatus'],
    ['POST', '/v1/api/logout', 'logout'],
    ['GET', '/v1/portal/logout', 'logout'],
    ['DELETE', '/v1/api/logout', 'logout'],
    ['GET', '/v1/api/iserver/accounts', 'api'],
    ['POST', '/v1/api/iserver/secdef/search?symbol=AAPL', 'api'],
    ['DELETE', '/v1/api/tickle', 'api'],
    ['GET', '/v1/api/tickle?x=1', 'tickle'],
  ])('%s %s is %s', (method, url, kind) => {
    expect(classifyRequest(method, url).kind).toBe(kind);
  });

  test('the path is given without its query string', () => {
    expect(classifyRequest('GET', '/v1/api/iserver/secdef/search?symbol=AAPL')).toEqual({ kind: 'api', path: '/v1/api/iserver/secdef/search' });
  });

  test.each([
    '/',
    '/sso/Login',
    '/sim/control/stats',
    '/v1/api',
    '/v1/api/',
    '/v1/apis/tickle',
    '/v1/api/../sso/Login',
    '/v1/api/./tickle',
    '/v1/api/%2e%2e/sso/Login',
    '/v1/api/iserver%2F..%2Fsso',
    '/v1/api//tickle',
    '/v1/api/..\\sso',
  ])('%s is not a gateway API path', (url) => {
    expect(classifyRequest('GET', url).kind).toBe('notGateway');
  });

  test('only /v1/api/ws is the websocket path', () => {
    expect(isWebsocketPath('/v1/api/ws')).toBe(true);
    expect(isWebsocketPath('/v1/api/ws?x=1')).toBe(true);
    expect(isWebsocketPath('/v1/portal/ws')).toBe(false);
    expect(isWebsocketPath('/ws')).toBe(false);
  });
});
