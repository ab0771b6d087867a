import { fileURLToPath } from 'node:url';
import { describeRegisterUserStory } from '../../../test-support/examples/register-user-story.js';

// With services, the welcome mail's pid is the worker's: MailTasks and its Mailer came from the worker's container.
describeRegisterUserStory({
  name: 'nest',
  dir: fileURLToPath(new URL('..', import.meta.url)),
  // `npm run worker`: the worker application context, node dist/worker.js
  workerArgs: ['dist/worker.js'],
  workerStarted: /\[worker\] started/,
});
