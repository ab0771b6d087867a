// The HTTP adapter contract: the Host check and the status route's privacy (authorize, exposeErrors).
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../cleanup.js';
import { eventually } from '../wait.js';
import {
  type ContractApp,
  PUBLIC_MESSAGE,
  rawRequest,
  resetFixtures,
  SECRET,
  type StartContractApp,
} from './fixtures.js';

const TASK_LOCATION = /\/tasks\/([0-9a-f-]{36})$/;

/** Declares the suite for one adapter. */
export function hostAndStatusContract(adapter: string, start: StartContractApp): void {
  describe(`${adapter}: Host check and status route (HTTP adapter contract)`, () => {
    const cleanup = new Cleanup();
    afterEach(async () => {
      await cleanup.run();
      resetFixtures();
    });

    const expectRefused = async (
      app: ContractApp,
      headers: Record<string, string>,
      path = '/jobs/ok',
      method = 'POST',
    ): Promise<void> => {
      const response = await rawRequest(app.port, method, path, headers);
      expect(response.status, `${method} ${path} with ${JSON.stringify(headers)}`).toBe(400);
      expect(response.body).toContain('TASKQ_BAD_REQUEST_HOST');
      expect(response.headers.location).toBeUndefined();
    };

    it('refuses a Host that is not in allowedHosts with 400 TASKQ_BAD_REQUEST_HOST before the handler runs; Location names the checked host', async () => {
      const app = await start({ allowedHosts: ['app.example'] }, cleanup);
      await expectRefused(app, { host: 'attacker.example' });
      await expectRefused(app, { host: 'app.example.attacker.example' });
      await expectRefused(app, { host: 'attacker.example' }, '/tasks/0190f5b4-0000-7000-8000-000000000000', 'GET');
      expect(app.handlerRuns()).toBe(0);

      const accepted = await rawRequest(app.port, 'POST', '/jobs/ok', { host: 'APP.Example:8080' });
      expect(accepted.status).toBe(202);
      expect(app.handlerRuns()).toBe(1);
      expect(accepted.headers.location).toMatch(/^http:\/\/app\.example:8080\/tasks\/[0-9a-f-]{36}$/);
      console.log(
        `[${adapter}] attacker.example refused (400) 3 times, handler runs ${app.handlerRuns()}; Location ${accepted.headers.location}`,
      );
    });

    it('refuses a malformed Host with 400 even when allowedHosts is ["*"], and the handler never runs', async () => {
      const app = await start({ allowedHosts: ['*'] }, cleanup);
      const malformed = [
        'evil.example/<script>',
        'app.example:80:81',
        'app.example:0',
        'app.example:65536',
        'app.example:080',
        'user@app.example',
        'app_example.com',
        '[::1',
        '[fe80::1%25eth0]',
        '999.1.1.1',
        '-app.example',
      ];
      for (const host of malformed) await expectRefused(app, { host });
      expect(app.handlerRuns()).toBe(0);

      const accepted = await rawRequest(app.port, 'POST', '/jobs/ok', { host: '[::1]:8443' });
      expect(accepted.status).toBe(202);
      expect(accepted.headers.location).toMatch(/^http:\/\/\[::1\]:8443\/tasks\//);
      console.log(
        `[${adapter}] ${malformed.length} malformed Host headers refused (400), handler runs ${app.handlerRuns()}`,
      );
    });

    it('puts a trusted X-Forwarded-Host through the same check, and builds Location from it', async () => {
      const app = await start({ allowedHosts: ['.example.com'], trustProxy: true }, cleanup);
      const viaProxy = { host: `127.0.0.1:${app.port}`, 'x-forwarded-proto': 'https' };
      await expectRefused(app, { ...viaProxy, 'x-forwarded-host': 'attacker.example' });
      await expectRefused(app, { ...viaProxy, 'x-forwarded-host': 'shop.example.com:80:81' });
      expect(app.handlerRuns()).toBe(0);

      const accepted = await rawRequest(app.port, 'POST', '/jobs/ok', {
        ...viaProxy,
        'x-forwarded-host': 'shop.example.com',
      });
      expect(accepted.status).toBe(202);
      expect(accepted.headers.location).toMatch(/^https:\/\/shop\.example\.com\/tasks\/[0-9a-f-]{36}$/);
    });

    /** Submits `kind` from 127.0.0.1 and polls the status route until the task finished, with `headers`. */
    const submitAndFinish = async (
      app: ContractApp,
      kind: string,
      headers: Record<string, string> = {},
    ): Promise<{ id: string; body: Record<string, unknown> }> => {
      const response = await fetch(`${app.url}/jobs/${kind}`, { method: 'POST' });
      expect(response.status).toBe(202);
      const id = TASK_LOCATION.exec(response.headers.get('location') ?? '')?.[1] ?? '';
      expect(id).not.toBe('');
      let body: Record<string, unknown> = {};
      await eventually(async () => {
        const status = await fetch(`${app.url}/tasks/${id}`, { headers });
        body = (await status.json()) as Record<string, unknown>;
        return body.state === 'succeeded' || body.state === 'dead';
      }, `task ${kind} to finish`);
      return { id, body };
    };

    it('answers a request authorize refuses with the 404 of an unknown id', async () => {
      const asked: string[] = [];
      const app = await start(
        {
          authorize: (request, status) => {
            asked.push(status.id);
            return request.headers['x-owner'] === 'ada';
          },
        },
        cleanup,
      );
      const { id, body } = await submitAndFinish(app, 'ok', { 'x-owner': 'ada' });
      expect(body).toMatchObject({ id, state: 'succeeded', result: 'done' });

      const refused = await fetch(`${app.url}/tasks/${id}`, { headers: { 'x-owner': 'bob' } });
      const unknown = await fetch(`${app.url}/tasks/0190f5b4-0000-7000-8000-000000000000`, {
        headers: { 'x-owner': 'ada' },
      });
      expect(refused.status).toBe(404);
      expect(unknown.status).toBe(404);
      expect(await refused.json()).toEqual(await unknown.json());
      expect(asked).toContain(id);
    });

    it('shows a failed task’s code and class name, not its message, unless the error is marked public', async () => {
      const app = await start({}, cleanup);
      const secret = await submitAndFinish(app, 'secret');
      expect(secret.body).toMatchObject({ state: 'dead' });
      expect(secret.body.error).toEqual({ code: '23505', name: 'DatabaseError' });
      expect(JSON.stringify(secret.body)).not.toMatch(
        /postgres:|10\.0\.0\.12|users_email_key|stack|contract\.failWithSecret/,
      );
      expect(secret.body).not.toHaveProperty('name');
      expect(secret.body).not.toHaveProperty('queue');

      const shown = await submitAndFinish(app, 'public');
      expect(shown.body.error).toEqual({ code: 'CSV_FORMAT', name: 'CsvFormatError', message: PUBLIC_MESSAGE });
      console.log(`[${adapter}] public status of the leaky failure: ${JSON.stringify(secret.body.error)}`);
    });

    it('shows every message when the app opts in with exposeErrors', async () => {
      const app = await start({ exposeErrors: true }, cleanup);
      const { body } = await submitAndFinish(app, 'secret');
      expect(body.error).toEqual({ code: '23505', name: 'DatabaseError', message: expect.stringContaining(SECRET) });
    });
  });
}
