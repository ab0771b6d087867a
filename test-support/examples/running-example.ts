import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PG_URL, sql } from '../postgres.js';
import { deleteQueues, RABBIT_URL } from '../rabbit.js';

/** How to run one of the examples (express, fastify, nest): its folder and its worker entry. */
export interface ExampleLayout {
  /** Short name, in temporary folders, schemas and queues: `express`. */
  readonly name: string;
  /** The example's folder, the processes' working directory. */
  readonly dir: string;
  /** Node arguments of the worker process with services, as `npm run worker` runs it. */
  readonly workerArgs: readonly string[];
  /** What the worker prints once it consumes. */
  readonly workerStarted: RegExp;
}

/** A child process of the example with its output collected. */
class Child {
  readonly process: ChildProcess;
  output = '';

  constructor(cwd: string, args: readonly string[], env: Record<string, string>) {
    this.process = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.process.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  async waitFor(pattern: RegExp, what: string, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) return match;
      if (this.process.exitCode !== null)
        throw new Error(`the example exited (code ${this.process.exitCode}) before ${what}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** SIGTERM, as a process manager would; resolves with the exit code (SIGKILL after 10 s). */
  async stop(): Promise<number | null> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return this.process.exitCode;
    const exited = once(this.process, 'exit') as Promise<[number | null]>;
    this.process.kill('SIGTERM');
    const kill = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    const [code] = await exited;
    clearTimeout(kill);
    return code;
  }
}

/** One delivered mail or push message (the examples' file transports), with the pid of the process that sent it. */
export interface Delivery {
  readonly to: string;
  readonly text: string;
  readonly pid: number;
}

/** What `npm start` (and `npm run worker` with services) runs, in one of the two modes. */
export class RunningExample {
  readonly url: string;
  readonly web: Child;
  readonly worker: Child | undefined;
  readonly #dir: string;
  readonly #services: { schema: string; queue: string } | undefined;

  private constructor(
    url: string,
    dir: string,
    web: Child,
    worker: Child | undefined,
    services: { schema: string; queue: string } | undefined,
  ) {
    this.url = url;
    this.#dir = dir;
    this.web = web;
    this.worker = worker;
    this.#services = services;
  }

  static async start(example: ExampleLayout, mode: 'embedded' | 'services'): Promise<RunningExample> {
    const dir = mkdtempSync(join(tmpdir(), `taskq-example-${example.name}-`));
    const env: Record<string, string> = {
      PORT: '0',
      MAIL_FILE: join(dir, 'mail.jsonl'),
      PUSH_FILE: join(dir, 'push.jsonl'),
      TASKQ_URL: '',
      DATABASE_URL: '',
    };
    let services: { schema: string; queue: string } | undefined;
    if (mode === 'services') {
      const id = randomUUID().replace(/-/g, '').slice(0, 8);
      services = { schema: `taskq_example_${example.name}_${id}`, queue: `example-${example.name}-${id}` };
      await sql(`CREATE SCHEMA "${services.schema}"`);
      Object.assign(env, {
        TASKQ_URL: RABBIT_URL,
        DATABASE_URL: PG_URL,
        DATABASE_SCHEMA: services.schema,
        TASKQ_QUEUE: services.queue,
      });
    }
    const web = new Child(example.dir, ['dist/start.js'], env);
    const [, url] = await web.waitFor(/listening on (http:\/\/\S+)/, 'the web app to listen');
    // The worker's own process, exactly as `npm run worker` starts it; the web process created the tables first.
    const worker = mode === 'services' ? new Child(example.dir, example.workerArgs, env) : undefined;
    await worker?.waitFor(example.workerStarted, 'the worker to start');
    return new RunningExample(url, dir, web, worker, services);
  }

  /** Mails or push messages delivered so far. */
  deliveries(kind: 'mail' | 'push'): Delivery[] {
    const file = join(this.#dir, `${kind}.jsonl`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Delivery);
  }

  get output(): string {
    return `--- web ---\n${this.web.output}${this.worker ? `--- worker ---\n${this.worker.output}` : ''}`;
  }

  /** Stops both processes with SIGTERM and cleans up; resolves with their exit codes. */
  async stop(): Promise<Array<number | null>> {
    const codes = [await this.web.stop(), ...(this.worker ? [await this.worker.stop()] : [])];
    rmSync(this.#dir, { recursive: true, force: true });
    if (this.#services) {
      await sql(`DROP SCHEMA IF EXISTS "${this.#services.schema}" CASCADE`);
      await deleteQueues([this.#services.queue]);
    }
    return codes;
  }
}
