import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Test } from '@nestjs/testing';
import type { TaskQueue } from '@taskq/core';
import { getQueueToken, TaskqModule } from '@taskq/nest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailModule, MailTasks } from './fixtures/mail.js';
import { RABBIT_URL, TestBroker } from './support/broker.js';
import { compileFixtures } from './support/fixtures.js';
import { eventually } from '../../../test-support/wait.js';

const CLI = fileURLToPath(new URL('../../core/dist/cli/main.js', import.meta.url));

let fixtures: ReturnType<typeof compileFixtures>;
beforeAll(() => {
  fixtures = compileFixtures();
});
afterAll(() => fixtures.remove());

function lines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('npx taskq worker with a Nest worker module (taskqCliWorker)', () => {
  it('applies --concurrency, runs @Task() methods, and drains on SIGTERM before closing the application context', async () => {
    const broker = new TestBroker();
    const outFile = join(fixtures.dir, 'cli-out.txt');
    const child = spawn(process.execPath, [CLI, 'worker', join(fixtures.dir, 'worker-cli.js'), '--concurrency', '2'], {
      env: {
        ...process.env,
        TASKQ_URL: RABBIT_URL,
        TASKQ_PREFIX: broker.prefix,
        OUT_FILE: outFile,
        MAIL_FROM: 'cli@example.com',
        SLOW_MS: '500',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const app = await (
      await Test.createTestingModule({
        imports: [TaskqModule.forRoot({ transport: broker.transport() }), MailModule],
      }).compile()
    ).init();
    try {
      await eventually(
        () => output.includes('worker started') || child.exitCode !== null,
        'the CLI worker to start',
        30_000,
      );
      expect(output).toMatch(/worker started.*concurrency=2/);
      const queue = app.get<TaskQueue>(getQueueToken());
      const mail = app.get(MailTasks);
      for (let n = 1; n <= 4; n++) await queue.submit(mail.slowDigest, n);
      // Concurrency 2: two start, the other two wait in the broker until a slot frees.
      await eventually(() => lines(outFile).filter((l) => l.startsWith('start')).length === 2, 'two tasks in flight');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const out = lines(outFile);
      console.log(
        `CLI SIGTERM: started ${out.filter((l) => l.startsWith('start')).length}, finished ${out.filter((l) => l.startsWith('done')).length}, left in the queue ${await broker.depth('default')}`,
      );
      expect(out.filter((l) => l.startsWith('done'))).toHaveLength(out.filter((l) => l.startsWith('start')).length);
      // The CLI drained the worker first, then the application context closed.
      expect(out.at(-1)).toBe('context closed');
      expect(await broker.depth('default')).toBe(4 - out.filter((l) => l.startsWith('done')).length);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await app.close();
      await broker.cleanup();
    }
  });
});
