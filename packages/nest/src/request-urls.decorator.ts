import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { type RequestUrlContext, TaskRequest } from '@taskq/core';
import { REQUEST_CONTEXT } from '@taskq/core/adapter';
import { NoRequestContextError } from './errors.js';
import { asBadRequest } from './internal/bad-host.js';

/**
 * Injects the request's URL helpers into a handler parameter: a
 * `TaskRequest` (`absoluteUrl(path)`, `routeUrl(name, params)`) built from the
 * live request, with the routes of `http.routes` below Nest's global prefix.
 * Pass it to a task as you would pass the request: it travels as its URL
 * context only, and the task builds the same links in the worker as the
 * handler does here.
 *
 * @example
 * ```ts
 * @Post(':id/activation')
 * activate(@Param('id') id: string, @RequestUrls() urls: TaskRequest) {
 *   return this.queue.submit(this.mail.sendActivation, id, urls);
 * }
 * ```
 */
export const RequestUrls: () => ParameterDecorator = createParamDecorator(
  (_data: unknown, execution: ExecutionContext): TaskRequest => {
    const request = execution.switchToHttp().getRequest<{ [REQUEST_CONTEXT]?: () => RequestUrlContext }>();
    const context = request?.[REQUEST_CONTEXT];
    if (typeof context !== 'function') {
      throw new NoRequestContextError(
        '@RequestUrls() needs the taskq interceptor in front of the route (TaskqModule registers it globally)',
      );
    }
    try {
      return new TaskRequest(context());
    } catch (error) {
      // A Host header that is not a host name is the client's mistake (the interceptor normally refused it already).
      throw asBadRequest(error);
    }
  },
);
