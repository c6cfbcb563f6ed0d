/**
 * otplib's TOTP engine with node:crypto and a local base32 decoder. The `otplib` umbrella package
 * loads `@scure/base`, which is ESM-only and cannot be required under jest's CommonJS runtime;
 * `@otplib/totp` and `@otplib/core` (installed with otplib) are CommonJS and do the same work.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createBase32Plugin, createCryptoPlugin, createGuardrails } from '@otplib/core';
import { generateSync, verify } from '@otplib/totp';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (padding and spaces ignored, case-insensitive). */
export function base32Decode(text: string): Uint8Array {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const idx = ALPHABET.indexOf(ch);
    if (idx < 0) throw new Error('invalid base32 character');
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

const crypto = createCryptoPlugin({
  name: 'node',
  hmac: (algorithm, key, data) => new Uint8Array(createHmac(algorithm, key).update(data).digest()),
  randomBytes: (n) => new Uint8Array(randomBytes(n)),
});
const base32 = createBase32Plugin({ name: 'rfc4648', encode: base32Encode, decode: base32Decode });
// IBKR activation codes can be 16 base32 chars (10 bytes), below otplib's default 16-byte minimum.
const guardrails = createGuardrails({ MIN_SECRET_BYTES: 1 });

export const TOTP_PERIOD_S = 30;

/** The 6-digit code of the step containing `epochS` (Unix seconds). */
export function totpCodeAt(secret: string, epochS: number): string {
  return generateSync({ secret, epoch: epochS, crypto, base32, guardrails });
}

/** Verifies a code against now ±1 step; returns the matched step, or null. */
export async function totpMatchStep(secret: string, code: string, nowMs: number): Promise<number | null> {
  try {
    const result = await verify({ secret, token: code, epoch: Math.floor(nowMs / 1000), epochTolerance: TOTP_PERIOD_S, crypto, base32, guardrails });
    return result.valid ? result.timeStep : null;
  } catch {
    return null; // malformed secret or token: same answer as a wrong code
  }
}
