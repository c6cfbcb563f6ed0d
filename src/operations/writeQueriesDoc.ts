/** `npm run docs:queries`: writes docs/queries.md from the query catalog. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderQueriesDoc } from './queryCatalog';

const path = join(__dirname, '..', '..', 'docs', 'queries.md');
writeFileSync(path, renderQueriesDoc());
process.stdout.write(`wrote ${path}\n`);
