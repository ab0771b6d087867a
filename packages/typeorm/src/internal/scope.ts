import { AsyncLocalStorage } from 'node:async_hooks';
import type { UnitOfWork } from '@taskq/core';
import { currentUnitOfWork } from '@taskq/core/adapter';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/** A database transaction taskq knows about, visible to code running below it. */
export interface Scope {
  readonly dataSource: DataSource;
  readonly manager: EntityManager;
  readonly runner: QueryRunner;
  /** The unit of work whose tasks are staged into this transaction's outbox, if any. */
  readonly uow: UnitOfWork | undefined;
  readonly parent: Scope | undefined;
  /** Set once the transaction committed or rolled back: late async continuations must not use it. */
  closed: boolean;
}

const storage = new AsyncLocalStorage<Scope>();

/** The innermost open scope (of `dataSource`, when given). */
export function findScope(dataSource?: DataSource): Scope | undefined {
  for (let scope = storage.getStore(); scope; scope = scope.parent) {
    if (!scope.closed && (dataSource === undefined || scope.dataSource === dataSource)) return scope;
  }
  return undefined;
}

export function runInScope<T>(scope: Scope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The scope stack as it is right now, to nest a new scope under. */
export function currentScopeStack(): Scope | undefined {
  return storage.getStore();
}

export function isSqlite(dataSource: DataSource): boolean {
  return dataSource.options.type === 'better-sqlite3';
}

/**
 * FIFO async mutex. TypeORM's SQLite drivers have one connection for the
 * whole DataSource, so an open transaction captures every statement of the
 * process: taskq serialises its own transactions and writes on SQLite.
 */
class Mutex {
  #tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  acquire(): Promise<() => void> {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => held);
    return ready;
  }
}

const locks = new WeakMap<DataSource, Mutex>();

/** The single-writer lock of a SQLite DataSource. */
export function sqliteLock(dataSource: DataSource): Mutex {
  let lock = locks.get(dataSource);
  if (!lock) {
    lock = new Mutex();
    locks.set(dataSource, lock);
  }
  return lock;
}

/**
 * Which connection a statement uses:
 * - inside a taskq transaction scope of this DataSource: that transaction,
 *   when `join` is `'always'`, or when `'unit-of-work'` and the open unit of
 *   work stages into it (so a status row or dedup key commits or rolls back
 *   with the tasks it belongs to);
 * - otherwise a pooled connection (on SQLite: the one connection, under the lock).
 * On SQLite an open scope is always joined: it is the only connection there is.
 */
export function withManager<T>(
  dataSource: DataSource,
  join: 'always' | 'unit-of-work' | 'never',
  fn: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  const scope = findScope(dataSource);
  const sqlite = isSqlite(dataSource);
  if (
    scope &&
    (sqlite ||
      join === 'always' ||
      (join === 'unit-of-work' && scope.uow !== undefined && scope.uow === currentUnitOfWork()))
  ) {
    return fn(scope.manager);
  }
  if (sqlite) return sqliteLock(dataSource).run(() => fn(dataSource.manager));
  return fn(dataSource.manager);
}

/**
 * Runs `fn` with no taskq scope visible, for background work such as a
 * store's pruning timer, which must never pick up the transaction of the
 * request or task whose write happened to start it.
 */
export function outsideScopes<T>(fn: () => T): T {
  return storage.exit(fn);
}
