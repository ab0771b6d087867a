import { Inject } from '@nestjs/common';
import { InvalidOptionError } from '@taskq/core';
import { maybeCurrentEntityManager } from '@taskq/typeorm';
import { type DataSource, type EntityTarget, type ObjectLiteral, Repository } from 'typeorm';

/**
 * A repository that joins the database transaction the code runs in: every
 * call goes to `currentEntityManager(dataSource).getRepository(entity)` at the
 * moment it is made, so a save in a request handler belongs to the request's
 * transaction (rolled back with the failing request, together with its tasks)
 * and a save in a task belongs to the task's transaction. Outside such a
 * transaction it uses the DataSource's own manager. A repository from
 * `dataSource.getRepository()` or @nestjs/typeorm's `@InjectRepository()` is
 * bound to the DataSource's manager and never joins them.
 */
export function transactionalRepository<T extends ObjectLiteral>(
  dataSource: DataSource,
  entity: EntityTarget<T>,
): Repository<T> {
  if (!dataSource || typeof dataSource.getRepository !== 'function')
    throw new InvalidOptionError('dataSource', 'expected a TypeORM DataSource');
  const current = (): Repository<T> =>
    (maybeCurrentEntityManager(dataSource) ?? dataSource.manager).getRepository(entity);
  // The target only answers `instanceof Repository`; every property is read from the current repository.
  return new Proxy(Object.create(Repository.prototype) as Repository<T>, {
    get(_target, property) {
      const repository = current();
      const value: unknown = Reflect.get(repository, property, repository);
      return typeof value === 'function' ? value.bind(repository) : value;
    },
    has: (_target, property) => Reflect.has(current(), property),
    set: () => {
      throw new InvalidOptionError('repository', 'a transactional repository is read-only');
    },
  });
}

/** The injection token of the transactional repository of `entity` (see {@link InjectTransactionalRepository}). */
export function getTransactionalRepositoryToken(entity: EntityTarget<ObjectLiteral>): string {
  const name =
    typeof entity === 'string'
      ? entity
      : typeof entity === 'function'
        ? entity.name
        : ((entity as { options?: { name?: string } }).options?.name ?? String(entity));
  return `TaskqTransactionalRepository:${name}`;
}

/**
 * Injects the {@link transactionalRepository} of `entity`, provided by
 * `TaskqTypeormModule.forFeature([entity])`: a repository whose saves belong
 * to the request's (or the task's) database transaction.
 *
 * @example
 * ```ts
 * constructor(@InjectTransactionalRepository(User) private readonly users: Repository<User>) {}
 * ```
 */
export function InjectTransactionalRepository(
  entity: EntityTarget<ObjectLiteral>,
): PropertyDecorator & ParameterDecorator {
  return Inject(getTransactionalRepositoryToken(entity));
}
