import fc from 'fast-check';
import { backoffDelayMs } from '../../workflows/backoff';
import { SHORT_LIVED_MS, SHORT_LIVED_RESET_MS, shortLivedCountAfter, waitBeforeLogin } from '../../workflows/shortLivedSessions';

const span = (usableForMs: number, over: { troubled?: boolean; interruptedByHuman?: boolean } = {}) => ({ usableForMs, troubled: true, interruptedByHuman: false, ...over });

describe('shortLivedCountAfter', () => {
  test('the thresholds: under 20 s counts, 100 s usable resets', () => {
    expect(SHORT_LIVED_MS).toBe(20_000);
    expect(SHORT_LIVED_RESET_MS).toBe(100_000);
  });

  test('a session that died under 20 s counts; at 20 s it does not', () => {
    expect(shortLivedCountAfter(2, span(19_999))).toBe(3);
    expect(shortLivedCountAfter(2, span(20_000))).toBe(2);
  });

  test('a quick keepalive refresh (still usable) or a human interruption does not count', () => {
    expect(shortLivedCountAfter(2, span(1_000, { troubled: false }))).toBe(2);
    expect(shortLivedCountAfter(2, span(1_000, { interruptedByHuman: true }))).toBe(2);
  });

  test('100 s usable clears the count, troubled or not', () => {
    expect(shortLivedCountAfter(5, span(99_999))).toBe(5);
    expect(shortLivedCountAfter(5, span(100_000))).toBe(0);
    expect(shortLivedCountAfter(5, span(6 * 60 * 60_000, { troubled: false }))).toBe(0);
  });

  test('the count only grows by one, resets to zero, or stays (property)', () => {
    fc.assert(
      fc.property(fc.nat(50), fc.nat(10 * 60_000), fc.boolean(), fc.boolean(), (count, usableForMs, troubled, interruptedByHuman) => {
        const next = shortLivedCountAfter(count, { usableForMs, troubled, interruptedByHuman });
        if (usableForMs < SHORT_LIVED_MS && troubled && !interruptedByHuman) expect(next).toBe(count + 1);
        else if (usableForMs >= SHORT_LIVED_RESET_MS) expect(next).toBe(0);
        else expect(next).toBe(count);
      }),
    );
  });
});

describe('waitBeforeLogin', () => {
  test('no short-lived sessions: no wait and no random draw', () => {
    const random = jest.fn(() => 0.5);
    expect(waitBeforeLogin(0, random)).toBeNull();
    expect(random).not.toHaveBeenCalled();
  });

  test('a growing backoff with the count in the reason', () => {
    expect(waitBeforeLogin(1, () => 0.5)).toEqual({ delayMs: 2_000, reason: 'the last session lasted under 20 s (1× in a row); waiting before logging in again' });
    expect(waitBeforeLogin(3, () => 0.5)).toEqual({ delayMs: 8_000, reason: 'the last session lasted under 20 s (3× in a row); waiting before logging in again' });
  });

  test('is the backoff of the count, with exactly one random draw (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (count, r) => {
        const random = jest.fn(() => r);
        expect(waitBeforeLogin(count, random)?.delayMs).toBe(backoffDelayMs(count, () => r));
        expect(random).toHaveBeenCalledTimes(1);
      }),
    );
  });
});
