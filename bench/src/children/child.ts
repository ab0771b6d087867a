/**
 * What every child process shares: reading its config, talking to the
 * parent, memory samples, and dying with the parent. A child never outlives
 * its parent: if the IPC channel closes, it exits.
 */
import type { ChildConfig, ChildMessage, MemorySample, ParentMessage } from '../ipc.js';

/** `global.gc` exists only under --expose-gc. */
const gc = (globalThis as { gc?: () => void }).gc;

export function readConfig<T extends ChildConfig>(role: T['role']): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('child started without a config argument');
  const config = JSON.parse(raw) as ChildConfig;
  if (config.role !== role) throw new Error(`expected a ${role} config, got ${config.role}`);
  return config as T;
}

export function send(message: ChildMessage): void {
  process.send?.(message);
}

export function memorySample(): MemorySample {
  if (gc) {
    // Twice: the first pass can leave garbage that only becomes collectable after it.
    gc();
    gc();
  }
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rss, heapUsed, external, afterGc: gc !== undefined };
}

/** This process's CPU time so far (user + system), in microseconds. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Resolves when the parent sends a message of this type. */
export function fromParent(type: ParentMessage['type']): Promise<void> {
  return new Promise((resolve) => {
    const listener = (message: ParentMessage): void => {
      if (message.type === type) {
        process.off('message', listener);
        resolve();
      }
    };
    process.on('message', listener);
  });
}

/**
 * Runs the child's body: reports any failure to the parent and exits non-zero,
 * and exits if the parent goes away, so no child is ever left running.
 */
export function runChild(body: () => Promise<void>): void {
  process.on('disconnect', () => process.exit(3));
  const fail = (error: unknown): void => {
    send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    // Give the IPC message a moment to leave before the process ends.
    setTimeout(() => process.exit(1), 100);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  body().then(
    // exit explicitly: a library may keep a timer or socket alive after close().
    () => setTimeout(() => process.exit(0), 50),
    fail,
  );
}

/** Reports `count()` to the parent every `everyMs` while it changes; returns a stop function. */
export function reportProgress(count: () => number, everyMs: number): () => void {
  let last = -1;
  const timer = setInterval(() => {
    const current = count();
    if (current !== last) {
      last = current;
      send({ type: 'progress', count: current });
    }
  }, everyMs);
  return () => clearInterval(timer);
}
