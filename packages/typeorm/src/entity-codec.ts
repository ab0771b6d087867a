import { type Codec, DecodeError, type EncodeContext, InvalidOptionError } from '@taskq/core';
import type { DataSource, EntityManager, EntityMetadata, ObjectLiteral } from 'typeorm';
import { EntityDirtyError, EntityLoadError, EntityNotFoundError, EntityNotSavedError, TypeormSetupError } from './errors.js';
import { changedColumns } from './internal/dirty.js';
import { withManager } from './internal/scope.js';

/**
 * What happens when an entity passed to `submit` differs from its stored row:
 * `'reject'` refuses the submit with an error naming the changed columns;
 * `'flush'` saves it (through the open transaction, if any) before the task is queued.
 */
export type DirtyPolicy = 'reject' | 'flush';

/** Options of {@link entityCodec}. */
export interface EntityCodecOptions {
  /** @defaultValue `'reject'` */
  readonly dirty?: DirtyPolicy;
  /**
   * Tag written on the wire; change it only to run two entity codecs (two DataSources) side by side.
   * @defaultValue `'typeorm.entity'`
   */
  readonly name?: string;
}

/** An entity reference on the wire: entity name and primary key. */
export interface EncodedEntity {
  /** Entity name in the DataSource, e.g. `User`. */
  readonly e: string;
  /** Primary key by property, e.g. `{ id: 42 }` or `{ orgId: 1, userId: 7 }`. */
  readonly id: Readonly<Record<string, unknown>>;
}

/**
 * The entity codec: lets entities of `dataSource` be task arguments. An
 * entity travels as `{ entity name, primary key }` (composite keys too) and
 * the worker loads it again, through its per-task transaction when
 * `typeormTransaction()` runs, so the task sees the committed row.
 *
 * At submit the entity must have been saved (else `TASKQ_ENTITY_NOT_SAVED`);
 * its columns are compared with the stored row (read through the open
 * transaction), and a difference is refused (`TASKQ_ENTITY_DIRTY`) or saved
 * first, by policy. In the worker a row that no longer exists fails the task
 * at once, without retries (`TASKQ_ENTITY_NOT_FOUND`, dead-lettered as
 * `undecodable-arguments`). Relations travel only as the worker loads them
 * again (eager relations); the submit-side copy of a loaded relation is not sent.
 *
 * Give the same codec to `createQueue({ codecs })` and `createWorker({ codecs })`.
 */
export function entityCodec(dataSource: DataSource, options: EntityCodecOptions = {}): Codec<ObjectLiteral, EncodedEntity> {
  if (!dataSource || typeof dataSource.getMetadata !== 'function' || typeof dataSource.hasMetadata !== 'function') {
    throw new InvalidOptionError('dataSource', 'expected a TypeORM DataSource');
  }
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'expected an object');
  const policy = options.dirty ?? 'reject';
  if (policy !== 'reject' && policy !== 'flush') throw new InvalidOptionError('dirty', `expected 'reject' or 'flush', got ${JSON.stringify(policy)}`);
  const name = options.name ?? 'typeorm.entity';
  if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError('name', 'expected a non-empty string');

  // test() runs for every non-plain argument value (Dates, Maps, ...): one lookup per class.
  const known = new WeakMap<object, boolean>();
  const isEntityClass = (ctor: object): boolean => {
    if (!dataSource.isInitialized) {
      // Before initialize() there is no metadata; claim the configured classes so encode can say what is wrong.
      const entities = dataSource.options.entities;
      return Array.isArray(entities) && entities.includes(ctor as never);
    }
    let hit = known.get(ctor);
    if (hit === undefined) {
      hit = dataSource.hasMetadata(ctor as never);
      known.set(ctor, hit);
    }
    return hit;
  };

  return {
    name,
    test(value: unknown): boolean {
      if (typeof value !== 'object' || value === null) return false;
      const ctor: unknown = Object.getPrototypeOf(value)?.constructor;
      return typeof ctor === 'function' && ctor !== Object && isEntityClass(ctor);
    },
    encode(entity: ObjectLiteral, context: EncodeContext): Promise<EncodedEntity> {
      return encodeEntity(dataSource, policy, entity, context);
    },
    decode(data: EncodedEntity): Promise<ObjectLiteral> {
      return decodeEntity(dataSource, data);
    },
  };
}

