/**
 * BullMQ 6 has no Redis client of its own: `ioredis` (or `redis`) is an
 * optional peer dependency, and neither is installed in this workspace. So
 * that BullMQ can still be measured, this adapter implements BullMQ's
 * `IRedisClient` interface over resp.ts, the same way BullMQ's own node-redis
 * adapter does (EVALSHA with an EVAL fallback, MULTI/EXEC for addBulk, a
 * separate connection for the worker's blocking BZPOPMIN). It pipelines like
 * ioredis: each command is written at once, replies come back in order.
 *
 * bullmq.ts uses ioredis instead whenever it is installed, and the table
 * says which client ran. Only BullMQ's Queue/Worker paths used by the bench
 * (add, addBulk, worker, getJobCounts, obliterate) are exercised here.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import type { IRedisClient, IRedisTransaction } from 'bullmq';
import { type Arg, CLOSED_MESSAGE, type Reply, RedisReplyError, RespConnection } from './resp.js';

interface Script {
  readonly sha: string;
  readonly lua: string;
  readonly numberOfKeys: number;
}

export interface BenchRedisOptions {
  readonly host: string;
  readonly port: number;
  readonly connectionName?: string;
}

type ScriptArgs = readonly unknown[];

/** BullMQ calls scripts either with one array or with spread arguments (ioredis style). */
function scriptArgs(script: Script, args: ScriptArgs): Arg[] {
  const flat = (args.length === 1 && Array.isArray(args[0]) ? args[0] : args) as readonly unknown[];
  const out: Arg[] = [script.sha, script.numberOfKeys];
  for (const a of flat) {
    if (Buffer.isBuffer(a)) out.push(a);
    else if (a === undefined || a === null) out.push('');
    else out.push(String(a));
  }
  return out;
}

function asStrings(reply: Reply): string[] {
  return Array.isArray(reply) ? reply.map((r) => (r === null ? '' : String(r))) : [];
}

function asNumber(reply: Reply): number {
  return typeof reply === 'number' ? reply : Number(reply);
}

function asNullableString(reply: Reply): string | null {
  return reply === null ? null : String(reply);
}

function pairsToRecord(reply: Reply): Record<string, string> {
  const items = asStrings(reply);
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < items.length; i += 2) record[items[i] as string] = items[i + 1] as string;
  return record;
}

function hashArgs(data: Record<string, string | number>): string[] {
  return Object.entries(data).flatMap(([field, value]) => [field, String(value)]);
}

export class BenchRedisClient extends EventEmitter implements IRedisClient {
  status = 'connecting';
  readonly isCluster = false;
  options: Record<string, unknown>;
  readonly #scripts: Map<string, Script>;
  #connection: RespConnection;
  [command: string]: unknown;

  constructor(options: BenchRedisOptions, scripts: Map<string, Script> = new Map()) {
    super();
    this.options = { ...options, maxRetriesPerRequest: null };
    this.#scripts = new Map(scripts);
    this.#connection = this.#open();
  }

  #open(): RespConnection {
    const { host, port, connectionName } = this.options as unknown as BenchRedisOptions;
    const connection = new RespConnection(host, port);
    connection.on('error', (error: Error) => {
      if (!connection.closed) this.emit('error', error);
    });
    connection.on('close', () => {
      if (this.#connection === connection && this.status !== 'end') {
        this.status = 'end';
        this.emit('close');
        this.emit('end');
      }
    });
    connection.connected.then(
      async () => {
        if (connectionName) await connection.send(['CLIENT', 'SETNAME', connectionName]).catch(() => undefined);
        // Scripts defined before a (re)connect: load them so EVALSHA inside MULTI finds them.
        for (const script of this.#scripts.values()) await connection.send(['SCRIPT', 'LOAD', script.lua]).catch(() => undefined);
        this.status = 'ready';
        this.emit('ready');
      },
      (error: Error) => this.emit('error', error),
    );
    return connection;
  }

