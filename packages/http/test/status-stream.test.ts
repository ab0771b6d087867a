import { createQueue, memory, memoryResultStore, type ResultStore, TaskRegistry } from '@taskq/core';
import { describe, expect, it } from 'vitest';
import { statusEventStream, wantsEventStream } from '../src/index.js';

async function report(): Promise<void> {}
const registry = new TaskRegistry().add('stream.report', report);

describe('statusEventStream', () => {
  it('sends the current status as an event at once, and stops watching the task when destroyed (the client went away)', async () => {
    const store = memoryResultStore();
    let subscribed = 0;
    let unsubscribed = 0;
    const counting: ResultStore = store;
    const subscribe = store.subscribe.bind(store);
    counting.subscribe = async (id, listener) => {
      subscribed++;
      const unsubscribe = await subscribe(id, listener);
      return async () => {
        unsubscribed++;
        await unsubscribe();
      };
    };
    const queue = createQueue({ registry, transport: memory(), store: counting });
    // No worker: the task stays queued, so only a destroyed stream ends the watch.
    const handle = await queue.submit(report);
    const stream = statusEventStream(queue, handle.id);
    const first = await new Promise<string>((resolve) =>
      stream.once('data', (chunk: Buffer) => resolve(String(chunk))),
    );
    expect(first).toMatch(/^event: status\ndata: \{.*"state":"queued".*\}\n\n$/);
    expect(JSON.parse(first.split('data: ')[1])).toMatchObject({ id: handle.id, state: 'queued' });
    expect(subscribed).toBe(1);
    expect(unsubscribed).toBe(0);
    stream.destroy();
    for (let i = 0; i < 50 && unsubscribed === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(unsubscribed).toBe(1);
    await queue.close();
  });

  it('ends with an error event carrying no message when the store fails', async () => {
    const store = memoryResultStore();
    const queue = createQueue({ registry, transport: memory(), store });
    const handle = await queue.submit(report);
    store.get = async () => {
      throw new Error('connect ECONNREFUSED postgres://app:hunter2@10.0.0.12/prod');
    };
    let text = '';
    for await (const chunk of statusEventStream(queue, handle.id)) text += String(chunk);
    expect(text).toBe('event: error\ndata: {"error":{}}\n\n');
    await queue.close();
  });

  it('is asked for by an Accept header naming text/event-stream, not by JSON or a lookalike', () => {
    expect(wantsEventStream('text/event-stream')).toBe(true);
    expect(wantsEventStream('application/json, text/event-stream;q=0.9')).toBe(true);
    expect(wantsEventStream(['text/html', 'text/event-stream'])).toBe(true);
    expect(wantsEventStream('application/json')).toBe(false);
    expect(wantsEventStream('text/event-streams')).toBe(false);
    expect(wantsEventStream(undefined)).toBe(false);
  });
});
