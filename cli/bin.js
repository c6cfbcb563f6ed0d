#!/usr/bin/env node
// Entry point of `ibflow`: registers tsx so the TypeScript sources run as they are, then hands over.
require('tsx/cjs');
require('./main.ts')
  .main(process.argv)
  .catch((err) => {
    if (!(err && err.quiet)) process.stderr.write(`ibflow: ${err && err.message ? err.message : err}\n`);
    process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1);
  });
