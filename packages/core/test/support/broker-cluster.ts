import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerNode } from './broker-node.js';

/** Options of {@link BrokerCluster.start}. */
export interface BrokerClusterOptions {
  /** Nodes in the cluster. @defaultValue `3` */
  readonly size?: number;
  /** Extra rabbitmq.conf lines for every node. */
  readonly config?: readonly string[];
  /** advanced.config of every node. */
  readonly advancedConfig?: string;
}

/**
 * A throw-away RabbitMQ cluster for fault tests: {@link BrokerNode}s sharing
 * one Erlang cookie and one temp folder, joined to the first node
 * (`stop_app; join_cluster; start_app`). `pause_minority`: a node that can
 * see fewer than half of its peers stops serving clients until it can see a
 * majority again, which is what a production cluster of three runs with. The
 * shared broker on 5672 is never touched. Starting one costs some seconds:
 * a test file starts one in `beforeAll` and shares it.
 */
export class BrokerCluster {
  readonly nodes: readonly BrokerNode[];
  readonly cookie: string;
  readonly dir: string;
  readonly #onExit = (): void => {
    rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(nodes: readonly BrokerNode[], cookie: string, dir: string) {
    this.nodes = nodes;
    this.cookie = cookie;
    this.dir = dir;
    // Each node kills itself on exit (BrokerNode registers that); the folder of all of them goes after.
    process.once('exit', this.#onExit);
  }

  static async start(options: BrokerClusterOptions = {}): Promise<BrokerCluster> {
    const size = options.size ?? 3;
    const dir = mkdtempSync(join(tmpdir(), 'taskq-cluster-'));
    const cookie = randomBytes(16).toString('hex').toUpperCase();
    const tag = randomBytes(3).toString('hex');
    const config = ['cluster_partition_handling = pause_minority', ...(options.config ?? [])];
    const started = await Promise.allSettled(
      Array.from({ length: size }, (_, i) =>
        BrokerNode.start({
          name: `taskq-c${tag}-${i + 1}@localhost`,
          cookie,
          baseDir: dir,
          config,
          advancedConfig: options.advancedConfig,
        }),
      ),
    );
    const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const cluster = new BrokerCluster(nodes, cookie, dir);
    try {
      const failed = started.find((result) => result.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      const [first, ...rest] = nodes;
      for (const node of rest) {
        await node.ctl(['stop_app']);
        await node.ctl(['join_cluster', first.name]);
        await node.ctl(['start_app']);
        await node.ctl(['await_startup', '--timeout', '60']);
      }
      await cluster.awaitMembers(size);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  /** AMQP URLs of the nodes, starting at node `first` (a client's failover list). */
  urls(first = 0): string[] {
    return this.nodes.map((_, i) => this.nodes[(first + i) % this.nodes.length].url);
  }

  /** Waits until `count` nodes run the broker, as seen from a node that runs it. */
  async awaitMembers(count = this.nodes.length, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      for (const node of this.nodes.filter((n) => n.running)) {
        try {
          const running = await this.runningNodes(node);
          last = running.join(', ');
          if (running.length >= count) return;
          break;
        } catch (error) {
          last = (error as Error).message;
        }
      }
      if (Date.now() > deadline) throw new Error(`the cluster did not get ${count} running nodes: ${last}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  /** Nodes that run the broker (app started), as `node` sees them. */
  async runningNodes(node: BrokerNode): Promise<string[]> {
    const out = await node.ctl(['eval', 'rabbit_nodes:all_running().']);
    return [...out.matchAll(/'([^']+)'/g)].map((match) => match[1]);
  }

  /** Kills every node and deletes the folder. */
  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.destroy()));
    rmSync(this.dir, { recursive: true, force: true });
    process.removeListener('exit', this.#onExit);
  }
}
