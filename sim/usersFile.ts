import { z } from 'zod';
import type { SimUser } from './types';
import { loadValidatedFile } from './validatedFile';

// IBKR activation codes are base32 (A–Z, 2–7), 16–32 characters; padding and spaces are tolerated.
const base32Secret = z
  .string()
  .transform((s) => s.replace(/[\s=]/g, '').toUpperCase())
  .pipe(z.string().regex(/^[A-Z2-7]{16,32}$/, 'must be base32 (A-Z, 2-7), 16 to 32 characters'));

const simUserSchema = z
  .object({
    username: z.string().min(1),
    password: z.string().min(1),
    mode: z.enum(['paper', 'live']),
    totpSecret: base32Secret.optional(),
    secondFactors: z.array(z.string().min(1)).min(1).optional(),
    accounts: z.array(z.string().regex(/^[A-Z0-9]+$/, 'must be an account id like DU123456')).min(1),
  })
  .strict()
  .superRefine((user, ctx) => {
    // Live logins always need a second factor; the only automatable one is the authenticator app.
    if (user.mode === 'live' && !user.totpSecret) {
      ctx.addIssue({ code: 'custom', path: ['totpSecret'], message: 'is required for live users' });
    }
  });

const usersFileSchema = z.object({ users: z.array(simUserSchema).min(1) }).superRefine((file, ctx) => {
  const seen = new Set<string>();
  file.users.forEach((u, i) => {
    if (seen.has(u.username)) ctx.addIssue({ code: 'custom', path: ['users', i, 'username'], message: `duplicate username "${u.username}"` });
    seen.add(u.username);
  });
});

/** Reads a JSON or YAML `{users:[...]}` file. Errors name the offending field, never its value. */
export function loadUsersFile(path: string): SimUser[] {
  return loadValidatedFile(path, 'users file', usersFileSchema).users;
}
