/**
 * Every read query of the operations layer, rendered with fixed example parameters. docs/queries.md
 * is generated from this list (`npm run docs:queries`) and a test checks that the doc and the code agree.
 */
import { bookHeadSql, bookLadderSql, spreadSql, streamedRowCountsSql, streamGapsSql, updateRateSql } from './depthQueries';
import { sessionEventsSql, stateBeforeSql } from './uptimeQueries';

/** 2026-01-01T00:00:00Z: the examples' time origin. */
export const EXAMPLE_T0_MS = 1_767_225_600_000;

export interface CatalogQuery {
  /** The tag in docs/queries.md: `<!-- query: name -->`. */
  name: string;
  /** Which operation runs it. */
  usedBy: string;
  sql: string;
}

export interface CatalogSection {
  title: string;
  text: string;
  queries: CatalogQuery[];
  after?: string;
}

const db = 'ibflow';
const T0 = EXAMPLE_T0_MS;

export function queryCatalog(): CatalogSection[] {
  return [
    {
      title: 'Book at time T (and the latest book)',
      text:
        'The latest snapshot frame of the instrument at or before T (here T0 + 500 ms, looking back 1 day),\n' +
        'then its rows. The latest book (`ibflow depth tail`) is the same pair with T = now.',
      queries: [
        { name: 'book-head', usedBy: '`bookAt`, `latestBook` (depthQueries.ts)', sql: bookHeadSql({ database: db, conid: 265598, atMs: T0 + 500, sinceMs: T0 + 500 - 86_400_000 }) },
        {
          name: 'book-ladder',
          usedBy: '`bookAt`, `latestBook` (depthQueries.ts), with the head row found above',
          sql: bookLadderSql({ database: db, conid: 265598, connection: 'paper-1', streamId: 's1', seq: 3, sinceMs: T0 + 500 - 86_400_000 }),
        },
      ],
      after:
        'A replayed batch that is not merged yet returns a level twice: the book keeps one row per (side, level).\n' +
        'On a delta stream the book is that of the latest snapshot: the periodic one (`depth.snapshotEveryMs`,\n' +
        'default 60 s) bounds how old it can be.',
    },
    {
      title: 'Spread per interval',
      text: 'Best ask minus best bid per snapshot frame, then per bucket (here 1 s) and connection, over [T0, T0 + 2 s).\nFrames without both sides are left out.',
      queries: [{ name: 'spread', usedBy: '`spreadPerInterval` (depthQueries.ts), `ibflow depth query spread`', sql: spreadSql({ database: db, conid: 265598, fromMs: T0, toMs: T0 + 2000, bucketMs: 1000 }) }],
    },
    {
      title: 'Update rate per instrument',
      text:
        'Rows, frames (a periodic snapshot shares its frame\'s seq, so it is not counted twice) and gap markers\n' +
        'per connection and instrument over [T0, T0 + 2 s); the rates divide by the window\'s length.',
      queries: [{ name: 'update-rate', usedBy: '`updateRate` (depthQueries.ts), `ibflow depth query rate`', sql: updateRateSql({ database: db, fromMs: T0, toMs: T0 + 2000 }) }],
    },
    {
      title: 'Stream gaps',
      text:
        'Gap markers over [T0, T0 + 2 s): seq 0 opens a stream epoch; any other seq is where continuity breaks\n' +
        '(the epoch\'s last frame, or a skipped frame). A window containing a gap is incomplete.',
      queries: [{ name: 'stream-gaps', usedBy: '`streamGaps` (depthQueries.ts)', sql: streamGapsSql({ database: db, fromMs: T0, toMs: T0 + 2000 }) }],
    },
    {
      title: 'Rows streamed so far',
      text: 'Book rows per instrument (gap markers left out); `ibflow up` polls this until depth arrives.',
      queries: [{ name: 'streamed-rows', usedBy: '`streamedRowCounts` (depthQueries.ts), `ibflow up`', sql: streamedRowCountsSql({ database: db }) }],
    },
    {
      title: 'Session uptime per connection',
      text:
        'From `session_events` (one row per state change), over [T0, T0 + 1 h): the state of each connection\n' +
        'when the window opens, then the changes inside it. `computeUptime` (uptimeQueries.ts) sums the time\n' +
        'spent `usable`, counts drops (usable → anything else) and logins (→ `logging_in`).',
      queries: [
        { name: 'uptime-state-before', usedBy: '`sessionUptime` (uptimeQueries.ts), `ibflow depth query uptime`', sql: stateBeforeSql({ database: db, fromMs: T0, toMs: T0 + 3_600_000 }) },
        { name: 'uptime-events', usedBy: '`sessionUptime` (uptimeQueries.ts), `ibflow depth query uptime`', sql: sessionEventsSql({ database: db, fromMs: T0, toMs: T0 + 3_600_000 }) },
      ],
    },
  ];
}

const HEADER = `# Querying depth and sessions

<!-- Generated from src/operations/queryCatalog.ts by \`npm run docs:queries\`; do not edit by hand. -->

These are exactly the queries the operations layer (\`src/operations/\`) runs for every face (the CLI,
the console, the MCP server), rendered with example values: connection \`paper-1\`, conid \`265598\`
(AAPL), database \`ibflow\`, and T0 = 2026-01-01 00:00:00 UTC = \`${EXAMPLE_T0_MS}\` ms. They work on
ClickHouse 18.16 and later, which has no query parameters: values are written into the text, strings
quoted by \`src/clickhouse/sql.ts\`. \`test/src/operations/queryDocs.test.ts\` checks that each block below
is what the code builds, and \`test/src/operations/depthQueries.integration.test.ts\` checks every
query's results on rows with known answers, on both engines \`npm test\` runs: ClickHouse 18.16
(Debian's server, the embedded stack) and a current engine (chDB 26.x, reached through
\`stack/chdb/\`'s ClickHouse HTTP shim, with the schema's modern branch).

Reminders (see \`docs/clickhouse.md\` and \`docs/depth.md\`):
- A row's identity is \`(connection, conid, stream_id, seq, kind, side, level)\`; a replayed batch
  writes the same identities again until ClickHouse merges them, so the queries count frames by
  \`(stream_id, seq)\` or keep one row per level.
- \`date\` (the UTC day of \`received_ns\`) is the partition key: every depth query bounds it (a day
  early) so old partitions are skipped.
`;

/** docs/queries.md as the catalog renders it. */
export function renderQueriesDoc(sections: CatalogSection[] = queryCatalog()): string {
  const parts = [HEADER];
  for (const s of sections) {
    parts.push(`\n## ${s.title}\n\n${s.text}\n`);
    for (const q of s.queries) parts.push(`\n<!-- query: ${q.name} -->\nRun by ${q.usedBy}.\n\`\`\`sql\n${q.sql}\n\`\`\`\n`);
    if (s.after) parts.push(`\n${s.after}\n`);
  }
  return parts.join('');
}

/** The SQL blocks of a rendered doc by name (what the docs test compares with the code). */
export function sqlBlocksOf(doc: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of doc.matchAll(/<!-- query: ([\w-]+) -->\n[^\n]*\n```sql\n([\s\S]*?)\n```/g)) blocks.set(m[1]!, m[2]!);
  return blocks;
}
