// `@taskq/nest/typeorm`: the Nest + TypeORM integration. A subpath of its own, so that `@taskq/nest` itself loads
// without typeorm or @taskq/typeorm installed (both are optional peer dependencies).
export { TaskqTypeormModule } from './typeorm/module.js';
export type { TaskqTypeormOptions, TaskqRequestUnitOfWorkOptions } from './typeorm/options.js';
export {
  transactionalRepository,
  InjectTransactionalRepository,
  getTransactionalRepositoryToken,
} from './typeorm/repository.js';
