import { depthTableDdl, serverFeatures, sessionEventsTableDdl } from '../../../src/clickhouse/migrations';

describe('serverFeatures', () => {
  it('gates modern features on the major version', () => {
    expect(serverFeatures('18.16.1')).toMatchObject({ major: 18, minor: 16, lowCardinality: false, codecs: false, dateTime64: false, ttl: false });
    expect(serverFeatures('24.8.4.13')).toMatchObject({ major: 24, minor: 8, lowCardinality: true, codecs: true });
    expect(() => serverFeatures('banana')).toThrow(/cannot parse/);
  });
});

describe('DDL', () => {
  it('keeps column names and order across server generations', () => {
    const old = depthTableDdl({ database: 'ibflow', features: serverFeatures('18.16.1') });
    const modern = depthTableDdl({ database: 'ibflow', features: serverFeatures('24.8.1') });
    const names = (ddl: string) => [...ddl.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]);
    expect(names(old)).toEqual(names(modern));
    expect(old).not.toMatch(/LowCardinality|CODEC/);
    expect(modern).toContain('connection LowCardinality(String)');
    expect(modern).toContain('received_ns UInt64 CODEC(Delta, ZSTD)');
    expect(modern).toContain('ORDER BY (connection, conid, stream_id, seq, kind, side, level)');
    expect(old).toContain('CREATE TABLE IF NOT EXISTS `ibflow`.`depth`');
    expect(sessionEventsTableDdl({ database: 'x', features: serverFeatures('18.16.1') })).toContain('PARTITION BY toYYYYMM(date)');
  });
});
