import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  type InjectionToken,
  Module,
  type OnApplicationBootstrap,
  type Provider,
} from '@nestjs/common';
import { InvalidOptionError, type TaskQueue } from '@taskq/core';
import { databaseUnitOfWork, type OutboxRelay, outboxRelay, taskTransaction } from '@taskq/typeorm';
import { DataSource, type EntityTarget, type ObjectLiteral } from 'typeorm';
import { TypeormIntegrationError } from '../errors.js';
import { TASKQ_EXTENSION, type TaskqExtension } from '../internal/extension.js';
import { getQueueToken } from '../tokens.js';
import { type ResolvedTypeormOptions, resolveTypeormOptions, type TaskqTypeormOptions } from './options.js';
import { getTransactionalRepositoryToken, transactionalRepository } from './repository.js';

/** The DataSource `TaskqTypeormModule.forRoot()` was given, for its `forFeature()` repositories. */
const TASKQ_DATA_SOURCE = 'TaskqTypeormDataSource';

/** Starts the outbox relay when the application boots and stops it before the DataSource is closed. */
class RelayLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(readonly relay: OutboxRelay) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.relay.start();
  }

  /** Before `onApplicationShutdown`, where @nestjs/typeorm destroys the DataSource and taskq closes its queue. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.relay.stop();
  }
}

function extension(dataSource: DataSource, options: ResolvedTypeormOptions): TaskqExtension {
  if (typeof (dataSource as { getRepository?: unknown } | null)?.getRepository !== 'function')
    throw new TypeormIntegrationError(
      'TaskqTypeormModule: the dataSource token resolved to something that is not a TypeORM DataSource',
    );
  const request = options.requestUnitOfWork;
  const task = options.taskTransaction;
  return {
    name: 'TaskqTypeormModule',
    requestUnitOfWork: request
      ? () => (queue, incoming) => {
          const method = String((incoming as { method?: unknown } | null)?.method ?? '').toUpperCase();
          if (request.methods && !request.methods.includes(method)) return undefined;
          return databaseUnitOfWork(dataSource, queue, { isolation: request.isolation });
        }
      : undefined,
    taskMiddleware: task ? (queue: TaskQueue) => taskTransaction(dataSource, { ...task, queue }) : undefined,
  };
}

/**
 * taskq's TypeORM wiring for Nest (`@taskq/nest/typeorm`), next to
 * `TaskqModule.forRoot()`: the request transaction around every HTTP handler,
 * the per-task transaction middleware of the worker and the outbox relay's
 * start and stop, from one import. `forFeature([User])` provides
 * repositories that join those transactions (`@InjectTransactionalRepository(User)`).
 *
 * @example
 * ```ts
 * imports: [
 *   TypeOrmModule.forRoot({ ... }),
 *   TaskqModule.forRoot({ transport: amqp({ url }) }),
 *   TaskqTypeormModule.forRoot(),
 *   TaskqTypeormModule.forFeature([User]),
 * ]
 * ```
 */
@Module({})
export class TaskqTypeormModule {
  /** Wires one DataSource (global: import it once, next to `TaskqModule.forRoot()`). */
  static forRoot(options: TaskqTypeormOptions = {}): DynamicModule {
    const resolved = resolveTypeormOptions(options);
    const token: InjectionToken = options.dataSource ?? DataSource;
    const providers: Provider[] = [
      { provide: TASKQ_DATA_SOURCE, useFactory: (dataSource: DataSource) => dataSource, inject: [token] },
      {
        provide: TASKQ_EXTENSION,
        useFactory: (dataSource: DataSource) => extension(dataSource, resolved),
        inject: [token],
      },
    ];
    if (resolved.relay) {
      const relayOptions = resolved.relay;
      providers.push({
        provide: RelayLifecycle,
        useFactory: (dataSource: DataSource, queue: TaskQueue) =>
          new RelayLifecycle(outboxRelay(dataSource, queue, relayOptions)),
        inject: [token, getQueueToken()],
      });
    }
    return {
      module: TaskqTypeormModule,
      global: true,
      imports: options.imports ?? [],
      providers,
      exports: [TASKQ_DATA_SOURCE],
    };
  }

  /**
   * Provides the transactional repositories of `entities` to this module:
   * inject them with `@InjectTransactionalRepository(Entity)`. Needs `forRoot()`.
   */
  static forFeature(entities: readonly EntityTarget<ObjectLiteral>[]): DynamicModule {
    if (!Array.isArray(entities) || entities.length === 0)
      throw new InvalidOptionError('forFeature', 'expected an array of entities, e.g. [User]');
    const providers = entities.map((entity) => ({
      provide: getTransactionalRepositoryToken(entity),
      useFactory: (dataSource: DataSource) => transactionalRepository(dataSource, entity),
      inject: [TASKQ_DATA_SOURCE],
    }));
    return { module: TaskqTypeormModule, providers, exports: providers.map((p) => p.provide) };
  }
}
