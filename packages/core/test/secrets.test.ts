import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inspect, promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { amqp, createQueue, createWorker, errorCode, type Logger, TaskRegistry } from '../src/index.js';
import { redactUrl } from '../src/internal/redact.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./fixtures/fault/secret-child.ts', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

/**
 * Everything a failing connection can say: log lines, errors (message, stack, cause, properties), events, inspected
 * objects.
 */
class Record {
  readonly texts: string[] = [];
  readonly logger: Logger = {
    debug: (message, fields) => this.add(message, fields),
    info: (message, fields) => this.add(message, fields),
    warn: (message, fields) => this.add(message, fields),
    error: (message, fields) => this.add(message, fields),
  };

  add(...values: unknown[]): void {
    for (const value of values) {
      this.texts.push(
        typeof value === 'string' ? value : inspect(value, { depth: 8, showHidden: true, getters: true }),
      );
      if (value instanceof Error)
        this.texts.push(String(value.stack), JSON.stringify(value), String((value as { cause?: unknown }).cause));
    }
  }

  expectClean(secrets: readonly string[]): void {
    const all = this.texts.join('\n');
    for (const secret of secrets) expect(all, `output contains "${secret}"`).not.toContain(secret);
  }
}

/** Connects to `url` every way a deployment would and records all that comes out. */
async function exercise(url: string): Promise<Record> {
  const record = new Record();
  async function noop() {}
  const registry = new TaskRegistry().add('secrets.noop', noop);
  const transport = amqp({
    url,
    logger: record.logger,
    connectTimeout: 1_500,
    publishTimeout: 1_500,
    reconnect: { initialDelay: 50, maxDelay: 200 },
  });
  const queue = createQueue({ registry, transport });
  const worker = createWorker({ registry, transport, logger: record.logger });
  worker.on('error', (event) => record.add(event));
  worker.on('failed', (event) => record.add(event));
  worker.on('dead', (event) => record.add(event));
  const submitError = await queue.submit(noop).catch((error: unknown) => error);
  expect(errorCode(submitError)).toBe('TASKQ_PUBLISH_TIMEOUT');
  record.add(submitError);
  const startError = await worker.start().catch((error: unknown) => error);
  expect(errorCode(startError)).toBe('TASKQ_TRANSPORT');
  record.add(startError);
  const deadError = await transport.dead.list().catch((error: unknown) => error);
  expect(errorCode(deadError)).toBe('TASKQ_TRANSPORT');
  record.add(deadError, transport, transport.displayUrls);
  await queue.close();
  await transport.close();
  // Something was said: the test looks at real output, not at silence.
  expect(record.texts.join('\n')).toMatch(/ECONNREFUSED|ACCESS.REFUSED|403/);
  return record;
}

describe('secrets: a password in the broker URL never appears in output', () => {
  it('connection refused: no log line, error, event or inspected object contains the password', async () => {
    const record = await exercise('amqp://user:s3cret@127.0.0.1:1');
    record.expectClean(['s3cret']);
    expect(record.texts.join('\n')).toContain('amqp://user:***@127.0.0.1:1');
  });

  it('wrong password on the real broker (403 ACCESS_REFUSED)', async () => {
    const record = await exercise('amqp://user:s3cret@127.0.0.1:5672');
    record.expectClean(['s3cret']);
  });

  it('percent-encoded passwords are hidden in both forms, and with several failover URLs', async () => {
    const record = await exercise('amqp://user:s3cret%2Fp%40ss@127.0.0.1:1');
    record.expectClean(['s3cret', 's3cret/p@ss', 's3cret%2Fp%40ss']);
    const failover = new Record();
    const transport = amqp({
      urls: ['amqp://a:first-s3cret@127.0.0.1:1', 'amqp://b:second-s3cret@127.0.0.1:2'],
      logger: failover.logger,
      publishTimeout: 1_000,
    });
    failover.add(
      await transport.publish({ id: 'x', queue: 'q', body: Buffer.from('{}'), headers: {} }).catch((e: unknown) => e),
      transport,
    );
    await transport.close();
    failover.expectClean(['first-s3cret', 'second-s3cret']);
    expect(failover.texts.join('\n')).toContain('127.0.0.1:2');
  });

  it('a URL that cannot be parsed is refused at once, with the password hidden (not retried forever)', () => {
    for (const url of [
      'amqp://user:s3cret@127.0.0.1:notaport',
      'amqp://user:s3cr/et#x@127.0.0.1:5672',
      'amqp://user:s3c@ret@[::1',
    ]) {
      let error: unknown;
      try {
        amqp({ url });
      } catch (e) {
        error = e;
      }
      expect(errorCode(error), url).toBe('TASKQ_INVALID_OPTION');
      const record = new Record();
      record.add(error);
      record.expectClean(['s3cret', 's3cr/et', 's3c@ret', 'cr/et#x', 'ret@[']);
    }
    expect(redactUrl('amqp://user:s3cr/et@host')).toBe('amqp://user:***@host');
    expect(redactUrl('amqp://user:pa%20ss@host:5672/vh')).toBe('amqp://user:***@host:5672/vh');
  });

  it('a child process that fails to connect (debug logging, inspected objects, an unhandled rejection) prints no password on stdout or stderr', async () => {
    for (const url of ['amqp://user:s3cret@127.0.0.1:1', 'amqp://user:s3cret@127.0.0.1:5672']) {
      const result = await run(process.execPath, ['--import', 'tsx', CHILD], {
        env: { ...process.env, CHILD_URL: url },
        timeout: 30_000,
      }).catch((error: { code: number; stdout: string; stderr: string }) => error);
      // It died of the unhandled rejection, having said a good deal first.
      expect(result).toMatchObject({ code: 1 });
      const output = `${result.stdout}\n${result.stderr}`;
      expect(output).toContain('TASKQ_PUBLISH_TIMEOUT');
      expect(output).toContain('user:***@127.0.0.1');
      expect(output).not.toContain('s3cret');
    }
    const cli = await run(process.execPath, ['--import', 'tsx', MAIN, 'dead', 'list', '--timeout', '1500'], {
      env: { ...process.env, TASKQ_URL: 'amqp://user:s3cret@127.0.0.1:1' },
      timeout: 40_000,
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect(cli).toMatchObject({ code: 1 });
    expect(`${cli.stdout}${cli.stderr}`).toContain('could not be reached');
    expect(`${cli.stdout}${cli.stderr}`).not.toContain('s3cret');
  });
});
