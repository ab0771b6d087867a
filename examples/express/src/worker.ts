// The worker entry for RabbitMQ + PostgreSQL: `npm run worker` (taskq worker dist/worker.js). With no TASKQ_URL the
// example runs its worker inside the web process instead (see start.ts). The worker has no web framework: it is
// the story's own.
export { createExampleWorker as default } from '@taskq/example-story';
