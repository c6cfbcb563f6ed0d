import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadUsersFile } from '../../sim';

describe('loadUsersFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ibflow-sim-users-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('reads YAML and normalises the activation code', () => {
    const path = write(
      'users.yaml',
      ['users:', '  - username: alice', '    password: pw1', '    mode: live', '    totpSecret: "jbsw y3dp ehpk 3pxp"', '    secondFactors: [IB Key, Mobile Authenticator App]', '    accounts: [U1234567]', '  - username: bob', '    password: pw2', '    mode: paper', '    accounts: [DU765432]'].join('\n'),
    );
    expect(loadUsersFile(path)).toEqual([
      { username: 'alice', password: 'pw1', mode: 'live', totpSecret: 'JBSWY3DPEHPK3PXP', secondFactors: ['IB Key', 'Mobile Authenticator App'], accounts: ['U1234567'] },
      { username: 'bob', password: 'pw2', mode: 'paper', accounts: ['DU765432'] },
    ]);
  });

  test('reads JSON', () => {
    const path = write('users.json', JSON.stringify({ users: [{ username: 'bob', password: 'pw2', mode: 'paper', accounts: ['DU765432'] }] }));
    expect(loadUsersFile(path)).toHaveLength(1);
  });

  test.each([
    ['a live user without totpSecret', { username: 'a', password: 'p', mode: 'live', accounts: ['U1'] }, 'users.0.totpSecret'],
    ['a bad mode', { username: 'a', password: 'p', mode: 'demo', accounts: ['U1'] }, 'users.0.mode'],
    ['no accounts', { username: 'a', password: 'p', mode: 'paper', accounts: [] }, 'users.0.accounts'],
    ['a non-base32 secret', { username: 'a', password: 'p', mode: 'live', totpSecret: 'not-base32-at-all!!', accounts: ['U1'] }, 'users.0.totpSecret'],
    ['an unknown field', { username: 'a', password: 'p', mode: 'paper', accounts: ['U1'], pin: '1' }, 'users.0'],
  ])('rejects %s, naming the field and never echoing values', (_what, user, field) => {
    const path = write('bad.json', JSON.stringify({ users: [user] }));
    let message = '';
    try {
      loadUsersFile(path);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(field);
    expect(message).not.toContain('not-base32-at-all');
  });

  test('rejects duplicate usernames and unparseable files', () => {
    const dup = write('dup.json', JSON.stringify({ users: [1, 2].map(() => ({ username: 'a', password: 'p', mode: 'paper', accounts: ['U1'] })) }));
    expect(() => loadUsersFile(dup)).toThrow(/users\.1\.username: duplicate/);
    const broken = write('broken.json', '{"users": [ {"password": "hunter2"');
    expect(() => loadUsersFile(broken)).toThrow(/cannot parse/);
    expect(() => loadUsersFile(broken)).not.toThrow(/hunter2/);
  });
});
