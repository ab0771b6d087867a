/**
 * A minimal Redis (RESP2) connection: commands are written as they come and
 * replies are matched first-in first-out, which is how Redis pipelining
 * works. Only what the BullMQ adapter next to it needs; see
 * bench-redis-client.ts for why it exists at all.
 */
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';

export type Arg = string | number | Buffer;
export type Reply = string | number | null | RedisReplyError | Reply[];

/** An error reply (`-ERR ...`). Inside an EXEC result it is a value, at top level a rejection. */
export class RedisReplyError extends Error {
  override readonly name = 'ReplyError';
}

/** The message BullMQ recognises as "connection closed" (see its isNotConnectionError). */
export const CLOSED_MESSAGE = 'Connection is closed.';

interface Pending {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: Error) => void;
}

const CRLF = Buffer.from('\r\n');

function encode(args: readonly Arg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `offset`; undefined when the buffer does not hold all of it yet. */
function parse(buffer: Buffer, offset: number): { value: Reply; next: number } | undefined {
  if (offset >= buffer.length) return undefined;
  const end = buffer.indexOf(CRLF, offset);
  if (end < 0) return undefined;
  const type = buffer[offset];
  const line = buffer.toString('utf8', offset + 1, end);
  const after = end + 2;
  switch (type) {
    case 0x2b: // '+'
      return { value: line, next: after };
    case 0x2d: // '-'
      return { value: new RedisReplyError(line), next: after };
    case 0x3a: // ':'
      return { value: Number(line), next: after };
    case 0x24: {
      // '$'
      const length = Number(line);
      if (length < 0) return { value: null, next: after };
      if (after + length + 2 > buffer.length) return undefined;
      return { value: buffer.toString('utf8', after, after + length), next: after + length + 2 };
    }
    case 0x2a: {
      // '*'
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: Reply[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${type} at ${offset}`);
  }
}

export class RespConnection extends EventEmitter {
  readonly #socket: Socket;
  readonly #pending: Pending[] = [];
  #head = 0;
  #buffer: Buffer = Buffer.alloc(0);
  #closed = false;
  readonly connected: Promise<void>;

  constructor(host: string, port: number) {
    super();
    this.#socket = createConnection({ host, port });
    this.#socket.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.#socket.once('connect', () => resolve());
      this.#socket.once('error', reject);
    });
    // Marks the promise handled; the failure still reaches whoever awaits it.
    this.connected.catch(() => undefined);
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (error) => this.emit('error', error));
    this.#socket.on('close', () => this.#onClose());
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(args: readonly Arg[]): Promise<Reply> {
    if (this.#closed) return Promise.reject(new Error(CLOSED_MESSAGE));
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#socket.write(encode(args));
    });
  }

  /** Closes at once; commands still waiting (a blocking BZPOPMIN) are rejected as "closed". */
  destroy(): void {
    this.#socket.destroy();
    this.#onClose();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    let offset = 0;
    for (;;) {
      const parsed = parse(this.#buffer, offset);
      if (!parsed) break;
      offset = parsed.next;
      const pending = this.#pending[this.#head++];
      if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
        this.#pending.splice(0, this.#head);
        this.#head = 0;
      }
      if (!pending) throw new Error('a Redis reply arrived with no command waiting for it');
      if (parsed.value instanceof RedisReplyError) pending.reject(parsed.value);
      else pending.resolve(parsed.value);
    }
    this.#buffer = offset === this.#buffer.length ? Buffer.alloc(0) : this.#buffer.subarray(offset);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiting = this.#pending.splice(this.#head);
    this.#head = 0;
    this.#pending.length = 0;
    for (const pending of waiting) pending.reject(new Error(CLOSED_MESSAGE));
    this.emit('close');
  }
}
