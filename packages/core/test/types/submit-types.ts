// Compiled by submit-types.test.ts: each @ts-expect-error line must be a type error.
import { createQueue, memory, TaskRegistry, type TaskHandle } from '../../src/index.js';

async function sendWelcomeMail(userId: number, locale: string, options?: { bcc: boolean }): Promise<string> {
  return `${userId}${locale}${options?.bcc}`;
}

const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail);
const queue = createQueue({ registry, transport: memory() });

export async function checks(): Promise<void> {
  const handle: TaskHandle<string> = await queue.submit(sendWelcomeMail, 1, 'en');
  await queue.submit(sendWelcomeMail, 1, 'en', { bcc: true });
  await queue.with({ delay: '10s', attempts: 3 }).submit(sendWelcomeMail, 2, 'de');
  await queue.submitMany(sendWelcomeMail, [
    [1, 'en'],
    [2, 'fr', { bcc: false }],
  ]);
  // @ts-expect-error the first argument must be a number
  await queue.submit(sendWelcomeMail, '1', 'en');
  // @ts-expect-error a required argument is missing
  await queue.submit(sendWelcomeMail, 1);
  // @ts-expect-error too many arguments
  await queue.submit(sendWelcomeMail, 1, 'en', { bcc: true }, 'extra');
  // @ts-expect-error options go through with(), never into the arguments
  await queue.submit(sendWelcomeMail, 1, 'en', { delay: '10s' });
  // @ts-expect-error submitMany checks each argument list
  await queue.submitMany(sendWelcomeMail, [[1, 2]]);
  // @ts-expect-error the handle's result type follows the function
  const wrong: TaskHandle<number> = await queue.submit(sendWelcomeMail, 1, 'en');
  void handle;
  void wrong;
}
