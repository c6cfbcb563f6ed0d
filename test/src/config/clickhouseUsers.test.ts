/** clickhouse.users: one user per role, each password by reference, falling back to the shared user. */
import { clickHouseUser } from '../../../src/clickhouse/clickhouseClient';
import { applyEnvOverrides, ConfigError, parseConfig } from '../../../src/config/loadConfig';

const base = { stateDir: '/s', connections: [] };

test('a role without an entry uses clickhouse.username / passwordRef; a role with one uses its own', () => {
  const config = parseConfig({
    ...base,
    clickhouse: { username: 'shared', passwordRef: 'env:SHARED_PW', users: { ingest: { username: 'ibflow_ingest', passwordRef: 'gcp:projects/my-proj-1/secrets/ch-ingest' }, reader: { username: 'ibflow_reader' } } },
  });
  expect(clickHouseUser(config, 'ingest')).toEqual({ role: 'ingest', username: 'ibflow_ingest', passwordRef: 'gcp:projects/my-proj-1/secrets/ch-ingest', shared: false });
  expect(clickHouseUser(config, 'reader')).toEqual({ role: 'reader', username: 'ibflow_reader', shared: false });
  expect(clickHouseUser(config, 'migrator')).toEqual({ role: 'migrator', username: 'shared', passwordRef: 'env:SHARED_PW', shared: true });
  // An existing config without users keeps working as before.
  expect(clickHouseUser(parseConfig(base), 'ingest')).toEqual({ role: 'ingest', username: 'default', shared: true });
});

test('a literal password, a missing username or an unknown role is refused at its path, never echoing the value', () => {
  const attempt = (users: unknown): string => {
    try {
      parseConfig({ ...base, clickhouse: { users } });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('accepted');
  };
  const literal = attempt({ reader: { username: 'r', passwordRef: 'hunter2-CANARY' } });
  expect(literal).toMatch(/clickhouse\.users\.reader\.passwordRef: must look like "file:<name>"/);
  expect(literal).not.toContain('hunter2-CANARY');
  expect(attempt({ ingest: { passwordRef: 'env:X' } })).toMatch(/clickhouse\.users\.ingest\.username: is required: the ClickHouse user for the ingest role/);
  expect(attempt({ ingest: { username: 'i', password: 'x' } })).toMatch(/clickhouse\.users\.ingest: unknown field "password"/);
  expect(attempt({ writer: { username: 'w' } })).toMatch(/clickhouse\.users: unknown field "writer"/);
});

test('IBFLOW_CLICKHOUSE_<ROLE>_USERNAME / _PASSWORD_REF set a role, and an error names the variable', () => {
  const { raw, fromEnv } = applyEnvOverrides(
    { ...base, clickhouse: { url: 'http://ch:8123', users: { reader: { username: 'from_file' } } } },
    { IBFLOW_CLICKHOUSE_INGEST_USERNAME: 'ibflow_ingest', IBFLOW_CLICKHOUSE_INGEST_PASSWORD_REF: 'env:CH_INGEST_PASSWORD', IBFLOW_CLICKHOUSE_READER_PASSWORD_REF: 'oops' },
  );
  expect(raw.clickhouse).toEqual({ url: 'http://ch:8123', users: { reader: { username: 'from_file', passwordRef: 'oops' }, ingest: { username: 'ibflow_ingest', passwordRef: 'env:CH_INGEST_PASSWORD' } } });
  expect(() => parseConfig(raw, 'config', fromEnv)).toThrow(/clickhouse\.users\.reader\.passwordRef \(from IBFLOW_CLICKHOUSE_READER_PASSWORD_REF\): must look like/);
});
