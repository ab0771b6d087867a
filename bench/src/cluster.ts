/**
 * A throw-away RabbitMQ cluster on this machine for `--only scale --cluster`:
 * three nodes with their own names, AMQP and distribution ports, data and logs
 * under one temp folder, and one Erlang cookie in that folder (their HOME).
 * Nodes 2 and 3 join node 1 (`stop_app`, `join_cluster`, `start_app`). The
 * shared broker on 5672 is never touched; `destroy()` kills the nodes and
 * deletes the folder, and so does the bench's exit.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from './clock.js';

const run = promisify(execFile);
const RABBITMQ_BIN = process.env.BENCH_RABBITMQ_BIN ?? '/usr/lib/rabbitmq/bin';
const START_MS = 120_000;

interface Node {
  readonly name: string;
  readonly port: number;
  readonly distPort: number;
  readonly dir: string;
  process?: ChildProcess;
}

/** A TCP port in [from, to] that nothing listens on right now. */
async function freePort(from: number, to: number, taken: ReadonlySet<number>): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}

export class BenchCluster {
  readonly #home: string;
  readonly #nodes: Node[];
  readonly #onExit = (): void => {
    this.#killAll();
    rmSync(this.#home, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  };

  private constructor(home: string, nodes: Node[]) {
    this.#home = home;
    this.#nodes = nodes;
  }

  /** Starts `size` nodes and clusters them; resolves once all run as one cluster. */
  static async start(size = 3, log: (line: string) => void = () => {}): Promise<BenchCluster> {
    const home = mkdtempSync(join(tmpdir(), 'taskq-bench-cluster-'));
    // Every node and every rabbitmqctl call reads the cookie from HOME: one cookie, one cluster.
    const cookie = join(home, '.erlang.cookie');
    writeFileSync(cookie, randomBytes(20).toString('hex'));
    chmodSync(cookie, 0o400);
    const id = randomBytes(3).toString('hex');
    const taken = new Set<number>();
    const nodes: Node[] = [];
    for (let i = 1; i <= size; i++) {
      const port = await freePort(30_000, 39_999, taken);
      taken.add(port);
      const distPort = await freePort(40_000, 49_999, taken);
      taken.add(distPort);
      const dir = join(home, `node${i}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
      writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
      writeFileSync(
        join(dir, 'rabbitmq.conf'),
        [`listeners.tcp.1 = 127.0.0.1:${port}`, 'loopback_users = none', 'log.console = false', ''].join('\n'),
      );
      nodes.push({ name: `taskq-bench-${id}-${i}@localhost`, port, distPort, dir });
    }
    const cluster = new BenchCluster(home, nodes);
    process.once('exit', cluster.#onExit);
    try {
      await Promise.all(nodes.map((node) => cluster.#boot(node)));
      const [first, ...others] = nodes;
      if (!first) throw new Error('a cluster needs at least one node');
      for (const node of others) {
        log(`  cluster: ${node.name} joins ${first.name}`);
        await cluster.#ctl(node, ['stop_app']);
        await cluster.#ctl(node, ['join_cluster', first.name]);
        await cluster.#ctl(node, ['start_app']);
      }
      const status = await cluster.#ctl(first, ['cluster_status', '--formatter', 'json']);
      const running = (JSON.parse(status) as { running_nodes?: string[] }).running_nodes ?? [];
      if (running.length !== size) throw new Error(`cluster_status lists ${running.length} running nodes of ${size}`);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  /** One AMQP URL per node, in node order. */
  get urls(): string[] {
    return this.#nodes.map((node) => `amqp://guest:guest@127.0.0.1:${node.port}`);
  }

  get ports(): number[] {
    return this.#nodes.map((node) => node.port);
  }

  /** The URL list for worker `i`: every node, starting with node `i mod size`, so workers spread over the nodes. */
  urlsFrom(i: number): string[] {
    const urls = this.urls;
    const start = i % urls.length;
    return [...urls.slice(start), ...urls.slice(0, start)];
  }

  #env(node: Node): NodeJS.ProcessEnv {
    return {
      ...process.env,
      HOME: this.#home,
      RABBITMQ_CONF_ENV_FILE: join(node.dir, 'rabbitmq-env.conf'),
      RABBITMQ_NODENAME: node.name,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(node.port),
      RABBITMQ_DIST_PORT: String(node.distPort),
      RABBITMQ_MNESIA_BASE: join(node.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(node.dir, 'log'),
      RABBITMQ_CONFIG_FILE: join(node.dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(node.dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(node.dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: join(node.dir, 'node.pid'),
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }

  async #boot(node: Node): Promise<void> {
    // Detached: each node gets its own process group, so a kill reaches beam and its helpers and nothing else.
    const child = spawn(join(RABBITMQ_BIN, 'rabbitmq-server'), [], {
      env: this.#env(node),
      detached: true,
      stdio: 'ignore',
    });
    node.process = child;
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + START_MS;
    for (;;) {
      if (exited) throw new Error(`cluster node ${node.name} exited while starting:\n${this.#logTail(node)}`);
      try {
        await this.#ctl(node, ['await_startup', '--timeout', '10']);
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(
            `cluster node ${node.name} did not start: ${(error as Error).message}\n${this.#logTail(node)}`,
          );
        await sleep(300);
      }
    }
  }

  /** Runs rabbitmqctl against node `index` (0 = the first). */
  ctl(index: number, args: readonly string[]): Promise<string> {
    const node = this.#nodes[index];
    if (!node) return Promise.reject(new Error(`no node ${index} in a cluster of ${this.#nodes.length}`));
    return this.#ctl(node, args);
  }

  async #ctl(node: Node, args: readonly string[], timeoutMs = 60_000): Promise<string> {
    const { stdout } = await run(join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', node.name, ...args], {
      env: this.#env(node),
      timeout: timeoutMs,
    });
    return stdout;
  }

  #logTail(node: Node): string {
    try {
      return readFileSync(join(node.dir, 'log', `${node.name}.log`), 'utf8')
        .split('\n')
        .slice(-20)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }

  #killAll(): void {
    for (const node of this.#nodes) {
      const pid = node.process?.pid;
      if (pid === undefined || node.process?.exitCode !== null) continue;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Kills every node (its data is thrown away anyway) and deletes the folder. */
  async destroy(): Promise<void> {
    const exits = this.#nodes.map((node) =>
      node.process && node.process.exitCode === null && node.process.signalCode === null
        ? new Promise<void>((resolve) => node.process?.once('exit', () => resolve()))
        : Promise.resolve(),
    );
    this.#killAll();
    await Promise.race([Promise.all(exits), sleep(10_000)]);
    process.removeListener('exit', this.#onExit);
    rmSync(this.#home, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}
