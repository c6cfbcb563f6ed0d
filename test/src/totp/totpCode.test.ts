import { createHmac } from 'node:crypto';
import { generateSync } from 'otplib';
import {
  InvalidActivationCodeError,
  MIN_SECONDS_LEFT,
  TOTP_PERIOD_S,
  normaliseActivationCode,
  planTotpStep,
  totpCodeForStep,
  validateActivationCode,
} from '../../../src/totp/totpCode';

/** RFC 6238 test secret: base32 of ASCII "12345678901234567890". */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const PERIOD_MS = 30_000;

/** An independent RFC 4226/6238 reference built on node:crypto, to check codes otplib would refuse. */
function referenceTotp(base32: string, step: number, digits = 6): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of base32.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

describe('normaliseActivationCode', () => {
  test('removes spaces and dashes and upper-cases', () => {
    expect(normaliseActivationCode('abcd efgh-ijkl\tmnop\n')).toBe('ABCDEFGHIJKLMNOP');
  });
});

describe('validateActivationCode', () => {
  test('spaces and lower case are normalised', () => {
    expect(validateActivationCode('jbsw y3dp ehpk 3pxp')).toBe('JBSWY3DPEHPK3PXP');
  });

  test.each(['JBSWY3DPEHPK3PX0', 'JBSWY3DPEHPK3PX1', 'JBSWY3DPEHPK3PX8', 'JBSWY3DPEHPK3PX!', 'JBSWY3DPÉHPK3PXP', ''])(
    'non-base32 %p is rejected',
    (code) => {
      expect(() => validateActivationCode(code)).toThrow(InvalidActivationCodeError);
      expect(() => validateActivationCode(code)).toThrow(/base32/);
    },
  );

  test.each([15, 33, 1])('length %d is rejected', (len) => {
    const code = 'A'.repeat(len);
    expect(() => validateActivationCode(code)).toThrow(InvalidActivationCodeError);
    expect(() => validateActivationCode(code)).toThrow(`(has ${len})`);
  });

  test.each([16, 24, 32])('length %d is accepted', (len) => {
    const code = 'B'.repeat(len);
    expect(validateActivationCode(code.toLowerCase())).toBe(code);
  });

  test('trailing padding does not count towards the length', () => {
    expect(validateActivationCode('JBSWY3DPEHPK3PXP====')).toBe('JBSWY3DPEHPK3PXP====');
    expect(() => validateActivationCode(`${'A'.repeat(15)}=`)).toThrow('(has 15)');
  });

  test('the error message never contains the code', () => {
    const secretish = 'CANARY0SECRETCODE';
    try {
      validateActivationCode(secretish);
      throw new Error('accepted');
    } catch (err) {
      expect((err as Error).message).not.toContain(secretish);
    }
  });
});

describe('planTotpStep', () => {
  const k = 56_666_667; // a realistic step (2023-11)
  const start = k * PERIOD_MS;

  test('at the exact start of a step: that step, no wait', () => {
    expect(planTotpStep(start, null)).toEqual({ step: k, waitMs: 0 });
  });

  test('with exactly 8 s left: still this step', () => {
    expect(planTotpStep(start + 22_000, null)).toEqual({ step: k, waitMs: 0 });
  });

  test('with just under 8 s left: the next step, waiting until it starts', () => {
    expect(planTotpStep(start + 22_001, null)).toEqual({ step: k + 1, waitMs: 7_999 });
    expect(planTotpStep(start + 29_999, null)).toEqual({ step: k + 1, waitMs: 1 });
  });

  test('fractional milliseconds round the wait up', () => {
    expect(planTotpStep(start + 22_000.5, null)).toEqual({ step: k + 1, waitMs: 8_000 });
  });

  test('never reuses lastUsedStep', () => {
    expect(planTotpStep(start + 1_000, k)).toEqual({ step: k + 1, waitMs: 29_000 });
  });

  test('lastUsedStep equal to the current step late in the window: only the next step, not the one after', () => {
    expect(planTotpStep(start + 25_000, k)).toEqual({ step: k + 1, waitMs: 5_000 });
  });

  test('an older lastUsedStep does not delay', () => {
    expect(planTotpStep(start + 1_000, k - 1)).toEqual({ step: k, waitMs: 0 });
  });

  test('lastUsedStep in the future (clock step back) moves past it', () => {
    expect(planTotpStep(start + 1_000, k + 1)).toEqual({ step: k + 2, waitMs: 59_000 });
  });

  test('lastUsedStep equal to the next step when the current one is too short', () => {
    expect(planTotpStep(start + 25_000, k + 1)).toEqual({ step: k + 2, waitMs: 35_000 });
  });

  test('invariants hold across a sweep of times and last-used steps', () => {
    for (let offset = 0; offset < 2 * PERIOD_MS; offset += 250) {
      const now = start + offset;
      const current = Math.floor(now / PERIOD_MS);
      for (const last of [null, current - 1, current, current + 1]) {
        const { step, waitMs } = planTotpStep(now, last);
        const useAt = now + waitMs;
        // The code is computed inside its step...
        expect(Math.floor(useAt / PERIOD_MS)).toBe(step);
        // ...with at least MIN_SECONDS_LEFT left...
        expect((step + 1) * PERIOD_MS - useAt).toBeGreaterThanOrEqual(MIN_SECONDS_LEFT * 1000);
        // ...never a used one...
        if (last !== null) expect(step).toBeGreaterThan(last);
        // ...and not later than needed.
        const earlier = step - 1;
        const earlierUsable =
          earlier >= current && (last === null || earlier > last) && (earlier + 1) * PERIOD_MS - now >= MIN_SECONDS_LEFT * 1000;
        expect(earlierUsable).toBe(false);
        expect(waitMs).toBe(Math.max(0, step * PERIOD_MS - now));
      }
    }
  });

  test('constants are the RFC 6238 period and the 8 s margin', () => {
    expect(TOTP_PERIOD_S).toBe(30);
    expect(MIN_SECONDS_LEFT).toBe(8);
  });
});

