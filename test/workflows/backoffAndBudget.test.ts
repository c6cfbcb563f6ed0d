import { seededRandom } from '../../sim/priceWalk';
import { DEFAULT_BACKOFF, backoffDelayMs, type BackoffPolicy } from '../../workflows/backoff';
import { LOGIN_BUDGET_WINDOW_MS, loginBudgetExhausted, recentFailedLogins } from '../../workflows/loginBudget';

const noJitter = (): number => 0.5; // 2*0.5-1 = 0: the base delay exactly
const lowest = (): number => 0; // -jitter
const highest = (): number => 0.999999999; // just under +jitter

/** A deterministic pseudo-random sequence (mulberry32) standing in for the workflow's Math.random. */
const seeded = seededRandom;

describe('backoffDelayMs', () => {
  test('the default policy', () => {
    expect(DEFAULT_BACKOFF).toEqual({ initialMs: 2_000, maxMs: 300_000, factor: 2, jitter: 0.2 });
  });

  test('grows exponentially from initialMs without jitter', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelayMs(n, noJitter))).toEqual([
      2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000,
    ]);
  });

  test('zero or negative failures behave like the first failure', () => {
    expect(backoffDelayMs(0, noJitter)).toBe(2_000);
    expect(backoffDelayMs(-3, noJitter)).toBe(2_000);
  });

  test('is capped at maxMs', () => {
    expect(backoffDelayMs(8, noJitter)).toBe(256_000);
    expect(backoffDelayMs(9, noJitter)).toBe(300_000);
    expect(backoffDelayMs(50, noJitter)).toBe(300_000);
    expect(backoffDelayMs(5000, noJitter)).toBe(300_000); // Math.pow overflows to Infinity; still capped
  });

  test('jitter stays within ±jitter of the base', () => {
    expect(backoffDelayMs(1, lowest)).toBe(1_600);
    expect(backoffDelayMs(1, highest)).toBe(2_400);
    expect(backoffDelayMs(3, lowest)).toBe(6_400);
    expect(backoffDelayMs(3, highest)).toBe(9_600);
  });

  test('jitter never pushes a capped delay above maxMs, but can lower it', () => {
    expect(backoffDelayMs(20, highest)).toBe(300_000);
    expect(backoffDelayMs(20, lowest)).toBe(240_000);
  });

  test('random jitter: every delay within bounds, integer, and not all identical', () => {
    const random = seeded(42);
    for (let failures = 1; failures <= 12; failures++) {
      const base = Math.min(300_000, 2_000 * 2 ** (failures - 1));
      const seen = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const d = backoffDelayMs(failures, random);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(Math.round(base * 0.8));
        expect(d).toBeLessThanOrEqual(Math.min(300_000, Math.round(base * 1.2)));
        seen.add(d);
      }
      expect(seen.size).toBeGreaterThan(10);
    }
  });

  test('calls random exactly once per delay (workflow determinism)', () => {
    const random = jest.fn(() => 0.25);
    backoffDelayMs(4, random);
    expect(random).toHaveBeenCalledTimes(1);
  });

  test('a custom policy', () => {
    const policy: BackoffPolicy = { initialMs: 100, maxMs: 1_000, factor: 3, jitter: 0 };
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, lowest, policy))).toEqual([100, 300, 900, 1_000]);
  });

  test('a jitter above 1 never produces a negative delay', () => {
    const policy: BackoffPolicy = { initialMs: 1_000, maxMs: 10_000, factor: 2, jitter: 1.5 };
    expect(backoffDelayMs(1, lowest, policy)).toBe(0);
  });
});

describe('login budget', () => {
  const now = 1_700_000_000_000;
  const H = 60 * 60 * 1000;

  test('the window is 24 hours', () => {
    expect(LOGIN_BUDGET_WINDOW_MS).toBe(24 * H);
  });

  test('a failure exactly 24 h old has left the window; 1 ms younger is still in it', () => {
    expect(recentFailedLogins([now - 24 * H], now)).toEqual([]);
    expect(recentFailedLogins([now - 24 * H + 1], now)).toEqual([now - 24 * H + 1]);
  });

  test('keeps only recent failures, in order', () => {
    const failures = [now - 30 * H, now - 23 * H, now - 25 * H, now - 1, now];
    expect(recentFailedLogins(failures, now)).toEqual([now - 23 * H, now - 1, now]);
  });

  test('does not modify its input', () => {
    const failures = [now - 30 * H, now - H];
    recentFailedLogins(failures, now);
    expect(failures).toEqual([now - 30 * H, now - H]);
  });

  test('exhausted when recent failures reach the limit', () => {
    expect(loginBudgetExhausted([], now, 3)).toBe(false);
    expect(loginBudgetExhausted([now - 3 * H, now - 2 * H], now, 3)).toBe(false);
    expect(loginBudgetExhausted([now - 3 * H, now - 2 * H, now - H], now, 3)).toBe(true);
    expect(loginBudgetExhausted([now - 3 * H, now - 2 * H, now - H, now], now, 3)).toBe(true);
  });

  test('old failures do not count against the budget', () => {
    const failures = [now - 24 * H, now - 2 * H, now - H];
    expect(loginBudgetExhausted(failures, now, 3)).toBe(false);
    // 1 ms earlier the oldest one was still inside the window
    expect(loginBudgetExhausted(failures, now - 1, 3)).toBe(true);
  });

  test('the budget frees up exactly when the oldest failure turns 24 h old', () => {
    const failures = [now, now + H, now + 2 * H];
    expect(loginBudgetExhausted(failures, now + 24 * H - 1, 3)).toBe(true);
    expect(loginBudgetExhausted(failures, now + 24 * H, 3)).toBe(false);
  });

  test('a limit of 1 is exhausted by a single recent failure', () => {
    expect(loginBudgetExhausted([now - 5_000], now, 1)).toBe(true);
  });
});
