/**
 * The path of an app port request as a metric label and log field: no query string, and ids
 * (conids, order ids, account ids) folded into placeholders, so the label values stay few and
 * carry nothing that identifies an account.
 */
const NUMERIC = /^\d+$/;
/** IBKR account ids: `U1234567`, `DU1234567`, `F1234567`, `DF…`, `I…`. */
const ACCOUNT = /^[A-Z]{1,3}\d{4,}$/;
/** Segments with a digit and at least 8 characters: order ids, hex or uuid-like references. */
const LONG_ID = /^(?=.*\d)[A-Za-z0-9_.:-]{8,}$/;

export const OTHER_PATH = 'other';

export function metricPath(rawPath: string): string {
  const path = rawPath.split('?')[0];
  return path
    .split('/')
    .map((segment) => {
      if (NUMERIC.test(segment)) return ':id';
      if (ACCOUNT.test(segment)) return ':account';
      if (LONG_ID.test(segment)) return ':id';
      return segment;
    })
    .join('/');
}
