/** docs/queries.md shows exactly the SQL the operations layer builds (regenerate: npm run docs:queries). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryCatalog, renderQueriesDoc, sqlBlocksOf } from '../../../src/operations/queryCatalog';

const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'queries.md'), 'utf8');

test('every SQL block of docs/queries.md is the query the code builds with the example parameters', () => {
  const blocks = sqlBlocksOf(doc);
  const catalog = queryCatalog().flatMap((s) => s.queries);
  expect([...blocks.keys()]).toEqual(catalog.map((q) => q.name));
  for (const q of catalog) expect({ name: q.name, sql: blocks.get(q.name) }).toEqual({ name: q.name, sql: q.sql });
});

test('the doc is the catalog as rendered (no hand edits around the blocks)', () => {
  expect(doc).toBe(renderQueriesDoc());
});

test('a changed query shows up as a mismatch', () => {
  const [first] = queryCatalog();
  const changed = [{ ...first!, queries: first!.queries.map((q) => ({ ...q, sql: q.sql.replace('LIMIT 1', 'LIMIT 2') })) }];
  expect(sqlBlocksOf(renderQueriesDoc(changed)).get('book-head')).not.toBe(sqlBlocksOf(doc).get('book-head'));
});
