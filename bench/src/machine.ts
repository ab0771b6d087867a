/** The machine a run happened on, printed above the table and stored in the JSON. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import os from 'node:os';
import { withTimeout } from './clock.js';
import { REDIS_HOST, REDIS_PORT } from './config.js';
import { rabbitmqVersion } from './scenarios/raw-amqplib.js';

export interface Machine {
  readonly cpu: string;
  readonly cpus: number;
  readonly memoryGb: number;
  readonly node: string;
  readonly platform: string;
  readonly rabbitmq: string;
  readonly redis: string;
  /** The Redis client BullMQ ran on (always ioredis). */
  readonly bullmqClient: string;
  readonly commit: string;
  readonly date: string;
}

/**
 * Redis's version from INFO server, over a bare socket: one RESP command needs
 * no client library, and the parent process then loads no Redis client at all.
 */
function redisVersion(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: REDIS_HOST, port: REDIS_PORT });
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      const match = /redis_version:([^\r\n]+)/.exec(reply);
      if (match) {
        socket.destroy();
        resolve(`Redis ${match[1]}`);
      }
    });
    socket.on('error', reject);
  });
}

/** `ioredis <version>`, read from its package.json next to its entry point (it exports no ./package.json). */
function ioredisVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve('ioredis');
    const root = entry.slice(0, entry.lastIndexOf('/node_modules/ioredis/') + '/node_modules/ioredis/'.length);
    const manifest = `${root}package.json`;
    return `ioredis ${(JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version}`;
  } catch {
    return 'ioredis';
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', timeout: 5_000 }).trim();
  } catch {
    return 'unknown';
  }
}

async function orUnavailable(what: Promise<string>): Promise<string> {
  try {
    return await withTimeout(what, 10_000, 'version');
  } catch (error) {
    return `unavailable (${error instanceof Error ? error.message : String(error)})`;
  }
}

export async function describeMachine(): Promise<Machine> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    rabbitmq: await orUnavailable(rabbitmqVersion()),
    redis: await orUnavailable(redisVersion()),
    bullmqClient: ioredisVersion(),
    commit: gitCommit(),
    date: new Date().toISOString(),
  };
}
