/**
 * The gateway's `ips.allow` / `ips.deny` filter (root/conf.yaml). Patterns are addresses whose
 * dot-separated parts may be `*`; a trailing `*` also covers every remaining part (`192.*` matches
 * 192.168.1.20). Deny wins over allow; with an allow list, an address must match one entry; with
 * no allow list every address not denied passes. IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`)
 * are matched as IPv4, and `::1` equals `0:0:0:0:0:0:0:1`.
 */

export interface IpRules {
  allow?: string[];
  deny?: string[];
}

function normalise(ip: string): string {
  let a = ip.trim().toLowerCase();
  if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice(7);
  if (a === '::1') a = '0:0:0:0:0:0:0:1';
  return a;
}

export function ipMatches(pattern: string, ip: string): boolean {
  const p = normalise(pattern);
  const a = normalise(ip);
  const sep = p.includes(':') || a.includes(':') ? ':' : '.';
  const pp = p.split(sep);
  const ap = a.split(sep);
  for (let i = 0; i < pp.length; i++) {
    if (pp[i] === '*') {
      if (i === pp.length - 1) return ap.length > i;
      if (i >= ap.length) return false;
      continue;
    }
    if (pp[i] !== ap[i]) return false;
  }
  return pp.length === ap.length;
}

export function ipAllowed(rules: IpRules | undefined, ip: string): boolean {
  if (!rules) return true;
  if ((rules.deny ?? []).some((p) => ipMatches(p, ip))) return false;
  if (rules.allow && rules.allow.length > 0) return rules.allow.some((p) => ipMatches(p, ip));
  return true;
}
