import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One JSON line a fixture wrote on stdout. */
export type ChildEvent = { e: string } & Record<string, unknown>;

const FIXTURES = new URL('../fixtures/fault/', import.meta.url);

/**
 * A fixture from test/fixtures/fault run as its own Node process (through
 * tsx, on the sources), with its stdout parsed into events. Always killed in
 * `stop()` (tests call it in afterEach), by its own pid only.
 */
export class Child {
  /** The taskq CLI entry (sources). */
  static readonly CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
  /** The worker module fixture, for `taskq worker`. */
  static readonly WORKER_MODULE = fileURLToPath(new URL('worker-module.ts', FIXTURES));

  readonly events: ChildEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #process: ChildProcess;
  #buffer = '';

  /**
   * `fixture`: a file in test/fixtures/fault, or an absolute path; `args` go after it.
   * `onMessage` opens an IPC channel: it gets each message the child sends, and a function to answer it.
   */
  constructor(
    fixture: string,
    env: Record<string, string>,
    args: readonly string[] = [],
    onMessage?: (message: unknown, reply: (answer: unknown) => void) => void,
  ) {
    const script = fixture.startsWith('/') ? fixture : fileURLToPath(new URL(fixture, FIXTURES));
    this.#process = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { ...process.env, ...env },
      stdio: onMessage ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    if (onMessage) {
      const reply = (answer: unknown): void => {
        if (this.#process.connected) this.#process.send(answer as object);
      };
      this.#process.on('message', (message) => onMessage(message, reply));
    }
    this.#process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#buffer += chunk;
      const lines = this.#buffer.split('\n');
      this.#buffer = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.events.push(JSON.parse(line) as ChildEvent);
    });
    this.#process.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => this.#process.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  /** Events of one kind. */
  of(kind: string): ChildEvent[] {
    return this.events.filter((event) => event.e === kind);
  }

  /**
   * Waits until `condition` holds over the events; fails with the child's stderr when it exits first or time runs out.
   */
  async waitFor(condition: (child: Child) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    let exited = false;
    void this.exited.then(() => {
      exited = true;
    });
    const deadline = Date.now() + timeoutMs;
    while (!condition(this)) {
      if (exited) throw new Error(`child exited before ${what}; stderr:\n${this.stderr.join('')}`);
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${this.stderr.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#process.exitCode === null && this.#process.signalCode === null) this.#process.kill(signal);
  }

  async stop(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }
}

/** Ids seen more than once in a list of ids. */
export function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const id of ids) (seen.has(id) ? twice : seen).add(id);
  return [...twice];
}
