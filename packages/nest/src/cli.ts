import type { DynamicModule, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Worker } from '@taskq/core';
import { type CliOverrides, runInCliMode } from './internal/cli-context.js';
import { TaskqRuntime } from './taskq-runtime.js';

/** Options of `NestFactory.createApplicationContext()`. */
export type ApplicationContextOptions = Parameters<typeof NestFactory.createApplicationContext>[1];

/**
 * A worker module for `npx taskq worker <file>`: default-export
 * `taskqCliWorker(WorkerModule)`. The CLI's `--concurrency` and `--queues`
 * override the module's `worker` options; the CLI starts the worker, and on
 * SIGTERM drains it, then closes the application context.
 *
 * @example
 * ```ts
 * // src/worker-cli.ts → npx taskq worker dist/worker-cli.js --concurrency 16
 * export default taskqCliWorker(WorkerModule);
 * ```
 */
export function taskqCliWorker(
  rootModule: Type<unknown> | DynamicModule,
  options?: ApplicationContextOptions,
): (overrides: CliOverrides) => Promise<Worker> {
  return async (overrides) => {
    const app = await runInCliMode(overrides, () => NestFactory.createApplicationContext(rootModule, options));
    return app.get(TaskqRuntime, { strict: false }).handOverToCli(app);
  };
}
