import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WelcomeRun } from './story.js';

const FIXTURE = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('../tsconfig.json', import.meta.url));

/** The worker in a separate process, as in production; `runs()` reads what its task reported. */
export class WorkerChild {
  readonly #child: ChildProcess;
  readonly #outFile: string;
  readonly ready: Promise<void>;
  #stderr = '';

  constructor(env: Record<string, string>, outFile: string) {
    this.#outFile = outFile;
    this.#child = fork(FIXTURE, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env, OUT_FILE: outFile, TSX_TSCONFIG_PATH: TSCONFIG },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.ready = new Promise((resolve, reject) => {
      this.#child.once('message', () => resolve());
      this.#child.once('exit', (code) =>
        reject(new Error(`the worker process exited early (code ${code}): ${this.#stderr}`)),
      );
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  runs(): WelcomeRun[] {
    if (!existsSync(this.#outFile)) return [];
    return readFileSync(this.#outFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as WelcomeRun);
  }

  /** SIGTERM (the worker drains), SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill('SIGTERM');
    const kill = setTimeout(() => this.#child.kill('SIGKILL'), 8_000);
    await exited;
    clearTimeout(kill);
  }
}
