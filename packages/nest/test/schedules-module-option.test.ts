import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { currentTask, memory, schedule, TaskRegistry, tickId } from '@taskq/core';
import { TaskqModule } from '@taskq/nest';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../test-support/wait.js';

const runs: string[] = [];
export async function heartbeat(label: string) {
  runs.push(`${label} ${currentTask().id}`);
}
const registry = new TaskRegistry().add('nest.heartbeat', heartbeat);
const everySecond = schedule('nest-every-second', { every: '1s' }, heartbeat, 'beat');

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const app of opened.splice(0)) await app.close();
  runs.length = 0;
});

describe('TaskqModule.forRoot({ scheduler })', () => {
  it('two application contexts with the same schedules: each tick runs once; when the leading one closes the other takes over', async () => {
    const transport = memory();
    const contexts = [];
    for (let i = 0; i < 2; i++) {
      @Module({
        imports: [TaskqModule.forRoot({ transport, registry, worker: {}, scheduler: { schedules: [everySecond] } })],
      })
      class AppModule {}
      const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
      const app = await moduleRef.init();
      opened.push(app);
      contexts.push(app);
    }
    await eventually(() => runs.length >= 2, 'two ticks run');
    // The first context joined first and leads; closing it hands the ticks to the second.
    await contexts[0].close();
    opened.splice(opened.indexOf(contexts[0]), 1);
    const handedOver = runs.length;
    await eventually(() => runs.length >= handedOver + 2, 'two more ticks run');
    const ids = runs.map((run) => run.split(' ')[1]);
    expect(new Set(ids).size).toBe(ids.length);
    // Each id is a tick of the schedule, and consecutive seconds are all there.
    const second = (id: string) => {
      for (let t = Math.floor(Date.now() / 1000) * 1000; t > Date.now() - 60_000; t -= 1000)
        if (tickId('nest-every-second', t) === id) return t;
      return Number.NaN;
    };
    const ticks = ids.map(second).sort((a, b) => a - b);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBe(1_000);
    await transport.close();
  });

  it('refuses a scheduler option without schedules, naming the option', async () => {
    expect(() => TaskqModule.forRoot({ transport: memory(), scheduler: {} as never })).toThrow(/option "scheduler"/);
  });
});
