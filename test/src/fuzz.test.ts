/**
 * Property tests (fast-check) for everything that reads outside input: depth frames, config,
 * activation codes and the TOTP timing rule. Bad input must give a clear, typed error — never a
 * crash of another kind, never partial garbage, never a secret in the message.
 */
import fc from 'fast-check';
import { DepthFrameError, normaliseDepthFrame, parseDepthTopic } from '../../src/book/normaliseDepthFrame';
import { ConfigError, parseConfig } from '../../src/config/loadConfig';
import { MIN_SECONDS_LEFT, planTotpStep, TOTP_PERIOD_S, validateActivationCode, InvalidActivationCodeError } from '../../src/totp/totpCode';

const ctx = { receivedNs: 1_700_000_000_000_000_000n, connection: 'c', pod: 'p', streamId: 's', seq: 1 };

const priceString = fc.double({ min: 0.01, max: 100_000, noNaN: true }).map((p) => p.toFixed(2));
const sizeValue = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 1_000_000 }).map((n) => n.toLocaleString('en-US')));
const ladderRow = fc.record(
  { row: fc.nat(100), focus: fc.constantFrom(0, 1), price: priceString, bid: sizeValue, ask: sizeValue },
  { requiredKeys: ['row', 'price'] },
);

test('well-formed ladders always normalise to rows with finite prices, non-negative sizes and dense levels', () => {
  fc.assert(
    fc.property(fc.array(ladderRow, { maxLength: 30 }), (data) => {
      const rows = normaliseDepthFrame({ topic: 'sbd+DU1+265598', data }, ctx);
      for (const r of rows) {
        expect(Number.isFinite(r.price)).toBe(true);
        expect(r.size).toBeGreaterThanOrEqual(0);
        expect(r.conid).toBe(265598);
      }
      for (const side of ['bid', 'ask'] as const) {
        const levels = rows.filter((r) => r.side === side).map((r) => r.level).sort((a, b) => a - b);
        expect(levels).toEqual(levels.map((_, i) => i));
      }
    }),
    { numRuns: 300 },
  );
});

test('arbitrary JSON values never crash the normaliser with anything but a DepthFrameError', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), (data, extra) => {
      for (const frame of [data, { topic: 'sbd+DU1+265598', data }, { topic: 'sbd+DU1+265598', data: [data, extra] }]) {
        try {
          const rows = normaliseDepthFrame(frame, ctx);
          expect(Array.isArray(rows)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(DepthFrameError);
          expect((err as Error).message.length).toBeGreaterThan(0);
        }
      }
    }),
    { numRuns: 500 },
  );
});

test('topics: arbitrary strings parse to null or a valid positive conid', () => {
  fc.assert(
    fc.property(fc.string(), (topic) => {
      const parsed = parseDepthTopic(topic);
      if (parsed) expect(Number.isInteger(parsed.conid) && parsed.conid > 0).toBe(true);
    }),
  );
  expect(parseDepthTopic('<html>')).toBeNull();
});

test('config: arbitrary objects either validate or raise a ConfigError that never echoes a secret-looking value', () => {
  const canary = 'CANARY-secret-9f1c';
  fc.assert(
    fc.property(
      fc.record({
        id: fc.oneof(fc.constant('ok-id'), fc.string()),
        mode: fc.oneof(fc.constantFrom('paper', 'live'), fc.string()),
        username: fc.oneof(fc.constant('user1'), fc.constant('')),
        passwordRef: fc.oneof(fc.constant('file:ok/password'), fc.constant(canary)),
        pod: fc.oneof(fc.constant('pod-a'), fc.string()),
        gateway: fc.record({ url: fc.oneof(fc.constant('https://localhost:5000'), fc.string()), verifyTls: fc.boolean() }),
      }),
      (connection) => {
        try {
          parseConfig({ stateDir: '/tmp/x', connections: [connection] });
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          expect((err as Error).message).not.toContain(canary);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('activation codes: only 16–32 base32 characters pass, after removing spaces and dashes and upper-casing', () => {
  const base32 = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz'.split(''));
  fc.assert(
    fc.property(fc.array(base32, { minLength: 1, maxLength: 40 }), fc.boolean(), (chars, spaced) => {
      const raw = spaced ? chars.join('').replace(/(.{4})/g, '$1 ') : chars.join('');
      try {
        const code = validateActivationCode(raw);
        expect(code).toMatch(/^[A-Z2-7]{16,32}$/);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidActivationCodeError);
        expect(chars.length < 16 || chars.length > 32).toBe(true);
      }
    }),
  );
  fc.assert(
    fc.property(fc.string({ minLength: 16, maxLength: 32 }).filter((s) => /[^A-Za-z2-7\s-]/.test(s)), (raw) => {
      expect(() => validateActivationCode(raw)).toThrow(InvalidActivationCodeError);
    }),
  );
});

test('TOTP timing: the planned step is never reused and always leaves at least 8 s', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }), fc.option(fc.integer({ min: -3, max: 3 })), (nowMs, offset) => {
      const current = Math.floor(nowMs / 1000 / TOTP_PERIOD_S);
      const lastUsed = offset === null ? null : current + offset;
      const plan = planTotpStep(nowMs, lastUsed);
      if (lastUsed !== null) expect(plan.step).toBeGreaterThan(lastUsed);
      const typedAtS = (nowMs + plan.waitMs) / 1000;
      expect((plan.step + 1) * TOTP_PERIOD_S - typedAtS).toBeGreaterThanOrEqual(MIN_SECONDS_LEFT - 0.001);
      expect(typedAtS).toBeGreaterThanOrEqual(plan.step * TOTP_PERIOD_S - 0.001);
    }),
    { numRuns: 1000 },
  );
});
