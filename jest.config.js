/**
 * Two tiers. `unit`: pure logic and in-process fakes, no services and no child processes (a guard
 * makes spawning one fail), under a minute — `npm run test:unit`. `integration`: real Temporal,
 * ClickHouse, Chromium, spawned CLIs and the simulator — every file named `*.integration.test.ts`
 * and everything under `test/integration/`. `npm test` runs both.
 * Jest runs TypeScript through ts-jest, transpile-only (tsconfig isolatedModules); `npm run typecheck` checks types.
 */
const shared = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { diagnostics: false, tsconfig: { allowJs: true, isolatedModules: true } }],
  },
  // otplib's crypto and base32 dependencies ship ESM only; Jest's CommonJS runtime needs them transpiled.
  transformIgnorePatterns: ['/node_modules/(?!(@scure|@noble|@otplib|otplib)/)'],
};

module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.integration\\.test\\.ts$', '/test/integration/'],
      setupFilesAfterEnv: ['<rootDir>/test/support/unitTierGuard.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['**/*.integration.test.ts', '**/test/integration/**/*.test.ts'],
    },
  ],
  testTimeout: 120000,
  // Two files at a time: most integration suites wait on real servers (logins, heartbeat timeouts,
  // restarts) more than they compute, so two share a 2-core box and the whole suite stays under 15 minutes.
  maxWorkers: 2,
};
