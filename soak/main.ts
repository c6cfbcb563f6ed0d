/**
 * `npm run soak -- --minutes N [--seed S] [--pods P] [--gap S] [--fps F] [--state-dir D] [--every-fault-once]`
 * Exit 0 when the report is clean, 1 on any loss, unmarked gap, budget breach, leak or unrecovered
 * session, 2 on bad usage.
 */
import { formatReport, runSoak, type SoakOptions } from './runSoak';

function parseArgs(argv: string[]): SoakOptions {
  const opts: SoakOptions = { minutes: 5, seed: Math.floor(Math.random() * 2 ** 31), pods: 3, plan: 'random', framesPerSecond: 10, meanGapS: 15, log: (l) => process.stdout.write(`${l}\n`) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) usage(`${a} needs a number`);
      return v;
    };
    if (a === '--minutes') opts.minutes = num();
    else if (a === '--seed') opts.seed = Math.floor(num());
    else if (a === '--pods') opts.pods = Math.max(1, Math.min(6, Math.floor(num())));
    else if (a === '--gap') opts.meanGapS = Math.max(2, num());
    else if (a === '--fps') opts.framesPerSecond = Math.max(1, num());
    else if (a === '--state-dir') opts.stateDir = argv[++i];
    else if (a === '--every-fault-once') opts.plan = 'every-fault-once';
    else usage(`unknown argument ${a}`);
  }
  return opts;
}

function usage(msg: string): never {
  process.stderr.write(`soak: ${msg}\nusage: npm run soak -- --minutes N [--seed S] [--pods P] [--gap SECONDS] [--fps F] [--state-dir D] [--every-fault-once]\n`);
  process.exit(2);
}

runSoak(parseArgs(process.argv.slice(2)))
  .then((report) => {
    process.stdout.write(`${formatReport(report)}\n`);
    process.exit(report.ok ? 0 : 1);
  })
  .catch((err: Error) => {
    process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
