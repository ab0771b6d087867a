import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
// Both come with the workspace (amqplib with @taskq/core, pg with @taskq/typeorm); used only to create and remove the test's own queues and database.
import { connect } from 'amqplib';
import pg from 'pg';

export const RABBIT_URL = process.env.TASKQ_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const PG_URL = process.env.TASKQ_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const DIST = new URL('../dist/', import.meta.url);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A built entry point of the example, run as `node dist/<name>.js`. */
export interface RunningProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when the output matches `pattern`; fails if the process exits first or `timeoutMs` passes. */
  waitFor(pattern: RegExp, what: string, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function run(entry: string, env: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, [fileURLToPath(new URL(entry, DIST))], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    output: () => output,
    async waitFor(pattern, what, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(output);
        if (match) return match;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${entry} exited before ${what}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} from ${entry}:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A fresh PostgreSQL database for one test, dropped by `drop()`. */
export async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `taskq_nest_example_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Deletes what the example declared on the broker under `prefix`. */
export async function deleteBrokerPrefix(prefix: string, queues: readonly string[] = ['default']): Promise<void> {
  const connection = await connect(RABBIT_URL);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(`${prefix}.q.${queue}`);
    await channel.deleteQueue(`${prefix}.dead`);
    for (let level = 0; level < 28; level++) {
      await channel.deleteQueue(`${prefix}.delay.${level}`);
      await channel.deleteExchange(`${prefix}.delay.${level}`);
    }
    await channel.deleteExchange(`${prefix}.delivery`);
    await channel.close();
  } finally {
    await connection.close();
  }
}

export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
