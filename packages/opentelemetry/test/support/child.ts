import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type SpanRecord, spansOfOutput } from './telemetry.js';

const TELEMETRY = fileURLToPath(new URL('../fixtures/telemetry.cjs', import.meta.url));

/**
 * A CommonJS fixture in a child process with fixtures/telemetry.cjs loaded first (`--require`): its spans come back as
 * JSON lines on stdout, its control messages over IPC.
 */
export class TracedChild {
  readonly #child: ChildProcess;
  #stdout = '';
  #stderr = '';
  readonly #messages: unknown[] = [];
  readonly #exited: Promise<number | null>;

  constructor(script: string, env: Record<string, string>) {
    this.#child = fork(fileURLToPath(new URL(`../fixtures/${script}`, import.meta.url)), [], {
      execArgv: ['--require', TELEMETRY],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      this.#stdout += chunk.toString();
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.#child.on('message', (message) => this.#messages.push(message));
    this.#exited = new Promise((resolve) => this.#child.on('exit', (code) => resolve(code)));
  }

  /** Resolves with the first IPC message `match` accepts; rejects if the child exits first. */
  async message<T>(match: (message: unknown) => message is T, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.#messages.find(match);
      if (found !== undefined) return found;
      if (this.#child.exitCode !== null) throw new Error(`the child exited (${this.#child.exitCode}): ${this.#stderr}`);
      if (Date.now() > deadline) throw new Error(`no such message from the child in ${timeoutMs} ms: ${this.#stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  ready(): Promise<'ready'> {
    return this.message((m): m is 'ready' => m === 'ready');
  }

  send(message: unknown): void {
    this.#child.send(message as never);
  }

  /** Spans the child ended so far. */
  spans(): SpanRecord[] {
    return spansOfOutput(this.#stdout);
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Asks the child to stop (`stop` over IPC) and waits for it; kills it if it does not exit in time. */
  async stop(timeoutMs = 10_000): Promise<number | null> {
    if (this.#child.exitCode !== null) return this.#child.exitCode;
    if (this.#child.connected) this.#child.send('stop');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
