import { defineConfig } from 'vitest/config';

// Integration tests talk to the real RabbitMQ (127.0.0.1:5672) and PostgreSQL; each test uses its own queue names.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit-and-integration',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', 'packages/*/test/fault/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
