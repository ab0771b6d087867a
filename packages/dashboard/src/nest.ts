/**
 * `@taskq/dashboard/nest`: the dashboard in a Nest application (Express or Fastify platform),
 * `TaskqDashboardModule.forRoot({ path: '/admin/taskq', queue, authorize })`, or `forRootAsync` to take the queue
 * from the container.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type DynamicModule,
  Inject,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  type OnApplicationShutdown,
  RequestMethod,
} from '@nestjs/common';
import { InvalidOptionError } from '@taskq/core';
import { type DashboardHandler, dashboard } from './dashboard.js';
import type { DashboardOptions } from './options.js';

export type { DashboardOptions, DashboardPrincipal, RedactContext } from './options.js';

/** Options of {@link TaskqDashboardModule.forRoot}: the dashboard's, and the path it is served under. */
export interface TaskqDashboardModuleOptions extends DashboardOptions {
  /** Where the dashboard is served, e.g. `'/admin/taskq'` (below Nest's global prefix, if any, it is not). */
  readonly path: string;
}

/** Options of {@link TaskqDashboardModule.forRootAsync}. */
export interface TaskqDashboardModuleAsyncOptions {
  /** Where the dashboard is served (known before the container is built: the routes are). */
  readonly path: string;
  /** Modules whose providers `inject` names. */
  readonly imports?: DynamicModule['imports'];
  /** Tokens whose values `useFactory` receives, e.g. the queue's. */
  readonly inject?: readonly (
    | string
    | symbol
    | (abstract new (
        ...args: never[]
      ) => unknown)
    | (new (
        ...args: never[]
      ) => unknown)
  )[];
  /** Makes the dashboard's options from the values of `inject`, in order. */
  readonly useFactory: (...args: never[]) => DashboardOptions | Promise<DashboardOptions>;
}

const OPTIONS = Symbol('taskq dashboard options');
const PATH = Symbol('taskq dashboard path');

function checkPath(path: unknown): string {
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(path))
    throw new InvalidOptionError('path', `expected a path such as "/admin/taskq", got ${JSON.stringify(path)}`);
  return path;
}

/** Holds the handler; applies it to the path as Nest middleware and stops it at shutdown. */
class DashboardMiddlewareHost implements NestModule, OnApplicationShutdown {
  readonly #handler: DashboardHandler;
  readonly #path: string;

  constructor(options: DashboardOptions, path: string) {
    this.#handler = dashboard(options);
    this.#path = path;
  }

  configure(consumer: MiddlewareConsumer): void {
    const handler = this.#handler;
    const mount = this.#path;
    // The platforms differ in what they leave in `url` for middleware: read the full URL and cut the path off.
    const middleware = (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void): void => {
      const full = ((request as { originalUrl?: string }).originalUrl ?? request.url ?? '/') as string;
      if (full !== mount && !full.startsWith(`${mount}/`) && !full.startsWith(`${mount}?`)) {
        next();
        return;
      }
      handler.handle(request, response, mount, full.slice(mount.length) || '/').catch(next);
    };
    consumer
      .apply(middleware)
      .forRoutes({ path: mount, method: RequestMethod.ALL }, { path: `${mount}/*path`, method: RequestMethod.ALL });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.#handler.close();
  }
}
Inject(OPTIONS)(DashboardMiddlewareHost, undefined, 0);
Inject(PATH)(DashboardMiddlewareHost, undefined, 1);

/** Serves the dashboard under a path of a Nest application. */
// biome-ignore lint/complexity/noStaticOnlyClass: Nest's convention for a configurable module (`forRoot`, `forRootAsync`).
export class TaskqDashboardModule {
  /** The dashboard with these options. */
  static forRoot(options: TaskqDashboardModuleOptions): DynamicModule {
    const { path, ...rest } = options;
    return TaskqDashboardModule.#module(checkPath(path), [{ provide: OPTIONS, useValue: rest }], []);
  }

  /** The dashboard with options made by `useFactory` from injected providers (the application's queue). */
  static forRootAsync(options: TaskqDashboardModuleAsyncOptions): DynamicModule {
    return TaskqDashboardModule.#module(
      checkPath(options.path),
      [{ provide: OPTIONS, useFactory: options.useFactory, inject: [...(options.inject ?? [])] }],
      options.imports ?? [],
    );
  }

  static #module(
    path: string,
    providers: NonNullable<DynamicModule['providers']>,
    imports: NonNullable<DynamicModule['imports']>,
  ): DynamicModule {
    // A class per call: Nest tells dynamic modules apart by class. Decorated by a call, so no compiler flag is needed.
    class TaskqDashboardHostModule extends DashboardMiddlewareHost {}
    Module({})(TaskqDashboardHostModule);
    return {
      module: TaskqDashboardHostModule,
      imports,
      providers: [...providers, { provide: PATH, useValue: path }],
    };
  }
}
