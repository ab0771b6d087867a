import type { ChannelModel } from 'amqplib';

/** The part of a socket this needs: amqplib writes every frame with `write`. */
interface CorkableSocket {
  write: (...args: never[]) => boolean;
  cork(): void;
  uncork(): void;
  destroyed?: boolean;
}

/**
 * Makes the frames amqplib writes in one turn of the event loop leave in one
 * system call. amqplib writes each frame (a publish is one frame of method,
 * header and body; an ack one frame) to the socket on its own: with many
 * publishes or acks per turn that is one `write` each, and on the publishing
 * connection (TCP_NODELAY) one TCP segment each, which the broker reads one
 * by one. Corked from the first write of a turn and uncorked at the end of
 * it, they go out together; a lone frame still goes out in the same turn, so
 * nothing waits.
 *
 * amqplib keeps the socket on its connection object (`model.connection.stream`), not in its public API: when it is
 * not there, writes stay as they are.
 */
export function coalesceWrites(model: ChannelModel): boolean {
  const socket = (model as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  if (!isCorkable(socket)) return false;
  const write = socket.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    if (!socket.destroyed) socket.uncork();
  };
  socket.write = function (this: CorkableSocket, ...args: never[]): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  };
  return true;
}

function isCorkable(value: unknown): value is CorkableSocket {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as CorkableSocket).write === 'function' &&
    typeof (value as CorkableSocket).cork === 'function' &&
    typeof (value as CorkableSocket).uncork === 'function'
  );
}
