import { Body, Controller, Inject, Injectable, type INestApplication, Module, Post } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { memoryResultStore, type TaskQueue } from '@taskq/core';
import { InjectQueue, OnTaskEvent, Task, TaskqModule, TypeormIntegrationError } from '@taskq/nest';
import { InjectTransactionalRepository, TaskqTypeormModule, transactionalRepository } from '@taskq/nest/typeorm';
import { maybeCurrentEntityManager, taskqEntities } from '@taskq/typeorm';
import { DataSource, EntitySchema, Repository } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { faulty } from '../../../test-support/faulty-transport.js';
import { createSchema, dropSchema, PG_URL, sql } from '../../../test-support/postgres.js';
import { waitFor } from '../../../test-support/wait.js';
import { TestBroker } from './support/broker.js';

interface Widget {
  id: number;
  name: string;
}

const Widget = new EntitySchema<Widget>({
  name: 'Widget',
  tableName: 'nest_widget',
  columns: { id: { type: 'int', primary: true, generated: true }, name: { type: 'text' } },
});

/** What the tasks saw, in the order they ran. */
const ran: { name: string; found: boolean; inTransaction: boolean }[] = [];
const failures: string[] = [];
let dataSource: DataSource;

@Injectable()
class WidgetTasks {
  constructor(@InjectTransactionalRepository(Widget) private readonly widgets: Repository<Widget>) {}

  @Task({ id: 'widgets.announce', attempts: 1 })
  async announce(id: number, name: string): Promise<void> {
    ran.push({
      name,
      found: (await this.widgets.findOneBy({ id })) !== null,
      inTransaction: maybeCurrentEntityManager(dataSource) !== undefined,
    });
  }

  /** Writes through the repository, then fails: the task's database transaction must take the write back. */
  @Task({ id: 'widgets.renameThenFail', attempts: 1 })
  async renameThenFail(id: number): Promise<void> {
    await this.widgets.update({ id }, { name: 'renamed by a failed task' });
    throw new Error('the task fails after its write');
  }

  @OnTaskEvent('failed')
  onFailed(event: { name: string }): void {
    failures.push(event.name);
  }
}

@Controller('widgets')
class WidgetsController {
  constructor(
    @InjectQueue() private readonly queue: TaskQueue,
    @InjectTransactionalRepository(Widget) private readonly widgets: Repository<Widget>,
    @Inject(WidgetTasks) private readonly tasks: WidgetTasks,
    @Inject(DataSource) private readonly db: DataSource,
  ) {}

  /** Saves, submits, then fails on demand: the request's database transaction holds both. */
  @Post()
  async create(@Body() body: { name: string; fail?: boolean }) {
    const widget = await this.widgets.save({ name: body.name });
    await this.queue.submit(this.tasks.announce, widget.id, body.name);
    if (body.fail) throw new Error('the request fails after its save and its submit');
    return { id: widget.id };
  }

  /** The same through a plain repository, bound to the DataSource's manager: it commits on its own. */
  @Post('plain')
  async createPlain(@Body() body: { name: string }) {
    await this.db.getRepository(Widget).save({ name: body.name });
    throw new Error('the request fails after its save');
  }

  @Post('break')
  async breakOne(@Body() body: { id: number }) {
    await this.queue.submit(this.tasks.renameThenFail, body.id);
    return {};
  }
}

let schema: string;
let app: INestApplication;
let url: string;
const broker = new TestBroker();
const publishing = { down: false };

beforeAll(async () => {
  schema = await createSchema('nest');
  dataSource = await new DataSource({
    type: 'postgres',
    url: PG_URL,
    schema,
    entities: [Widget, ...taskqEntities],
    synchronize: true,
    logging: false,
  }).initialize();
  @Module({ providers: [{ provide: DataSource, useValue: dataSource }], exports: [DataSource] })
  class DatabaseModule {}
  @Module({
    imports: [TaskqTypeormModule.forFeature([Widget]), DatabaseModule],
    providers: [WidgetTasks],
    controllers: [WidgetsController],
  })
  class WidgetsModule {}
  const transport = faulty(broker.transport(), {
    fail: () => (publishing.down ? new Error('the broker refuses publishes (test)') : undefined),
  });
  const moduleRef = await Test.createTestingModule({
    imports: [
      TaskqModule.forRoot({ transport, store: memoryResultStore(), worker: { concurrency: 1 } }),
      TaskqTypeormModule.forRoot({ imports: [DatabaseModule], relay: { sweepInterval: 100, minAge: 0 } }),
      WidgetsModule,
    ],
  }).compile();
  app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
});

