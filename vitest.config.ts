import { defineConfig } from 'vitest/config';

// Integration tests talk to the real RabbitMQ (127.0.0.1:5672) and PostgreSQL; each test uses its own queue names.
// Fault tests (broker kills, proxies, SIGKILLed workers) run serially in their own project, apart from the rest.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'tests/**/*.test.ts'],
          // Two files at a time: they mostly wait on the broker, the database and timers. Vitest's default on a 2-core
          // machine is one (cores - 1), which ran the suite file after file (measured: 577 s of file time in 672 s).
          maxWorkers: 2,
          exclude: ['**/node_modules/**', 'packages/*/test/fault/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'fault',
          include: ['packages/*/test/fault/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
