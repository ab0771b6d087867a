import { describe, expect, it } from 'vitest';
import { createQueue, memory, TaskRegistry } from '../src/index.js';
import * as mailA from './fixtures/mail-a.js';
import * as mailB from './fixtures/mail-b.js';

describe('TaskRegistry', () => {
  it('registers every exported function of a module as namespace.exportName, two same-named functions as two tasks', () => {
    const registry = new TaskRegistry().module('a', mailA).module('b', mailB);
    expect(registry.ids()).toEqual(['a.sendMail', 'b.sendMail']);
    expect(registry.lookup(mailA.sendMail)?.id).toBe('a.sendMail');
    expect(registry.lookup(mailB.sendMail)?.id).toBe('b.sendMail');
    expect(registry.get('b.sendMail')?.fn).toBe(mailB.sendMail);
  });

  it('ignores classes and non-function exports', () => {
    class Mailer {}
    const registry = new TaskRegistry().module('m', { Mailer, version: 3, send: async () => 1 });
    expect(registry.ids()).toEqual(['m.send']);
  });

  it('refuses a duplicate id, naming both functions', () => {
    const registry = new TaskRegistry().add('mail.send', mailA.sendMail);
    expect(() => registry.add('mail.send', mailB.sendMail)).toThrowError(
      /task id "mail\.send" is already registered for function sendMail; cannot register function sendMail/,
    );
    try {
      registry.add('mail.send', mailB.sendMail);
    } catch (error) {
      expect((error as { code: string }).code).toBe('TASKQ_DUPLICATE_TASK');
    }
  });

  it('refuses one function under two ids, naming both ids', () => {
    const registry = new TaskRegistry().add('a.send', mailA.sendMail);
    expect(() => registry.add('b.send', mailA.sendMail)).toThrowError(
      /already registered as "a\.send"; registering it again as "b\.send"/,
    );
  });

  it('accepts registering the same function under the same id twice (idempotent module loading)', () => {
    const registry = new TaskRegistry().add('a.send', mailA.sendMail).add('a.send', mailA.sendMail);
    expect(registry.size).toBe(1);
  });

  it('validates ids and options at registration, naming them', () => {
    expect(() => new TaskRegistry().add('has space', mailA.sendMail)).toThrowError(/TASKQ_INVALID_OPTION|task ids are/);
    expect(() => new TaskRegistry().add('ok', mailA.sendMail, { attempts: 0 })).toThrowError(/tasks\["ok"\]\.attempts/);
  });

  it('an unregistered function fails at submit, naming it and saying how to register it', async () => {
    async function forgotten(n: number) {
      return n;
    }
    const queue = createQueue({ registry: new TaskRegistry(), transport: memory() });
    await expect(queue.submit(forgotten, 1)).rejects.toMatchObject({
      code: 'TASKQ_UNREGISTERED_TASK',
      message: expect.stringMatching(
        /function forgotten is not a registered task.*registry\.module\('namespace', moduleObject\) or registry\.add/,
      ),
    });
    await queue.close();
  });
});

describe('transparency', () => {
  it('a registered task called directly behaves exactly as before (same return value, no this needed)', async () => {
    mailA.sent.length = 0;
    const before = await mailA.sendMail('x@example.com');
    new TaskRegistry().module('a', mailA);
    const { sendMail } = mailA;
    const after = await sendMail('x@example.com');
    expect(after).toBe(before);
    expect(mailA.sent).toEqual(['a:x@example.com', 'a:x@example.com']);
    expect(Object.keys(mailA.sendMail)).toEqual([]);
  });
});
