import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const STORE = fileURLToPath(new URL('./fixtures/cli-store/store.ts', import.meta.url));
const ID = (n: number) => `01900000-0000-7000-8000-00000000000${n}`;

async function taskq(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    return { code: 0, out: stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

// The CLI as its own process, loading the application's store module (an async factory, TypeScript through tsx).
describe('taskq tasks list|show', () => {
  it('lists the store newest first as JSON and as a table, filtered, one page at a time', async () => {
    const all = await taskq(['tasks', 'list', '--store', STORE, '--json']);
    expect(all.code).toBe(0);
    const page = JSON.parse(all.out) as { items: Array<{ id: string; state: string }>; next: string | null };
    expect(page.items.map((item) => item.id)).toEqual([ID(3), ID(2), ID(1)]);
    expect(page.next).toBeNull();

    const first = await taskq(['tasks', 'list', '--queue', 'mail', '--limit', '1'], { TASKQ_STORE: STORE });
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^ID\s+TASK\s+QUEUE\s+STATE\s+ATTEMPTS\s+ENQUEUED\s+PROGRESS/);
    expect(first.out).toContain(ID(3));
    expect(first.out).not.toContain(ID(1));
    const cursor = /next page: --cursor (\S+)/.exec(first.out)?.[1];
    expect(cursor).toBeDefined();
    const second = await taskq(['tasks', 'list', '--queue', 'mail', '--limit', '1', '--cursor', String(cursor)], {
      TASKQ_STORE: STORE,
    });
    expect(second.out).toContain(ID(1));
    expect(second.out).toContain('1 task(s), last page');

    const active = await taskq(['tasks', 'list', '--store', STORE, '--state', 'active', '--json']);
    expect((JSON.parse(active.out) as { items: Array<{ id: string }> }).items.map((item) => item.id)).toEqual([ID(2)]);
    console.log(`[taskq tasks list]\n${first.out}`);
  });

  it('shows one task with its state, progress and worker; an unknown id exits 1', async () => {
    const shown = await taskq(['tasks', 'show', ID(2), '--store', STORE]);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/^state\s+active$/m);
    expect(shown.out).toMatch(/^progress\s+40%$/m);
    expect(shown.out).toMatch(/^worker\s+worker-a$/m);
    expect(shown.out).toMatch(/^deliveries\s+1$/m);
    const unknown = await taskq(['tasks', 'show', ID(9), '--store', STORE]);
    expect(unknown.code).toBe(1);
    expect(unknown.out).toContain(`no task ${ID(9)}`);
    console.log(`[taskq tasks show]\n${shown.out}`);
  });

  it('names the option it refuses: no store, a bad state, a bad limit', async () => {
    const noStore = await taskq(['tasks', 'list'], { TASKQ_STORE: '' });
    expect(noStore.code).toBe(1);
    expect(noStore.out).toContain('--store');
    const badState = await taskq(['tasks', 'list', '--store', STORE, '--state', 'sleeping']);
    expect(badState.out).toContain('--state');
    const badLimit = await taskq(['tasks', 'list', '--store', STORE, '--limit', '5000']);
    expect(badLimit.out).toContain('--limit');
  });
});
