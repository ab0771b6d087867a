// Submits writeMarker through an Express route (the adapter's per-request unit of work), then exits.
import type { AddressInfo } from 'node:net';
import { amqp, createQueue } from '@taskq/core';
import { accepted, taskq, taskqErrors } from '@taskq/express';
import express from 'express';
import { registry, writeMarker } from './tasks.js';

async function main(): Promise<void> {
  const [markerPath, text] = process.argv.slice(2);
  if (markerPath === undefined || text === undefined) throw new Error('usage: submit <marker path> <text>');
  const queue = createQueue({
    registry,
    transport: amqp({ url: process.env.TASKQ_URL ?? 'amqp://127.0.0.1:5672', prefix: process.env.TASKQ_PREFIX }),
    defaults: { queue: process.env.CONSUMER_QUEUE ?? 'default' },
  });
  const app = express();
  app.use(taskq({ queue }));
  app.post('/markers', async (req, res) => accepted(res, await req.taskQueue.submit(writeMarker, markerPath, text)));
  app.use(taskqErrors());
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/markers`, { method: 'POST' });
    if (response.status !== 202) throw new Error(`POST /markers answered ${response.status}: ${await response.text()}`);
    console.log(`submitted ${((await response.json()) as { task: string }).task}`);
  } finally {
    server.close();
    await queue.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
