// Puts a message on a queue the way any AMQP client with write access could, with a header
// table as large as the broker's frame_max allows. amqplib itself encodes headers in a 64 KiB
// scratch buffer, so the content header frame is written by hand on an amqplib channel.
import { connect } from 'amqplib';
import { RABBIT_URL } from './rabbit.js';

const FRAME_END = 0xce;
const BASIC_CLASS = 60;
const BASIC_PUBLISH = 40;
const FLAG_HEADERS = 0x2000;
const FLAG_DELIVERY_MODE = 0x1000;
const FLAG_MESSAGE_ID = 0x0080;

function frame(type: number, channel: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(7);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([FRAME_END])]);
}

function shortString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 255) throw new RangeError('short string over 255 bytes');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** An AMQP field table of long strings. */
export function encodeStringTable(headers: Record<string, string>): Buffer {
  const entries: Buffer[] = [];
  for (const [key, value] of Object.entries(headers)) {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(5);
    length.write('S', 0);
    length.writeUInt32BE(bytes.length, 1);
    entries.push(shortString(key), length, bytes);
  }
  const body = Buffer.concat(entries);
  const size = Buffer.alloc(4);
  size.writeUInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

/**
 * Publishes `body` with `headers` straight to the physical `queue` (default exchange) and waits
 * for the broker's confirm. The header table may be up to the negotiated frame_max (128 KiB on a
 * default broker).
 */
export async function publishWithLargeHeaders(
  queue: string,
  body: Buffer,
  headers: Record<string, string>,
  messageId: string,
  url = RABBIT_URL,
): Promise<void> {
  const model = await connect(url);
  model.on('error', () => {});
  try {
    const channel = await model.createConfirmChannel();
    const number = (channel as unknown as { ch: number }).ch;
    const connection = (
      model as unknown as {
        connection: { channels: Array<{ buffer: { write(chunk: Buffer): boolean } } | null>; frameMax: number };
      }
    ).connection;
    const method = Buffer.concat([
      Buffer.from([0, BASIC_CLASS, 0, BASIC_PUBLISH, 0, 0]),
      shortString(''),
      shortString(queue),
      Buffer.from([0]),
    ]);
    const fixed = Buffer.alloc(14);
    fixed.writeUInt16BE(BASIC_CLASS, 0);
    fixed.writeUInt16BE(0, 2);
    fixed.writeBigUInt64BE(BigInt(body.length), 4);
    fixed.writeUInt16BE(FLAG_HEADERS | FLAG_DELIVERY_MODE | FLAG_MESSAGE_ID, 12);
    const properties = Buffer.concat([fixed, encodeStringTable(headers), Buffer.from([2]), shortString(messageId)]);
    if (properties.length + 8 > connection.frameMax)
      throw new RangeError(`header frame of ${properties.length} bytes is over frame_max ${connection.frameMax}`);
    const confirmed = new Promise<void>((resolve, reject) => {
      (channel as unknown as { pushConfirmCallback(cb: (error: unknown) => void): void }).pushConfirmCallback(
        (error) => (error ? reject(error) : resolve()),
      );
    });
    const bodyFrames: Buffer[] = [];
    for (let offset = 0; offset < body.length; offset += connection.frameMax - 8)
      bodyFrames.push(frame(3, number, body.subarray(offset, offset + connection.frameMax - 8)));
    connection.channels[number]?.buffer.write(
      Buffer.concat([frame(1, number, method), frame(2, number, properties), ...bodyFrames]),
    );
    await confirmed;
    await channel.close();
  } finally {
    await model.close().catch(() => {});
  }
}
