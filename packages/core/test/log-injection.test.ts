import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleLogger, createWorker, type DeadEvent, memory, TaskRegistry } from '../src/index.js';
import { waitFor } from '../../../test-support/wait.js';

/** The characters a log line must never carry raw: C0 controls, DEL, C1 controls, the line and paragraph separators. */
function controlCharacters(line: string): number[] {
  return [...line]
    .map((ch) => ch.charCodeAt(0))
    .filter((c) => c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029);
}

function captureStderr(): string[] {
  const lines: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  return lines;
}

describe('console logger: text from the wire cannot forge lines or drive the terminal', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('escapes control characters in the message and in every field value and key, whatever its type', () => {
    const lines = captureStderr();
    const logger = consoleLogger('debug');
    const forged = 'abc\n[taskq] error forged: the database was dropped';
    logger.warn('task dead-lettered\r\n[taskq] info all good', {
      id: forged,
      task: '\u001b[2J\u001b[31mred\u0007',
      queue: 'q\u2028next\u2029para',
      error: new Error('boom\u0085nel\u009bcsi'),
      meta: { trace: 'x\u007fy', list: ['\u0000'] },
      'k\ney': 'value',
      count: 3,
    });
    logger.error('plain text stays as it is', { id: 'c0ffee', task: 'mail.send' });
    logger.debug('\u001b]0;title\u0007');
    console.log(`[log injection] lines written=${lines.length}: ${JSON.stringify(lines)}`);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(controlCharacters(line)).toEqual([]);
    expect(lines[0]).toBe(
      '[taskq] warn task dead-lettered\\u000d\\u000a[taskq] info all good ' +
        'id=abc\\u000a[taskq] error forged: the database was dropped task=\\u001b[2J\\u001b[31mred\\u0007 queue=q\\u2028next\\u2029para ' +
        'error=boom\\u0085nel\\u009bcsi meta={"trace":"x\\u007fy","list":["\\u0000"]} k\\u000aey=value count=3',
    );
    expect(lines[1]).toBe('[taskq] error plain text stays as it is id=c0ffee task=mail.send');
    expect(lines[2]).toBe('[taskq] debug \\u001b]0;title\\u0007');
  });

  it('a value that JSON cannot write (a bigint, a cycle) is logged, not thrown', () => {
    const lines = captureStderr();
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle.self = cycle;
    consoleLogger().warn('odd fields', { big: 10n, cycle });
    expect(lines).toEqual(['[taskq] warn odd fields big=10 cycle=[object Object]']);
  });

  it('a worker logging a hostile message id and task name writes one escaped line', async () => {
    const lines = captureStderr();
    const transport = memory();
    const queue = `log-${randomUUID().slice(0, 6)}`;
    const worker = createWorker({ registry: new TaskRegistry(), transport, queues: [queue] });
    const dead: DeadEvent[] = [];
    worker.on('dead', (event) => dead.push(event));
    await worker.start();
    try {
      const task = 'x\n[taskq] error admin password reset\u001b[2K';
      const body = Buffer.from(JSON.stringify({ v: 1, id: randomUUID(), task, args: [], meta: {}, ts: Date.now() }));
      await transport.publish({ id: 'id\r\n[taskq] warn forged', queue, body, headers: {} });
      await waitFor(() => dead.length === 1, 'the unknown task dead-lettered');
    } finally {
      await worker.stop();
    }
    const logged = lines.filter((line) => line.includes('dead-lettered'));
    console.log(`[log injection] worker lines=${JSON.stringify(logged)}`);
    expect(logged).toHaveLength(1);
    expect(controlCharacters(logged[0])).toEqual([]);
    expect(logged[0]).toContain(
      'id=id\\u000d\\u000a[taskq] warn forged task=x\\u000a[taskq] error admin password reset\\u001b[2K',
    );
  });
});