afterAll(async () => {
  await app?.close();
  await dataSource?.destroy();
  await broker.cleanup();
  await dropSchema(schema);
});

beforeEach(() => {
  ran.length = 0;
  failures.length = 0;
  publishing.down = false;
});

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function names(): Promise<string[]> {
  const rows = (await sql(`SELECT name FROM "${schema}"."nest_widget" ORDER BY id`)).rows as { name: string }[];
  return rows.map((row) => row.name);
}

describe('TaskqTypeormModule (PostgreSQL + RabbitMQ)', () => {
  it('a request that succeeds commits the row and its task, which runs in a database transaction of its own', async () => {
    const response = await post('/widgets', { name: 'committed' });
    expect(response.status).toBe(201);
    expect(await names()).toContain('committed');
    await waitFor(() => ran.length === 1, 'the task to run');
    expect(ran[0]).toEqual({ name: 'committed', found: true, inTransaction: true });
  });

  it('a request that fails rolls back the repository save and drops its task', async () => {
    const failed = await post('/widgets', { name: 'rolled-back', fail: true });
    expect(failed.status).toBe(500);
    const ok = await post('/widgets', { name: 'after' });
    expect(ok.status).toBe(201);
    // One queue, one task at a time: had the failed request's task been published, it would have run first.
    await waitFor(() => ran.some((r) => r.name === 'after'), 'the later task to run');
    expect(ran.map((r) => r.name)).toEqual(['after']);
    expect(await names()).not.toContain('rolled-back');
  });

  it('a plain repository (dataSource.getRepository) escapes the request transaction: why the transactional one exists', async () => {
    expect((await post('/widgets/plain', { name: 'escaped' })).status).toBe(500);
    expect(await names()).toContain('escaped');
  });

  it("the per-task transaction middleware is wired: a failing task's write through the repository is rolled back", async () => {
    const created = (await (await post('/widgets', { name: 'stays' })).json()) as { id: number };
    await waitFor(() => ran.length === 1, 'the announce task');
    expect((await post('/widgets/break', { id: created.id })).status).toBe(201);
    await waitFor(() => failures.includes('widgets.renameThenFail'), 'the failing task');
    expect(await names()).toContain('stays');
    expect(await names()).not.toContain('renamed by a failed task');
  });

  it('the outbox relay runs with the application: tasks whose publish failed after the commit go out later', async () => {
    publishing.down = true;
    const response = await post('/widgets', { name: 'relayed' });
    // The commit succeeded; only the publish after it failed, and the task waits in the outbox.
    expect(response.status).toBe(201);
    const outbox = async () => Number((await sql(`SELECT COUNT(*) AS n FROM "${schema}"."taskq_outbox"`)).rows[0].n);
    expect(await outbox()).toBe(1);
    expect(ran).toEqual([]);
    publishing.down = false;
    await waitFor(() => ran.some((r) => r.name === 'relayed'), 'the relay to publish the task');
    await waitFor(async () => (await outbox()) === 0, 'the outbox to be empty');
  });

  it('outside any transaction the repository uses the DataSource manager; it is still a Repository', async () => {
    const repository = transactionalRepository(dataSource, Widget);
    expect(repository).toBeInstanceOf(Repository);
    expect(repository.manager).toBe(dataSource.manager);
    expect(await repository.existsBy({ name: 'committed' })).toBe(true);
  });
});

describe('TaskqTypeormModule configuration', () => {
  it('refuses a second request unit of work next to http.unitOfWork', async () => {
    @Module({ providers: [{ provide: DataSource, useValue: dataSource }], exports: [DataSource] })
    class Db {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        TaskqModule.forRoot({
          transport: broker.transport(),
          http: { unitOfWork: (queue) => ({ uow: queue.begin(), commit: async () => {}, rollback: async () => {} }) },
        }),
        TaskqTypeormModule.forRoot({ imports: [Db], relay: false }),
      ],
    }).compile();
    await expect(moduleRef.init()).rejects.toThrow(TypeormIntegrationError);
    await moduleRef.close().catch(() => {});
  });
});

describe('@taskq/nest without typeorm', () => {
  it('the main entry never loads typeorm or @taskq/typeorm: only @taskq/nest/typeorm does', async () => {
    const { readFileSync } = await import('node:fs');
    const { dirname, resolve } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const entry = fileURLToPath(import.meta.resolve('@taskq/nest'));
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
        else bare.add(specifier);
      }
    };
    visit(entry);
    expect(seen.size).toBeGreaterThan(10);
    expect([...bare].filter((name) => /typeorm/.test(name))).toEqual([]);
  });
});