describe('totpCodeForStep', () => {
  test('RFC 6238 SHA-1 vector at 59 s: 94287082 / 287082', () => {
    expect(generateSync({ secret: RFC_SECRET, epoch: 59, digits: 8 })).toBe('94287082');
    expect(referenceTotp(RFC_SECRET, 1, 8)).toBe('94287082');
    expect(totpCodeForStep(RFC_SECRET, Math.floor(59 / 30))).toBe('287082');
  });

  test('RFC 6238 SHA-1 vector at 1111111109 s: 081804 (leading zero kept)', () => {
    expect(totpCodeForStep(RFC_SECRET, Math.floor(1111111109 / 30))).toBe('081804');
  });

  test('RFC 6238 SHA-1 vectors at 1111111111, 1234567890, 2000000000 and 20000000000 s', () => {
    expect(totpCodeForStep(RFC_SECRET, Math.floor(1111111111 / 30))).toBe('050471');
    expect(totpCodeForStep(RFC_SECRET, Math.floor(1234567890 / 30))).toBe('005924');
    expect(totpCodeForStep(RFC_SECRET, Math.floor(2000000000 / 30))).toBe('279037');
    expect(totpCodeForStep(RFC_SECRET, Math.floor(20000000000 / 30))).toBe('353130');
  });

  test.each([1, 2, 56_666_667, 56_666_668, 60_000_000])('equals otplib generateSync for step %d', (step) => {
    const expected = generateSync({ secret: RFC_SECRET, epoch: step * 30 });
    expect(totpCodeForStep(RFC_SECRET, step)).toBe(expected);
    // any time inside the step gives the same code
    expect(generateSync({ secret: RFC_SECRET, epoch: step * 30 + 29 })).toBe(expected);
  });

  test('a 16-character activation code works and matches the RFC algorithm', () => {
    const code16 = 'JBSWY3DPEHPK3PXP';
    for (const step of [0, 1, 56_666_667]) {
      const got = totpCodeForStep(code16, step);
      expect(got).toMatch(/^\d{6}$/);
      expect(got).toBe(referenceTotp(code16, step));
    }
  });

  test('adjacent steps give different codes for this secret', () => {
    expect(totpCodeForStep(RFC_SECRET, 1)).not.toBe(totpCodeForStep(RFC_SECRET, 2));
  });

  test('accepts the code as the app shows it (grouped, lower case)', () => {
    expect(totpCodeForStep('gezd gnbv gy3t qojq gezd gnbv gy3t qojq', 1)).toBe('287082');
  });

  test('rejects an invalid activation code', () => {
    expect(() => totpCodeForStep('SHORT', 1)).toThrow(InvalidActivationCodeError);
    expect(() => totpCodeForStep('1'.repeat(16), 1)).toThrow(InvalidActivationCodeError);
  });
});
