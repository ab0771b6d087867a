import { type Codec, DecodeError, type EncodeContext, InvalidOptionError } from '@taskq/core';
import {
  type DataSource,
  type EntityManager,
  type EntityMetadata,
  EntitySchema,
  type ObjectLiteral,
  type ObjectType,
} from 'typeorm';
import { TABLES, taskqEntities } from './entities.js';
import {
  EntityDirtyError,
  EntityLoadError,
  EntityNotAllowedError,
  EntityNotFoundError,
  EntityNotSavedError,
  TypeormSetupError,
} from './errors.js';
import { changedColumns } from './internal/dirty.js';
import { checkKey, isRecord } from './internal/entity-key.js';
import { withManager } from './internal/scope.js';

/**
 * What happens when an entity passed to `submit` differs from its stored row:
 * `'reject'` refuses the submit with an error naming the changed columns;
 * `'flush'` saves it (through the open transaction, if any) before the task is queued.
 */
export type DirtyPolicy = 'reject' | 'flush';

/** Options of {@link entityCodec}. */
export interface EntityCodecOptions {
  /**
   * The entity classes (or `EntitySchema`s) that may travel as task
   * arguments. A worker loads only these: a message naming any other
   * entity, by class or table name, is dead-lettered, and submitting one is
   * refused. taskq's own tables can never be listed. Required: list what
   * tasks take, not every entity of the DataSource (an `ApiToken` on the
   * list could be loaded by any message that reaches the worker).
   */
  readonly entities: readonly EntityTarget[];
  /** @defaultValue `'reject'` */
  readonly dirty?: DirtyPolicy;
  /**
   * Tag written on the wire; change it only to run two entity codecs (two DataSources) side by side.
   * @defaultValue `'typeorm.entity'`
   */
  readonly name?: string;
}

/** An entity class or an `EntitySchema`, as in a DataSource's `entities` option. */
export type EntityTarget = ObjectType<ObjectLiteral> | EntitySchema<ObjectLiteral>;

/** An entity reference on the wire: entity name and primary key. */
export interface EncodedEntity {
  /** Entity name in the DataSource, e.g. `User`. */
  readonly e: string;
  /** Primary key by property, e.g. `{ id: 42 }` or `{ orgId: 1, userId: 7 }`. */
  readonly id: Readonly<Record<string, unknown>>;
}

/**
 * The entity codec: lets the listed entities of `dataSource` be task
 * arguments. An entity travels as `{ entity name, primary key }` (composite
 * keys too) and the worker loads it again, through its per-task transaction
 * when `taskTransaction()` runs, so the task sees the committed row.
 *
 * Only entities in `options.entities` travel, and the worker loads only
 * those, by their exact entity name; the key must have exactly the primary
 * key's properties, each of its column's type, before any query runs. Any
 * other reference is dead-lettered as `undecodable-arguments` on its first
 * attempt (`TASKQ_ENTITY_NOT_ALLOWED`, `TASKQ_ENTITY_KEY_INVALID`).
 *
 * At submit the entity must be on the list (else `TASKQ_ENTITY_NOT_ALLOWED`)
 * and saved (else `TASKQ_ENTITY_NOT_SAVED`); its columns are compared with
 * the stored row (read through the open transaction), and a difference is
 * refused (`TASKQ_ENTITY_DIRTY`) or saved first, by policy. In the worker a
 * row that no longer exists fails the task at once, without retries
 * (`TASKQ_ENTITY_NOT_FOUND`, dead-lettered as `undecodable-arguments`).
 * Relations travel only as the worker loads them again (eager relations);
 * the submit-side copy of a loaded relation is not sent.
 *
 * Give the same codec to `createQueue({ codecs })` and `createWorker({ codecs })`:
 * `entityCodec(dataSource, { entities: [User, Order] })`.
 */
export function entityCodec(dataSource: DataSource, options: EntityCodecOptions): Codec<ObjectLiteral, EncodedEntity> {
  if (!dataSource || typeof dataSource.getMetadata !== 'function' || typeof dataSource.hasMetadata !== 'function') {
    throw new InvalidOptionError('dataSource', 'expected a TypeORM DataSource');
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(
      'options',
      'expected an object with the entities that may travel, e.g. entityCodec(dataSource, { entities: [User] })',
    );
  }
  const targets = checkTargets(options.entities);
  const policy = options.dirty ?? 'reject';
  if (policy !== 'reject' && policy !== 'flush')
    throw new InvalidOptionError('dirty', `expected 'reject' or 'flush', got ${JSON.stringify(policy)}`);
  const name = options.name ?? 'typeorm.entity';
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidOptionError('name', 'expected a non-empty string');
  const allowed = new AllowList(dataSource, targets);

  // test() runs for every non-plain argument value (Dates, Maps, ...): one lookup per class.
  // It claims every entity class of the DataSource, listed or not, so an unlisted one is refused by name.
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
      return encodeEntity(dataSource, allowed, policy, entity, context);
    },
    decode(data: EncodedEntity): Promise<ObjectLiteral> {
      return decodeEntity(dataSource, allowed, data);
    },
  };
}

function checkTargets(entities: unknown): readonly EntityTarget[] {
  if (!Array.isArray(entities) || entities.length === 0) {
    throw new InvalidOptionError(
      'entities',
      'expected a non-empty array of the entity classes that may travel as task arguments, e.g. { entities: [User, Order] }',
    );
  }
  entities.forEach((target: unknown, index) => {
    if (typeof target !== 'function' && !(target instanceof EntitySchema)) {
      throw new InvalidOptionError(
        'entities',
        `entities[${index}]: expected an entity class or an EntitySchema, got ${target === null ? 'null' : typeof target}`,
      );
    }
    if ((taskqEntities as unknown[]).includes(target)) {
      throw new InvalidOptionError(
        'entities',
        `entities[${index}]: ${(target as EntitySchema).options.name} is one of taskq's own tables, which never travel as task arguments`,
      );
    }
  });
  return Object.freeze([...entities]) as readonly EntityTarget[];
}

