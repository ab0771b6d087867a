import {
  Controller,
  Get,
  Header,
  Inject,
  NotFoundException,
  type OnModuleInit,
  Param,
  Req,
  StreamableFile,
  type Type,
} from '@nestjs/common';
import { InvalidOptionError } from '@taskq/core';
import {
  answerTaskStatus,
  EVENT_STREAM_HEADERS,
  type PublicTaskStatus,
  type ResolvedStatusRoute,
  statusEventStream,
  wantsEventStream,
} from '@taskq/http';

import { TaskqRuntime } from './taskq-runtime.js';

/**
 * @internal The controller behind `statusRoute`: `GET <path>/:id` answers the
 * task's public status; 404 for an unknown id and for a task
 * `http.statusRoute.authorize` refuses; asked for `text/event-stream`, the
 * status as server-sent events until the task finished. A class made per path because a
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
    async status(
      @Param('id') id: string,
      @Req() request: { headers?: Record<string, unknown> },
    ): Promise<PublicTaskStatus | StreamableFile> {
      // http.statusRoute was validated with the module's options; the queue exists only now.
      this.#route ??= { queue: this.runtime.queue, ...this.runtime.options.http.statusRoute };
      const answer = await answerTaskStatus(this.#route, request, id);
      if (answer.status === 404) throw new NotFoundException(answer.body);
      // Nest pipes a StreamableFile on both platforms and destroys it (so stops watching) when the client goes away.
      if (wantsEventStream(request.headers?.accept))
        return new StreamableFile(statusEventStream(this.#route.queue, answer.body.id, this.#route), {
          type: EVENT_STREAM_HEADERS['content-type'],
        });
      return answer.body;
    }
  }
  return TaskStatusController;
}
