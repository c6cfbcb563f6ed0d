/**
 * Quoting helpers for building ClickHouse SQL text.
 *
 * `@clickhouse/client` query parameters (`{name:Type}`) do not work against ClickHouse 18.16, so
 * every value or identifier that goes into SQL text goes through one of these helpers instead.
 * The escapes used are understood by every ClickHouse version from 18.x on.
 */

const STRING_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

// Backslash, quote, and every C0 control character plus DEL.
const STRING_SPECIALS = /[\\'\u0000-\u001f\u007f]/g;

function escapeChar(ch: string): string {
  const known = STRING_ESCAPES[ch];
  if (known !== undefined) return known;
  return '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0');
}

/** Returns `value` as a single-quoted ClickHouse string literal, e.g. `it's` → `'it\'s'`. */
export function quoteString(value: string): string {
  if (typeof value !== 'string') throw new TypeError(`quoteString expects a string, got ${typeof value}`);
  return "'" + value.replace(STRING_SPECIALS, escapeChar) + "'";
}

/**
 * Returns `name` as a back-quoted ClickHouse identifier (database, table or column name),
 * e.g. ``we`ird`` → `` `we\`ird` ``. Empty names and NUL characters are refused: ClickHouse
 * cannot store either as an identifier.
 */
export function quoteIdentifier(name: string): string {
  if (typeof name !== 'string') throw new TypeError(`quoteIdentifier expects a string, got ${typeof name}`);
  if (name.length === 0) throw new RangeError('quoteIdentifier: empty identifier');
  if (name.includes('\0')) throw new RangeError('quoteIdentifier: identifier contains NUL');
  return '`' + name.replace(/[\\`]/g, (ch) => '\\' + ch).replace(STRING_SPECIALS_IDENT, escapeChar) + '`';
}

// Control characters other than NUL inside identifiers (NUL is refused above).
const STRING_SPECIALS_IDENT = /[\u0001-\u001f\u007f]/g;

/** `database`.`table`, both quoted. */
export function qualifiedName(database: string, table: string): string {
  return `${quoteIdentifier(database)}.${quoteIdentifier(table)}`;
}