  #send(args: readonly Arg[]): Promise<Reply> {
    return this.#connection.send(args);
  }

  async connect(): Promise<void> {
    if (this.status === 'end') {
      this.status = 'connecting';
      this.#connection = this.#open();
    }
    if (this.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        this.off('error', onError);
        resolve();
      };
      const onError = (error: Error): void => {
        this.off('ready', onReady);
        reject(error);
      };
      this.once('ready', onReady);
      this.once('error', onError);
    });
  }

  disconnect(reconnect = false): void {
    this.status = 'end';
    this.#connection.destroy();
    this.emit('close');
    this.emit('end');
    if (reconnect) void this.connect().catch((error: Error) => this.emit('error', error));
  }

  async quit(): Promise<string> {
    if (this.status !== 'end') {
      await this.#send(['QUIT']).catch(() => undefined);
      this.disconnect();
    }
    return 'OK';
  }

  duplicate(overrides?: Partial<BenchRedisOptions>): BenchRedisClient {
    return new BenchRedisClient({ ...(this.options as unknown as BenchRedisOptions), ...overrides }, this.#scripts);
  }

  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void {
    const sha = createHash('sha1').update(definition.lua).digest('hex');
    this.#scripts.set(name, { sha, lua: definition.lua, numberOfKeys: definition.numberOfKeys });
    // BullMQ checks `client[name]` to know whether a script is already defined (as with ioredis).
    this[name] = (...args: unknown[]) => this.runCommand(name, args);
    // Loaded now (in order, on this connection) so EVALSHA inside a later MULTI finds it.
    if (this.status === 'ready') void this.#send(['SCRIPT', 'LOAD', definition.lua]).catch(() => undefined);
  }

  #script(name: string): Script {
    const script = this.#scripts.get(name);
    if (!script) throw new Error(`BullMQ: unknown command "${name}"`);
    return script;
  }

  async runCommand(name: string, args: unknown[]): Promise<unknown> {
    const script = this.#script(name);
    const evalArgs = scriptArgs(script, args);
    try {
      return await this.#send(['EVALSHA', ...evalArgs]);
    } catch (error) {
      if (error instanceof RedisReplyError && error.message.startsWith('NOSCRIPT')) {
        return this.#send(['EVAL', script.lua, ...evalArgs.slice(1)]);
      }
      throw error;
    }
  }

  multi(): IRedisTransaction {
    return new BenchTransaction((commands) => this.#exec(commands, true), (name) => this.#script(name));
  }

  pipeline(): IRedisTransaction {
    return new BenchTransaction((commands) => this.#exec(commands, false), (name) => this.#script(name));
  }

  async #exec(commands: readonly Arg[][], transaction: boolean): Promise<[Error | null, unknown][] | null> {
    if (!transaction) {
      const settled = await Promise.allSettled(commands.map((c) => this.#send(c)));
      return settled.map((s) => (s.status === 'fulfilled' ? [null, s.value] : [s.reason as Error, null]));
    }
    // MULTI, the commands (each answers QUEUED), EXEC: all written at once, one round trip.
    const sent = [this.#send(['MULTI']), ...commands.map((c) => this.#send(c)), this.#send(['EXEC'])];
    const settled = await Promise.allSettled(sent);
    const last = settled[settled.length - 1];
    if (!last || last.status === 'rejected') throw last?.reason ?? new Error('EXEC failed');
    if (last.value === null) return null;
    const results = last.value as Reply[];
    return results.map((r) => (r instanceof RedisReplyError ? [r, null] : [null, r]));
  }

  async hgetall(key: string) {
    return pairsToRecord(await this.#send(['HGETALL', key]));
  }
  async hget(key: string, field: string) {
    return asNullableString(await this.#send(['HGET', key, field]));
  }
  async hmget(key: string, ...fields: string[]) {
    const reply = await this.#send(['HMGET', key, ...fields]);
    return Array.isArray(reply) ? reply.map((r) => asNullableString(r)) : [];
  }
  async hset(key: string, data: Record<string, string | number>) {
    return asNumber(await this.#send(['HSET', key, ...hashArgs(data)]));
  }
  async hdel(key: string, ...fields: string[]) {
    return asNumber(await this.#send(['HDEL', key, ...fields]));
  }
  async hexists(key: string, field: string) {
    return asNumber(await this.#send(['HEXISTS', key, field]));
  }
  async get(key: string) {
    return asNullableString(await this.#send(['GET', key]));
  }
  async set(key: string, value: string | number, options?: { PX?: number; EX?: number }) {
    const extra = options?.PX != null ? ['PX', options.PX] : options?.EX != null ? ['EX', options.EX] : [];
    return asNullableString(await this.#send(['SET', key, value, ...extra]));
  }
  async del(...keys: string[]) {
    return keys.length === 0 ? 0 : asNumber(await this.#send(['DEL', ...keys]));
  }
  async zrange(key: string, start: number, end: number, options?: { WITHSCORES?: boolean }) {
    return asStrings(await this.#send(['ZRANGE', key, start, end, ...(options?.WITHSCORES ? ['WITHSCORES'] : [])]));
  }
  async zrevrange(key: string, start: number, end: number, options?: { WITHSCORES?: boolean }) {
    return asStrings(await this.#send(['ZREVRANGE', key, start, end, ...(options?.WITHSCORES ? ['WITHSCORES'] : [])]));
  }
  async zcard(key: string) {
    return asNumber(await this.#send(['ZCARD', key]));
  }
  async zscore(key: string, member: string) {
    return asNullableString(await this.#send(['ZSCORE', key, member]));
  }
  async lrange(key: string, start: number, end: number) {
    return asStrings(await this.#send(['LRANGE', key, start, end]));
  }
  async llen(key: string) {
    return asNumber(await this.#send(['LLEN', key]));
  }
  async ltrim(key: string, start: number, end: number) {
    return String(await this.#send(['LTRIM', key, start, end]));
  }
  async lpos(key: string, value: string) {
    const reply = await this.#send(['LPOS', key, value]);
    return reply === null ? null : asNumber(reply);
  }
  async smembers(key: string) {
    return asStrings(await this.#send(['SMEMBERS', key]));
  }
  async xadd(key: string, id: string, fields: Record<string, string | number>, options?: { MAXLEN?: number; approximate?: boolean }) {
    const trim = options?.MAXLEN != null ? ['MAXLEN', ...(options.approximate === false ? [] : ['~']), options.MAXLEN] : [];
    return String(await this.#send(['XADD', key, ...trim, id, ...hashArgs(fields)]));
  }
  async xread(streams: { key: string; id: string }[], options?: { BLOCK?: number; COUNT?: number }) {
    const extra = [...(options?.COUNT != null ? ['COUNT', options.COUNT] : []), ...(options?.BLOCK != null ? ['BLOCK', options.BLOCK] : [])];
    return this.#send(['XREAD', ...extra, 'STREAMS', ...streams.map((s) => s.key), ...streams.map((s) => s.id)]);
  }
  async xtrim(key: string, strategy: 'MAXLEN', threshold: number, options?: { approximate?: boolean }) {
    return asNumber(await this.#send(['XTRIM', key, strategy, ...(options?.approximate === false ? [] : ['~']), threshold]));
  }
  async bzpopmin(key: string, timeout: number): Promise<[key: string, member: string, score: string] | null> {
    try {
      const reply = await this.#send(['BZPOPMIN', key, timeout]);
      if (!Array.isArray(reply)) return null;
      const [k, member, score] = asStrings(reply);
      return [k ?? '', member ?? '', score ?? ''];
    } catch (error) {
      // Closing the worker destroys this blocking connection on purpose.
      if (this.status === 'end' && error instanceof Error && error.message === CLOSED_MESSAGE) return null;
      throw error;
    }
  }
  async info() {
    return String(await this.#send(['INFO']));
  }
  async clientSetName(name: string) {
    return this.#send(['CLIENT', 'SETNAME', name]);
  }
  async clientList() {
    return String(await this.#send(['CLIENT', 'LIST']));
  }
  async clientInfo() {
    return String(await this.#send(['CLIENT', 'INFO']));
  }
  async scan(cursor: string | number, options: { MATCH?: string; COUNT?: number }): Promise<[string, string[]]> {
    const extra = [...(options.MATCH ? ['MATCH', options.MATCH] : []), ...(options.COUNT ? ['COUNT', options.COUNT] : [])];
    const reply = await this.#send(['SCAN', cursor, ...extra]);
    const [next, keys] = Array.isArray(reply) ? reply : ['0', []];
    return [String(next), asStrings(keys ?? [])];
  }
  scanStream(options: { match: string; count?: number }): Readable {
    let cursor = '0';
    let finished = false;
    const scanOptions = { MATCH: options.match, ...(options.count ? { COUNT: options.count } : {}) };
    const stream: Readable = new Readable({
      objectMode: true,
      read: () => {
        if (finished) {
          stream.push(null);
          return;
        }
        this.scan(cursor, scanOptions).then(
          ([next, keys]) => {
            cursor = next;
            finished = next === '0';
            stream.push(keys);
          },
          (error: Error) => stream.destroy(error),
        );
      },
    });
    return stream;
  }
}

/** Queues commands and sends them in one go on `exec()`. */
class BenchTransaction implements IRedisTransaction {
  readonly #commands: Arg[][] = [];

  constructor(
    private readonly run: (commands: readonly Arg[][]) => Promise<[Error | null, unknown][] | null>,
    private readonly script: (name: string) => Script,
  ) {}

  #push(...args: Arg[]): this {
    this.#commands.push(args);
    return this;
  }
  hgetall(key: string) {
    return this.#push('HGETALL', key);
  }
  hset(key: string, data: Record<string, string | number>) {
    return this.#push('HSET', key, ...hashArgs(data));
  }
  hscan(key: string, cursor: string | number, options?: { COUNT?: number }) {
    return this.#push('HSCAN', key, cursor, ...(options?.COUNT != null ? ['COUNT', options.COUNT] : []));
  }
  smembers(key: string) {
    return this.#push('SMEMBERS', key);
  }
  sscan(key: string, cursor: string | number, options?: { COUNT?: number }) {
    return this.#push('SSCAN', key, cursor, ...(options?.COUNT != null ? ['COUNT', options.COUNT] : []));
  }
  zrange(key: string, start: number, end: number) {
    return this.#push('ZRANGE', key, start, end);
  }
  lrange(key: string, start: number, end: number) {
    return this.#push('LRANGE', key, start, end);
  }
  llen(key: string) {
    return this.#push('LLEN', key);
  }
  del(...keys: string[]) {
    return keys.length === 0 ? this : this.#push('DEL', ...keys);
  }
  runCommand(name: string, args: unknown[]) {
    return this.#push('EVALSHA', ...scriptArgs(this.script(name), args));
  }
  exec() {
    return this.run(this.#commands);
  }
}
