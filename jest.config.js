/** Jest runs TypeScript through ts-jest, transpile-only (tsconfig isolatedModules); `npm run typecheck` checks types. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { diagnostics: false, tsconfig: { allowJs: true, isolatedModules: true } }],
  },
  // otplib's crypto and base32 dependencies ship ESM only; Jest's CommonJS runtime needs them transpiled.
  transformIgnorePatterns: ['/node_modules/(?!(@scure|@noble|@otplib|otplib)/)'],
  testTimeout: 120000,
  // Integration suites start real servers; one at a time keeps a 2-core box responsive.
  maxWorkers: 1,
};
