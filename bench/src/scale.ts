/**
 * Where the scale rows run: on the shared broker (classic and quorum queues),
 * or, with --cluster, on a throw-away three-node cluster started for them and
 * torn down afterwards (quorum queues, worker i connected to node i mod 3 first).
 */
import { BenchCluster } from './cluster.js';
import { AMQP_URL, CLUSTER_SIZE, QUORUM_PREFIX } from './config.js';
import type { MeasureContext } from './measure.js';
import {
  measureScale,
  oneNodeTarget,
  type ScaleKind,
  type ScaleResult,
  type ScaleTarget,
  scalePoints,
} from './measure-scale.js';
import { openTaskqAdmin } from './scenarios/taskq-amqp.js';
import type { Admin } from './scenarios/types.js';
import { brokerPids } from './server-cpu.js';

export async function runScale(
  kinds: readonly ScaleKind[],
  cluster: boolean,
  context: MeasureContext,
  runs: number,
): Promise<ScaleResult[]> {
  if (!cluster) {
    const target = oneNodeTarget(AMQP_URL, (queueType) =>
      context.admins.get(queueType === 'quorum' ? 'taskq-quorum' : 'taskq-amqp'),
    );
    return measureScale(scalePoints(kinds, target, context.scale), target, runs, context);
  }
  context.log(`scale: starting a throw-away ${CLUSTER_SIZE}-node RabbitMQ cluster`);
  const nodes = await BenchCluster.start(CLUSTER_SIZE, context.log);
  let admin: Promise<Admin> | undefined;
  try {
    const pids = brokerPids(nodes.ports);
    const target: ScaleTarget = {
      name: 'cluster',
      urlsFor: (worker) => nodes.urlsFrom(worker),
      brokerPids: () => pids,
      admin: () => {
        admin ??= openTaskqAdmin(QUORUM_PREFIX, nodes.urls[0]);
        return admin;
      },
      queueTypes: ['quorum'],
    };
    return await measureScale(scalePoints(kinds, target, context.scale), target, runs, context);
  } finally {
    await (await admin?.catch(() => undefined))?.close().catch(() => undefined);
    await nodes.destroy();
    context.log('scale: cluster stopped and deleted');
  }
}
