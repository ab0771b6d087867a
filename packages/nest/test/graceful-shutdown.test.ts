import { Injectable, type INestApplicationContext, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { TaskQueue } from '@taskq/core';
import { getQueueToken, Task, TaskqModule } from '@taskq/nest';
import { afterEach, describe, expect, it } from 'vitest';
import { TestBroker } from './support/broker.js';
import { eventually, sleep } from '../../../test-support/wait.js';

/** Stands for a connection pool: closed in onApplicationShutdown, as TypeORM's DataSource is. */
@Injectable()
class Pool implements OnApplicationShutdown {
  closed = false;
  onApplicationShutdown(): void {
    this.closed = true;
  }
}

@Injectable()
class ReportTasks {
  readonly log: string[] = [];
  constructor(private readonly pool: Pool) {}

  @Task()
  async render(n: number): Promise<void> {
    this.log.push(`start ${n}`);
    await sleep(500);
    // The drain happens before onApplicationShutdown, so the pool is still open here.
    this.log.push(`done ${n} (pool ${this.pool.closed ? 'closed' : 'open'})`);
  }
}

@Module({ providers: [Pool, ReportTasks] })
class ReportsModule {}

describe('app.close() with tasks in flight, on RabbitMQ', () => {
  let broker: TestBroker | undefined;
  afterEach(async () => {
    await broker?.cleanup();
  });

  it('drains them: every started task finishes with its providers alive, none goes back to the queue', async () => {
    broker = new TestBroker();
    const moduleRef = await Test.createTestingModule({
      imports: [TaskqModule.forRoot({ transport: broker.transport(), worker: { concurrency: 3 } }), ReportsModule],
    }).compile();
    const app: INestApplicationContext = await moduleRef.init();
    const queue = app.get<TaskQueue>(getQueueToken());
    const tasks = app.get(ReportTasks);
    for (let n = 1; n <= 3; n++) await queue.submit(tasks.render, n);
    await eventually(() => tasks.log.length === 3, 'three tasks to be in flight');
    const closing = Date.now();
    await app.close();
    console.log(
      `app.close() with 3 in flight took ${Date.now() - closing} ms: ${tasks.log.filter((l) => l.startsWith('done')).length} finished`,
    );
    expect(tasks.log.filter((l) => l.startsWith('done')).sort()).toEqual([
      'done 1 (pool open)',
      'done 2 (pool open)',
      'done 3 (pool open)',
    ]);
    expect(app.get(Pool).closed).toBe(true);
    expect(await broker.depth('default')).toBe(0);
  });
});
