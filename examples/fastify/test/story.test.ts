import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeRegisterUserStory } from '../../../test-support/examples/register-user-story.js';

const require = createRequire(import.meta.url);
const CLI = join(dirname(require.resolve('@taskq/core/package.json')), 'dist/cli/main.js');

describeRegisterUserStory({
  name: 'fastify',
  dir: fileURLToPath(new URL('..', import.meta.url)),
  // `npm run worker`: taskq worker dist/worker.js
  workerArgs: [CLI, 'worker', 'dist/worker.js'],
  workerStarted: /worker started/,
});
