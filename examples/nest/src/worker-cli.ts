// The same worker for the taskq CLI: `npx taskq worker dist/worker-cli.js --concurrency 16`.
// The CLI starts it, and on SIGTERM drains it and closes the application context.
import 'reflect-metadata';
import { taskqCliWorker } from '@taskq/nest';
import { WorkerModule } from './app.modules.js';
import { readConfig } from './config.js';

export default taskqCliWorker(WorkerModule.forRoot(readConfig()), { logger: ['error', 'warn'] });
