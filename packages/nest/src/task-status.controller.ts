import {
  Controller,
  Get,
  Header,
  Inject,
  NotFoundException,
  type OnModuleInit,
  Param,
  Req,
  type Type,
} from '@nestjs/common';
import { InvalidOptionError } from '@taskq/core';
import { answerTaskStatus, type PublicTaskStatus, type ResolvedStatusRoute } from '@taskq/http';

import { TaskqRuntime } from './taskq-runtime.js';

/**
 * @internal The controller behind `statusRoute`: `GET <path>/:id` answers the
 * task's public status; 404 for an unknown id and for a task
 * `http.statusRoute.authorize` refuses. A class made per path because a
 * controller's path is fixed when its decorator runs.
 */
export function createTaskStatusController(path: string): Type<unknown> {
  @Controller(path)
  class TaskStatusController implements OnModuleInit {
    #route: ResolvedStatusRoute<unknown> | undefined;

    constructor(@Inject(TaskqRuntime) private readonly runtime: TaskqRuntime) {}

    onModuleInit(): void {
      if (!this.runtime.options.store)
        throw new InvalidOptionError(
          'statusRoute',
          'the status route needs a result store: TaskqModule.forRoot({ store })',
        );
    }

    @Get(':id')
    @Header('Cache-Control', 'no-store')
    async status(@Param('id') id: string, @Req() request: unknown): Promise<PublicTaskStatus> {
      // http.statusRoute was validated with the module's options; the queue exists only now.
      this.#route ??= { queue: this.runtime.queue, ...this.runtime.options.http.statusRoute };
      const answer = await answerTaskStatus(this.#route, request, id);
      if (answer.status === 404) throw new NotFoundException(answer.body);
      return answer.body;
    }
  }
  return TaskStatusController;
}
