import { qualifiedName, quoteIdentifier, quoteString } from '../../../src/clickhouse/sql';

describe('quoteString', () => {
  it.each([
    ['plain', "'plain'"],
    ['', "''"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ["\\'", "'\\\\\\''"],
    ['line\nbreak', "'line\\nbreak'"],
    ['cr\rtab\t', "'cr\\rtab\\t'"],
    ['nul\0byte', "'nul\\0byte'"],
    ['bell\u0007del\u007f', "'bell\\x07del\\x7f'"],
    ['\b\f', "'\\b\\f'"],
    ['ünïcødé €', "'ünïcødé €'"],
    ['`backtick`', "'`backtick`'"],
  ])('%j → %s', (input, expected) => {
    expect(quoteString(input)).toBe(expected);
  });

  it('refuses non-strings', () => {
    expect(() => quoteString(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('quoteIdentifier', () => {
  it.each([
    ['ibflow', '`ibflow`'],
    ['we`ird', '`we\\`ird`'],
    ['back\\slash', '`back\\\\slash`'],
    ['with space', '`with space`'],
    ['new\nline', '`new\\nline`'],
  ])('%j → %s', (input, expected) => {
    expect(quoteIdentifier(input)).toBe(expected);
  });

  it('refuses empty names and NUL', () => {
    expect(() => quoteIdentifier('')).toThrow(/empty/);
    expect(() => quoteIdentifier('a\0b')).toThrow(/NUL/);
  });

  it('qualifies database.table', () => {
    expect(qualifiedName('ibflow', 'depth')).toBe('`ibflow`.`depth`');
  });
});
