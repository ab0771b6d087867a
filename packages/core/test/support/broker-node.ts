import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';

/** Options of {@link BrokerNode.start}. */
export interface BrokerNodeOptions {
  /** Extra rabbitmq.conf lines, e.g. `consumer_timeout = 60000`. */
  readonly config?: readonly string[];
  /** advanced.config (Erlang terms, e.g. `[{rabbit, [{key, value}]}].`), for settings rabbitmq.conf has no key for. */
  readonly advancedConfig?: string;
  /** Node name (`name@localhost`). @defaultValue a random `taskq-fault-<hex>@localhost` */
  readonly name?: string;
  /**
   * Erlang cookie, written to the node's HOME: nodes of one cluster must share it. @defaultValue one Erlang makes up
   */
  readonly cookie?: string;
  /** Folder the node's own temp folder is made in (a cluster keeps its nodes together). @defaultValue the OS temp dir */
  readonly baseDir?: string;
}

/**
 * A throw-away RabbitMQ node for fault tests: its own node name, AMQP and
 * distribution ports, data, logs and Erlang cookie under a temp folder, no
 * plugins (so no management port). It can be killed with SIGKILL and started
 * again on the same data. The shared broker on 5672 is never touched.
 */
export class BrokerNode {
  readonly name: string;
  readonly port: number;
  readonly distPort: number;
  readonly dir: string;
  #process: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  readonly #onExit = (): void => this.#killGroup();

  private constructor(name: string, port: number, distPort: number, dir: string) {
    this.name = name;
    this.port = port;
    this.distPort = distPort;
    this.dir = dir;
  }

  /** Creates the folder and config and starts the node; resolves once it accepts AMQP connections. */
  static async start(options: BrokerNodeOptions = {}): Promise<BrokerNode> {
    const dir = mkdtempSync(join(options.baseDir ?? tmpdir(), 'taskq-fault-'));
    const port = await freePort(30_000, 39_999);
    const distPort = await freePort(40_000, 49_999);
    const name = options.name ?? `taskq-fault-${randomBytes(4).toString('hex')}@localhost`;
    const node = new BrokerNode(name, port, distPort, dir);
    if (options.cookie !== undefined) {
      // Erlang refuses a cookie file others can read.
      writeFileSync(join(dir, '.erlang.cookie'), options.cookie);
      chmodSync(join(dir, '.erlang.cookie'), 0o400);
    }
    writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
    writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
    if (options.advancedConfig !== undefined) writeFileSync(join(dir, 'advanced.config'), options.advancedConfig);
    writeFileSync(
      join(dir, 'rabbitmq.conf'),
      [
        `listeners.tcp.1 = 127.0.0.1:${port}`,
        'loopback_users = none',
        'log.console = false',
        'log.file.level = info',
        ...(options.config ?? []),
        '',
      ].join('\n'),
    );
    process.once('exit', node.#onExit);
    try {
      await node.restart();
    } catch (error) {
      await node.destroy();
      throw error;
    }
    return node;
  }

  /** AMQP URL of this node (guest/guest, which this node allows from loopback only anyway). */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  #env(): NodeJS.ProcessEnv {
    const dir = this.dir;
    return {
      ...process.env,
      // The cookie lives in HOME: rabbitmqctl must use the same HOME as the node.
      HOME: dir,
      RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
      RABBITMQ_NODENAME: this.name,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: join(dir, 'node.pid'),
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }

  /** Starts the node (again, on the same data after `kill`); resolves once it has booted. */
  async restart(timeoutMs = 60_000): Promise<void> {
    if (this.#process) throw new Error(`broker node ${this.name} is already running`);
    // Detached: the node gets its own process group, so kill() reaches beam and its helpers and nothing else.
    const child = spawn(join(RABBITMQ_BIN, 'rabbitmq-server'), [], {
      env: this.#env(),
      detached: true,
      stdio: 'ignore',
    });
    this.#process = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let died = false;
    void this.#exited.then(() => {
      died = true;
      if (this.#process === child) this.#process = undefined;
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (died) throw new Error(`broker node ${this.name} exited while starting:\n${this.logTail()}`);
      try {
        await this.ctl(['await_startup', '--timeout', '10']);
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(
            `broker node ${this.name} did not start within ${timeoutMs} ms: ${(error as Error).message}\n${this.logTail()}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
  }

  /** Runs rabbitmqctl against this node. */
  async ctl(args: readonly string[], timeoutMs = 30_000): Promise<string> {
    const { stdout } = await run(join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', this.name, ...args], {
      env: this.#env(),
      timeout: timeoutMs,
    });
    return stdout;
  }

  /** `rabbitmqctl close_all_connections`: every client connection gets connection.close (320). */
  closeAllConnections(reason = 'test'): Promise<string> {
    return this.ctl(['close_all_connections', reason]);
  }

  /** `0` raises the memory alarm at once (publishers blocked); `0.4` clears it. */
  setMemoryWatermark(fraction: number): Promise<string> {
    return this.ctl(['set_vm_memory_high_watermark', String(fraction)]);
  }

  /** True while the node's process runs (it may still be booting, or paused by pause_minority). */
  get running(): boolean {
    return this.#process !== undefined;
  }

  /**
   * Clean shutdown (`rabbitmqctl stop`, as an upgrade does): connections are closed, queues hand over leadership;
   * resolves once the process is gone. {@link restart} starts it again on the same data.
   */
  async stop(timeoutMs = 60_000): Promise<void> {
    if (!this.#process) return;
    const exited = this.#exited;
    await this.ctl(['stop'], timeoutMs);
    await exited;
    this.#process = undefined;
  }

  /** SIGKILL to the node's process group (no clean shutdown); resolves once it is gone. */
  async kill(): Promise<void> {
    if (!this.#process) return;
    const exited = this.#exited;
    this.#killGroup();
    await exited;
    this.#process = undefined;
  }

  #killGroup(): void {
    const pid = this.#process?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  /** Kills the node and deletes its folder. */
  async destroy(): Promise<void> {
    await this.kill();
    process.removeListener('exit', this.#onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The last lines of the node's log, for error messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(join(this.dir, 'log', `${this.name}.log`), 'utf8')
        .split('\n')
        .slice(-lines)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/** A TCP port in [from, to] that nothing listens on right now. */
async function freePort(from: number, to: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}