async function encodeEntity(dataSource: DataSource, policy: DirtyPolicy, entity: ObjectLiteral, context: EncodeContext): Promise<EncodedEntity> {
  if (!dataSource.isInitialized) throw new TypeormSetupError('the DataSource is not initialized: call dataSource.initialize() before submitting entities');
  const metadata = dataSource.getMetadata(entity.constructor);
  const id = metadata.hasAllPrimaryKeys(entity) ? metadata.getEntityIdMap(entity) : undefined;
  if (!id) {
    throw new EntityNotSavedError(metadata.name, `${metadata.name} at ${context.path} has no primary key yet: it was never saved; save it (e.g. await manager.save(entity)) before submitting`);
  }
  return withManager(dataSource, 'always', async (manager) => {
    const stored = await loadStored(manager, metadata, id);
    if (!stored) {
      throw new EntityNotSavedError(metadata.name, `${metadata.name} ${JSON.stringify(id)} at ${context.path} has no row in the database (never saved, or deleted); save it before submitting`);
    }
    const changed = changedColumns(metadata, entity, stored);
    if (changed.length > 0) {
      if (policy === 'reject') throw new EntityDirtyError(metadata.name, id, changed);
      // Saved through the open transaction (if any): it commits or rolls back together with the task.
      await manager.save(metadata.target, entity);
    }
    return { e: metadata.name, id };
  });
}

/** The stored row, relations as ids so their foreign keys can be compared. */
function loadStored(manager: EntityManager, metadata: EntityMetadata, id: ObjectLiteral): Promise<ObjectLiteral | null> {
  return manager.findOne<ObjectLiteral>(metadata.target, { where: id, loadEagerRelations: false, loadRelationIds: true });
}

async function decodeEntity(dataSource: DataSource, data: EncodedEntity): Promise<ObjectLiteral> {
  if (!isRecord(data) || typeof data.e !== 'string' || !isRecord(data.id)) throw new DecodeError('expected an entity reference { e, id }');
  if (!dataSource.isInitialized) throw new TypeormSetupError("the worker's DataSource is not initialized: initialize it in worker.onStartup()");
  if (!dataSource.hasMetadata(data.e)) throw new DecodeError(`no entity named ${JSON.stringify(data.e)} in the worker's DataSource`);
  const metadata = dataSource.getMetadata(data.e);
  const where = checkId(metadata, data.id);
  let entity: ObjectLiteral | null;
  try {
    entity = await withManager(dataSource, 'always', (manager) => manager.findOne<ObjectLiteral>(metadata.target, { where }));
  } catch (error) {
    // The query failed (connection lost, lock timeout): the row may well be there, so the attempt is retried, not dead-lettered.
    throw new EntityLoadError(metadata.name, error);
  }
  if (!entity) throw new EntityNotFoundError(metadata.name, where);
  return entity;
}

/** The id from the wire, checked to be exactly the primary key (untrusted input becomes a WHERE). */
function checkId(metadata: EntityMetadata, id: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const expected = new Set(metadata.primaryColumns.map((column) => column.propertyPath.split('.')[0]));
  const keys = Object.keys(id);
  if (keys.length !== expected.size || !keys.every((key) => expected.has(key))) {
    throw new DecodeError(`the key of ${metadata.name} must have exactly ${[...expected].join(', ')}, got ${keys.join(', ') || 'nothing'}`);
  }
  for (const key of keys) {
    if (!isKeyValue(id[key], 0)) throw new DecodeError(`the key ${metadata.name}.${key} is not a string, number or nested key`);
  }
  return { ...id };
}

function isKeyValue(value: unknown, depth: number): boolean {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value instanceof Date) return true;
  if (depth < 3 && isRecord(value)) return Object.values(value).every((v) => isKeyValue(v, depth + 1));
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && [Object.prototype, null].includes(Object.getPrototypeOf(value));
}
