import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { NoRequestUnitOfWorkError, type RequestUnitOfWork } from '@taskq/http';

const UNIT_OF_WORK: unique symbol = Symbol('taskq.nest.unitOfWork');

type WithUnitOfWork = { [UNIT_OF_WORK]?: RequestUnitOfWork };

/** @internal Remembers the unit of work the interceptor opened for this request. */
export function attachUnitOfWork(request: unknown, unitOfWork: RequestUnitOfWork): void {
  if (typeof request === 'object' && request !== null) (request as WithUnitOfWork)[UNIT_OF_WORK] = unitOfWork;
}

/**
 * The unit of work the taskq interceptor opened for `request`, as the
 * `http.unitOfWork` factory returned it; throws `TASKQ_NO_REQUEST_UNIT_OF_WORK`
 * when there is none. The type argument is the caller's promise; it is not
 * checked at run time.
 */
export function requestUnitOfWork<T extends RequestUnitOfWork = RequestUnitOfWork>(request: unknown): T {
  const unitOfWork =
    typeof request === 'object' && request !== null ? (request as WithUnitOfWork)[UNIT_OF_WORK] : undefined;
  if (!unitOfWork)
    throw new NoRequestUnitOfWorkError(
      'the route is not behind the taskq unit-of-work interceptor (http.unitOfWork: false?)',
    );
  return unitOfWork as T;
}

/**
 * Injects the request's unit of work into a handler parameter; with
 * @taskq/typeorm's `databaseUnitOfWork` as `http.unitOfWork`, its `manager`
 * is the request's EntityManager. The parameter's type is the caller's
 * promise; it is not checked at run time.
 *
 * @example
 * ```ts
 * @Post('users')
 * register(@Body() body: NewUser, @CurrentUnitOfWork() work: TypeormRequestUnitOfWork) { return work.manager.save(User,
 * body); }
 * ```
 */
export const CurrentUnitOfWork: () => ParameterDecorator = createParamDecorator(
  (_data: unknown, execution: ExecutionContext) => requestUnitOfWork(execution.switchToHttp().getRequest()),
);
