import { Controller, Get, Header, Inject, NotFoundException, type OnModuleInit, Param, type Type } from '@nestjs/common';
import { InvalidOptionError, type PublicTaskStatus, publicStatus, TASK_ID_PATTERN } from '@taskq/core';

import { TaskqRuntime } from './taskq-runtime.js';

/**
 * @internal The controller behind `statusRoute`: `GET <path>/:id` answers the
 * task's public status, 404 for an unknown id. A class made per path
 * because a controller's path is fixed when its decorator runs.
 */
export function createTaskStatusController(path: string): Type<unknown> {
  @Controller(path)
  class TaskStatusController implements OnModuleInit {
    constructor(@Inject(TaskqRuntime) private readonly runtime: TaskqRuntime) {}

    onModuleInit(): void {
      if (!this.runtime.options.store) throw new InvalidOptionError('statusRoute', 'the status route needs a result store: TaskqModule.forRoot({ store })');
    }

    @Get(':id')
    @Header('Cache-Control', 'no-store')
    async status(@Param('id') id: string): Promise<PublicTaskStatus> {
      const status = TASK_ID_PATTERN.test(id) ? await this.runtime.queue.status(id.toLowerCase()) : null;
      if (!status) throw new NotFoundException({ error: { code: 'TASKQ_UNKNOWN_TASK', message: 'no task with this id' } });
      return publicStatus(status);
    }
  }
  return TaskStatusController;
}
