import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestDatabase } from './db.js';
import type { AmqpTestBroker } from '../../../../test-support/taskq-amqp.js';
import { RABBIT_URL } from '../../../../test-support/rabbit.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../fixtures/commit-and-crash.ts', import.meta.url));
const RELAY = fileURLToPath(new URL('../fixtures/relay-sweep.ts', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('../tsconfig.json', import.meta.url));

export interface CrashedChild {
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  readonly stderr: string;
  /** Task ids the child handed out before its commit. */
  readonly ids: string[];
  /** True if the child went on past the commit (the fail-point did not fire). */
  readonly survived: boolean;
}

/**
 * Runs fixtures/commit-and-crash.ts (TypeScript through tsx) in a child
 * process: it commits one transaction that submitted `parcels` tasks, with
 * the fail-point armed unless `failpoint` is false.
 */
export function commitAndCrash(
  db: TestDatabase,
  broker: AmqpTestBroker,
  queue: string,
  parcels: number,
  failpoint = true,
): Promise<CrashedChild> {
  const outFile = join(tmpdir(), `taskq-crash-${randomUUID()}.txt`);
  const env: Record<string, string> = {
    ...db.env,
    RABBIT_URL,
    RABBIT_PREFIX: broker.prefix,
    QUEUE: queue,
    OUT_FILE: outFile,
    PARCELS: String(parcels),
    TSX_TSCONFIG_PATH: TSCONFIG,
  };
  if (failpoint) env.TASKQ_FAILPOINT = 'after-commit-before-publish';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const lines = existsSync(outFile) ? readFileSync(outFile, 'utf8').split('\n').filter(Boolean) : [];
      rmSync(outFile, { force: true });
      resolve({
        code,
        signal,
        stderr,
        ids: lines.filter((l) => l !== 'survived'),
        survived: lines.includes('survived'),
      });
    });
  });
}

/**
 * A relay running in a child process (fixtures/relay-sweep.ts): `go()` starts its sweep, `done` resolves with how many
 * it published.
 */
export interface RelayChild {
  readonly ready: Promise<void>;
  go(): void;
  readonly done: Promise<number>;
}

export function relayInChild(db: TestDatabase, broker: AmqpTestBroker, queue: string, batchSize: number): RelayChild {
  const id = randomUUID();
  const outFile = join(tmpdir(), `taskq-relay-${id}.txt`);
  const goFile = join(tmpdir(), `taskq-relay-${id}.go`);
  const env = {
    ...db.env,
    RABBIT_URL,
    RABBIT_PREFIX: broker.prefix,
    QUEUE: queue,
    OUT_FILE: outFile,
    GO_FILE: goFile,
    BATCH_SIZE: String(batchSize),
    TSX_TSCONFIG_PATH: TSCONFIG,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', RELAY], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const read = (): string => (existsSync(outFile) ? readFileSync(outFile, 'utf8') : '');
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  const ready = (async () => {
    while (!read().includes('ready')) {
      if (child.exitCode !== null) throw new Error(`the relay child exited early: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  const done = exited.then((code) => {
    const match = /published (\d+)/.exec(read());
    rmSync(outFile, { force: true });
    rmSync(goFile, { force: true });
    if (code !== 0 || !match) throw new Error(`the relay child failed (exit ${code}): ${stderr}`);
    return Number(match[1]);
  });
  return { ready, go: () => writeFileSync(goFile, 'go'), done };
}
