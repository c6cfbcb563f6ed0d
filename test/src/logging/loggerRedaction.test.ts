import { createLogger, isSensitiveKey } from '../../../src/logging/logger';

const CANARY = 'CANARY-log-77e1';

function capture() {
  const lines: string[] = [];
  return { logger: createLogger('t', { write: (s: string) => void lines.push(s) }), lines };
}

test.each(['Password', 'PASSWORD', 'pass_word'.replace('_', ''), 'TOTP_CODE', 'totp-secret', 'Set-Cookie', 'Authorization', 'accessToken', 'API_KEY', 'activation_code'])('%s is sensitive', (k) =>
  expect(isSensitiveKey(k)).toBe(true),
);
test.each(['username', 'passwordRef', 'totpSecretRef', 'sessionId', 'connectionId', 'conid', 'state'])('%s is not', (k) => expect(isSensitiveKey(k)).toBe(false));

test('case variants, arrays and deep paths are redacted; the object is not mutated', () => {
  const { logger, lines } = capture();
  const obj = {
    Password: CANARY,
    users: [{ name: 'a', TOTP: CANARY }, [{ cookie: CANARY }]],
    a: { b: { c: { d: { e: { Authorization: CANARY } } } } },
    keep: { passwordRef: 'file:x/password' },
  };
  logger.info(obj, 'deep');
  expect(lines.join('')).not.toContain(CANARY);
  const rec = JSON.parse(lines[0]!);
  expect(rec.users[0]).toEqual({ name: 'a', TOTP: '[redacted]' });
  expect(rec.keep.passwordRef).toBe('file:x/password');
  expect(obj.Password).toBe(CANARY);
  expect(obj.users[0]).toEqual({ name: 'a', TOTP: CANARY });
});

test('child bindings with case variants are redacted, at any depth of children', () => {
  const { logger, lines } = capture();
  logger.child({ SESSION: CANARY, id: 1 }).child({ nested: { Token: CANARY } }).info('x');
  expect(lines.join('')).not.toContain(CANARY);
  expect(JSON.parse(lines[0]!)).toMatchObject({ SESSION: '[redacted]', id: 1, nested: { Token: '[redacted]' } });
});