/**
 * The listed entities' metadata by entity name, resolved once the DataSource
 * is initialized. Wire names are looked up here only, never with
 * `dataSource.getMetadata(name)`, which also matches table names.
 */
class AllowList {
  #byName: Map<string, EntityMetadata> | undefined;
  readonly #dataSource: DataSource;
  readonly #targets: readonly EntityTarget[];

  constructor(dataSource: DataSource, targets: readonly EntityTarget[]) {
    this.#dataSource = dataSource;
    this.#targets = targets;
  }

  get(name: string): EntityMetadata | undefined {
    return this.#resolve().get(name);
  }

  names(): string {
    return [...this.#resolve().keys()].join(', ');
  }

  #resolve(): Map<string, EntityMetadata> {
    if (this.#byName) return this.#byName;
    const byName = new Map<string, EntityMetadata>();
    const taskqTables = new Set<string>(Object.values(TABLES));
    this.#targets.forEach((target, index) => {
      const label =
        target instanceof EntitySchema
          ? target.options.name
          : (target as { name?: string }).name || 'an anonymous class';
      if (!this.#dataSource.hasMetadata(target)) {
        throw new TypeormSetupError(
          `entityCodec: entities[${index}] (${label}) is not an entity of the DataSource; add it to the DataSource's entities`,
        );
      }
      const metadata = this.#dataSource.getMetadata(target);
      if (typeof target === 'function' && metadata.target !== target) {
        throw new TypeormSetupError(
          `entityCodec: entities[${index}] (${label}) is not an entity class of the DataSource; add it to the DataSource's entities`,
        );
      }
      if (
        taskqTables.has(metadata.tableName) ||
        taskqEntities.some((schema) => schema.options.name === metadata.name)
      ) {
        throw new TypeormSetupError(
          `entityCodec: entities[${index}] (${label}) maps taskq's own table ${metadata.tableName}, which never travels as a task argument`,
        );
      }
      byName.set(metadata.name, metadata);
    });
    this.#byName = byName;
    return byName;
  }
}

async function encodeEntity(
  dataSource: DataSource,
  allowed: AllowList,
  policy: DirtyPolicy,
  entity: ObjectLiteral,
  context: EncodeContext,
): Promise<EncodedEntity> {
  if (!dataSource.isInitialized)
    throw new TypeormSetupError(
      'the DataSource is not initialized: call dataSource.initialize() before submitting entities',
    );
  const metadata = dataSource.getMetadata(entity.constructor);
  if (allowed.get(metadata.name) !== metadata) {
    throw new EntityNotAllowedError(
      metadata.name,
      `${metadata.name} at ${context.path} is not one of the entities this codec sends (${allowed.names()}); add it to entityCodec(dataSource, { entities }) or pass its id`,
    );
  }
  const found = metadata.hasAllPrimaryKeys(entity) ? metadata.getEntityIdMap(entity) : undefined;
  if (!found) {
    throw new EntityNotSavedError(
      metadata.name,
      `${metadata.name} at ${context.path} has no primary key yet: it was never saved; save it (e.g. await manager.save(entity)) before submitting`,
    );
  }
  // The worker checks the key the same way: refuse here what it would dead-letter.
  const id = checkKey(dataSource, metadata, found);
  return withManager(dataSource, 'always', async (manager) => {
    const stored = await loadStored(manager, metadata, id);
    if (!stored) {
      throw new EntityNotSavedError(
        metadata.name,
        `${metadata.name} ${JSON.stringify(id)} at ${context.path} has no row in the database (never saved, or deleted); save it before submitting`,
      );
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
function loadStored(
  manager: EntityManager,
  metadata: EntityMetadata,
  id: ObjectLiteral,
): Promise<ObjectLiteral | null> {
  return manager.findOne<ObjectLiteral>(metadata.target, {
    where: id,
    loadEagerRelations: false,
    loadRelationIds: true,
  });
}

async function decodeEntity(dataSource: DataSource, allowed: AllowList, data: EncodedEntity): Promise<ObjectLiteral> {
  if (!isRecord(data) || typeof data.e !== 'string' || !isRecord(data.id))
    throw new DecodeError('expected an entity reference { e, id }');
  if (!dataSource.isInitialized)
    throw new TypeormSetupError("the worker's DataSource is not initialized: initialize it in worker.onStartup()");
  const metadata = allowed.get(data.e);
  if (!metadata) {
    const name = data.e.slice(0, 100);
    throw new EntityNotAllowedError(
      name,
      `${JSON.stringify(name)} is not one of the entities this worker's codec loads (${allowed.names()}); the message is not retried`,
    );
  }
  const where = checkKey(dataSource, metadata, data.id);
  let entity: ObjectLiteral | null;
  try {
    entity = await withManager(dataSource, 'always', (manager) =>
      manager.findOne<ObjectLiteral>(metadata.target, { where }),
    );
  } catch (error) {
    // The query failed (connection lost, lock timeout): the row may well be there, so the attempt is retried, not
    // dead-lettered.
    throw new EntityLoadError(metadata.name, error);
  }
  if (!entity) throw new EntityNotFoundError(metadata.name, where);
  return entity;
}
