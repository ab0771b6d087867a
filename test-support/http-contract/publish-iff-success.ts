// The HTTP adapter contract: a request publishes its tasks if and only if it succeeds, and its unit of work is the
// handler's async context.
import type { Transport } from '@taskq/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../cleanup.js';
import { faulty } from '../faulty-transport.js';
import { eventually, sleep } from '../wait.js';
import {
  type ContractApp,
  JOBS_COOKIE,
  ran,
  resetFixtures,
  slowHandler,
  type StartContractApp,
  submitted,
} from './fixtures.js';

/** Declares the suite for one adapter. */
export function publishIffSuccessContract(adapter: string, start: StartContractApp): void {
  describe(`${adapter}: a request publishes its tasks if and only if it succeeds (HTTP adapter contract)`, () => {
    const cleanup = new Cleanup();
    afterEach(async () => {
      await cleanup.run();
      resetFixtures();
    });

    const outcome = async (app: ContractApp, mode: string): Promise<Response> =>
      fetch(`${app.url}/outcome/${mode}`, { method: 'POST' });
    const state = async (app: ContractApp, id: string): Promise<number> =>
      (await fetch(`${app.url}/tasks/${id}`)).status;

    /**
     * Submits `ok` last and waits until it ran: a task published before it would have run by then (the worker takes
     * them in order).
     */
    const settleWith = async (app: ContractApp): Promise<void> => {
      expect((await outcome(app, 'ok')).status).toBe(200);
      await eventually(() => ran.includes('ok'), 'the last task to run');
      await sleep(300);
    };

    it("submit, then the handler throws (the essay's `usr` typo): 500, the task never runs and its id stays unknown; without the throw it runs once", async () => {
      const app = await start({}, cleanup);
      expect((await outcome(app, 'throw')).status).toBe(500);
      const dropped = submitted.get('throw') ?? '';
      expect(dropped).toMatch(/^[0-9a-f-]{36}$/);
      await settleWith(app);
      expect(ran).toEqual(['ok']);
      expect(await state(app, dropped)).toBe(404);
      console.log(`[${adapter}] thrown after submit: status 500, submitted 2, ran ${JSON.stringify(ran)}`);
    });

    it('a thrown error the framework answers 4xx still drops the tasks; an answered status follows rollbackOn', async () => {
      const app = await start({ rollbackOn: (status) => status >= 500 || status === 409 }, cleanup);
      const statuses: number[] = [];
      for (const mode of ['throw-400', 'answer-503', 'answer-409', 'answer-404'])
        statuses.push((await outcome(app, mode)).status);
      expect(statuses).toEqual([400, 503, 409, 404]);
      await settleWith(app);
      expect([...ran].sort()).toEqual(['answer-404', 'ok']);
      for (const mode of ['throw-400', 'answer-503', 'answer-409'])
        expect(await state(app, submitted.get(mode) ?? '')).toBe(404);
    });

    it('the default rollbackOn drops a 5xx answer and keeps a 4xx one', async () => {
      const app = await start({}, cleanup);
      expect((await outcome(app, 'answer-500')).status).toBe(500);
      expect((await outcome(app, 'answer-422')).status).toBe(422);
      await settleWith(app);
      expect([...ran].sort()).toEqual(['answer-422', 'ok']);
    });

    it('commits (the broker confirmed the publish) before the client sees the response: the status route knows the id at once', async () => {
      let transport: (Transport & { confirmedAt: number[] }) | undefined;
      const app = await start({ wrap: (inner) => (transport = faulty(inner, { delayMs: 250 })) }, cleanup);
      const confirmedAt = transport?.confirmedAt ?? [];
      const response = await fetch(`${app.url}/jobs/ok`, { method: 'POST' });
      const headersAt = Date.now();
      expect(response.status).toBe(202);
      expect(confirmedAt).toHaveLength(1);
      expect(confirmedAt[0]).toBeLessThanOrEqual(headersAt);
      await response.text();
      const status = await fetch(response.headers.get('location') ?? '');
      expect(status.status).toBe(200);
      expect(['queued', 'active', 'succeeded']).toContain(((await status.json()) as { state: string }).state);
      console.log(`[${adapter}] confirmed ${headersAt - confirmedAt[0]} ms before the response headers arrived`);
    });

    it('a commit that fails answers 500 TASKQ_COMMIT_FAILED instead, without the handler’s Location or Set-Cookie, and nothing is published', async () => {
      let refuse = true;
      const app = await start(
        { wrap: (inner) => faulty(inner, { fail: () => (refuse ? new Error('broker said no') : undefined) }) },
        cleanup,
      );
      const response = await fetch(`${app.url}/jobs/ok`, { method: 'POST' });
      expect(response.status).toBe(500);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.get('set-cookie')).toBeNull();
      expect(JSON.stringify(await response.json())).toContain('TASKQ_COMMIT_FAILED');
      refuse = false;
      // The same route with a working broker sets its cookie: the failed answer really dropped it.
      const working = await fetch(`${app.url}/jobs/ok`, { method: 'POST' });
      expect(working.status).toBe(202);
      expect(working.headers.get('set-cookie')).toContain(JOBS_COOKIE);
      // Only the second request's task runs: the first one was never published.
      await eventually(() => ran.includes('succeed'), 'the working request’s task to run');
      await sleep(300);
      expect(ran).toEqual(['succeed']);
    });

    it('a client that goes away before the response drops the request’s tasks', async () => {
      const app = await start({}, cleanup);
      const abort = new AbortController();
      const request = fetch(`${app.url}/outcome/slow`, { method: 'POST', signal: abort.signal }).catch(
        (error: unknown) => error,
      );
      await slowHandler.submitted.promise;
      abort.abort();
      await request;
      await sleep(100);
      slowHandler.release.open();
      await sleep(100);
      await settleWith(app);
      expect(ran).toEqual(['ok']);
      expect(await state(app, submitted.get('slow') ?? '')).toBe(404);
    });

    it('the handler runs in the request’s unit of work, across awaits: even the application queue’s submit joins it', async () => {
      const app = await start({}, cleanup);
      expect((await outcome(app, 'context-throw')).status).toBe(500);
      const ok = await outcome(app, 'context-ok');
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { inContext: boolean }).inContext).toBe(true);
      await eventually(() => ran.includes('context-ok'), 'the committed task to run');
      await settleWith(app);
      expect([...ran].sort()).toEqual(['context-ok', 'ok']);
      expect(await state(app, submitted.get('context-throw') ?? '')).toBe(404);
    });
  });
}
