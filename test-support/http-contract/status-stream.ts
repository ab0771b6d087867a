// The HTTP adapter contract: the status route streams server-sent events when asked for text/event-stream.
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { sqlResultStore, taskqEntities } from '@taskq/typeorm';
import { DataSource } from 'typeorm';
import { Cleanup } from '../cleanup.js';
import { createSchema, dropSchema, PG_URL } from '../postgres.js';
import { type ContractApp, resetFixtures, type StartContractApp } from './fixtures.js';

const TASK_LOCATION = /\/tasks\/([0-9a-f-]{36})$/;

interface StreamedEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Reads a server-sent event stream over real HTTP until the server closes it. */
function readEventStream(
  app: ContractApp,
  path: string,
): Promise<{ status: number; contentType: string | undefined; events: StreamedEvent[]; comments: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: app.port, path, headers: { accept: 'text/event-stream' } },
      (res) => {
        const events: StreamedEvent[] = [];
        let comments = 0;
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
            if (block.startsWith(':')) {
              comments++;
              continue;
            }
            const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
            const data = /^data: (.*)$/m.exec(block)?.[1] ?? '{}';
            events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
          }
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], events, comments }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('the status stream did not end within 20 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Declares the suite for one adapter. */
export function statusStreamContract(adapter: string, start: StartContractApp): void {
  describe(`${adapter}: status stream (HTTP adapter contract)`, () => {
    const cleanup = new Cleanup();
    afterEach(async () => {
      await cleanup.run();
      resetFixtures();
    });

    const streamSteps = async (app: ContractApp, label: string): Promise<void> => {
      const accepted = await fetch(`${app.url}/jobs/steps`, { method: 'POST' });
      expect(accepted.status).toBe(202);
      const id = TASK_LOCATION.exec(accepted.headers.get('location') ?? '')?.[1];
      expect(id).toBeDefined();
      const stream = await readEventStream(app, `/tasks/${id}`);
      console.log(
        `[${adapter}, ${label}] status stream: ${stream.events.map((e) => `${e.event}:${e.data.state}:${e.data.progress ?? '-'}`).join(' ')}`,
      );
      expect(stream.status).toBe(200);
      expect(stream.contentType).toMatch(/^text\/event-stream/);
      expect(stream.events.every((e) => e.event === 'status' && e.data.id === id)).toBe(true);
      const progress = stream.events
        .map((e) => e.data.progress)
        .filter((p, i, all) => p !== undefined && p !== all[i - 1]);
      expect(progress).toEqual([20, 40, 60, 80, 100]);
      expect(stream.events.at(-1)?.data).toMatchObject({ state: 'succeeded', progress: 100, result: 'stepped' });
      expect(stream.events.filter((e) => e.data.state === 'succeeded')).toHaveLength(1);
    };

    it('asked for text/event-stream, streams the status and each progress step in order, then succeeded, then closes', async () => {
      await streamSteps(await start({}, cleanup), 'memory store');
    });

    it('does the same with the SQL result store on PostgreSQL, whose changes reach the stream by LISTEN/NOTIFY', async () => {
      const schema = await createSchema('sse');
      cleanup.add(() => dropSchema(schema));
      const dataSource = new DataSource({
        type: 'postgres',
        url: PG_URL,
        schema,
        entities: taskqEntities,
        synchronize: true,
        poolSize: 4,
        logging: false,
      });
      await dataSource.initialize();
      cleanup.add(() => dataSource.destroy());
      const store = sqlResultStore(dataSource);
      cleanup.add(() => store.close());
      await streamSteps(await start({ store }, cleanup), 'PostgreSQL store');
    });

    it('answers a finished task with one event and closes; an unknown id is the JSON 404', async () => {
      const app = await start({}, cleanup);
      const accepted = await fetch(`${app.url}/jobs/ok`, { method: 'POST' });
      const id = TASK_LOCATION.exec(accepted.headers.get('location') ?? '')?.[1];
      for (let i = 0; i < 100; i++) {
        const body = (await (await fetch(`${app.url}/tasks/${id}`)).json()) as { state?: string };
        if (body.state === 'succeeded') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const done = await readEventStream(app, `/tasks/${id}`);
      expect(done.events.map((e) => [e.event, e.data.state, e.data.result])).toEqual([['status', 'succeeded', 'done']]);
      const unknown = await readEventStream(app, '/tasks/0190f5b4-0000-7000-8000-000000000000');
      expect(unknown.status).toBe(404);
      expect(unknown.events).toEqual([]);
    });
  });
}
