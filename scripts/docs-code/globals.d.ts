// What the docs' code blocks use without defining: an application's own values (queue, user, mailer) and the imports
// a reader adds. A script, not a module, so that these are globals a block's own declarations shadow.

declare class User {
  id: number;
  email: string;
  name: string;
}
declare class Account {
  id: number;
  email: string;
}
declare class Money {
  constructor(cents: number, currency: string);
  readonly cents: number;
  readonly currency: string;
}

declare const registry: import('@taskq/core').TaskRegistry;
declare const transport: import('@taskq/core').Transport;
declare const store: import('@taskq/core').ResultStore;
declare const queue: import('@taskq/core').TaskQueue;
declare const worker: import('@taskq/core').Worker;
declare const codec: import('@taskq/core').Codec<URLSearchParams, string>;
declare const moneyCodec: import('@taskq/core').Codec<Money, { cents: number; currency: string }>;
declare const dataSource: import('typeorm').DataSource;
type DataSource = import('typeorm').DataSource;

declare const createQueue: typeof import('@taskq/core').createQueue;
declare const createWorker: typeof import('@taskq/core').createWorker;
declare const amqp: typeof import('@taskq/core').amqp;
declare const databaseUnitOfWork: typeof import('@taskq/typeorm').databaseUnitOfWork;
type TypeormRequestUnitOfWork = import('@taskq/typeorm').TypeormRequestUnitOfWork;
type AsyncLocalStorage<T> = import('node:async_hooks').AsyncLocalStorage<T>;
declare const AsyncLocalStorage: typeof import('node:async_hooks').AsyncLocalStorage;

declare function sendWelcomeMail(user: User, request?: import('@taskq/core').UrlHelpers): Promise<string>;
declare function sendReminder(email: string, text: string): Promise<void>;
declare function buildReport(month: string): Promise<string>;
declare function renderMonthlyReport(month: string): Promise<string>;

declare const user: User;
declare const ada: User;
declare const bob: User;
declare const eve: User;
declare const data: Partial<User>;
declare const month: string;
declare const url: string;
declare const idFromUrl: string;
declare const yours: string[]; // entity and migration paths
declare const users: {
  create(data: unknown): Promise<User>;
  insert(data: unknown): Promise<User>;
};
declare const mailer: { send(to: string, text: string): Promise<string> };
declare const push: { send(deviceToken: string, text: string): Promise<void> };
declare const apns: { send(deviceToken: string, text: string): Promise<void> };
declare const db: { connect(): Promise<void>; close(): Promise<void> };
declare const audit: { write(user: User): Promise<void> };
declare const log: {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
};
declare const tracer: {
  startSpan(
    name: string,
    options?: { attributes?: Record<string, unknown> },
  ): { end(): void; recordException(error: unknown): void };
};
declare const reports: { ownerOfTask(id: string): Promise<number | undefined> };
