import { type DeliveryFields, type Envelope, HEADER, readDeliveryFields } from '../envelope.js';
import { DecodeError, MessageExpiredError } from '../errors.js';
import type { TaskDefinition, TaskRegistry } from '../registry.js';
import { signMessage, verifyMessage } from '../signing.js';
import type { TaskOptions } from '../task-options.js';
import type { Delivery, MessageHeaders } from '../transport.js';
import type { DeadLetterReason } from '../worker-events.js';

/** What the worker does with a message whose envelope parsed. */
export type Verdict =
  | {
      readonly kind: 'run';
      readonly fields: DeliveryFields;
      readonly definition: TaskDefinition;
      readonly maxAttempts: number;
    }
  | { readonly kind: 'dead'; readonly reason: DeadLetterReason; readonly error: unknown; readonly attempt: number }
  /**
   * A signed delayed message that arrived before its signed due time (its delay was stripped): publish it again for
   * later.
   */
  | { readonly kind: 'later'; readonly delayMs: number };

/**
 * How early a signed delayed message may arrive and still run: delays are
 * exact to one 10 ms tick on RabbitMQ, and the clocks of two hosts differ a
 * little even with NTP. Only a message that names its due time (header
 * `x-taskq-due`) is checked; an undelayed one is due when it was submitted.
 */
const EARLY_TOLERANCE_MS = 1_000;

/**
 * @internal The checks between "the envelope parsed" and "the task runs":
 * strict headers, the signature over the headers that change how a task
 * runs, the attempt against the task's attempts, the due time and the age.
 * It also signs what the worker publishes on a task's behalf (the next
 * attempt, the dead letter's retry), and only for messages whose signature
 * it verified: a forged message must not come out of a worker signed.
 */
export class Intake {
  readonly #registry: TaskRegistry;
  readonly #defaults: TaskOptions;
  readonly #keys: Buffer[] | undefined;
  readonly #maxAgeMs: number | undefined;
  readonly #verified = new WeakMap<Delivery, DeliveryFields & { readonly id: string | undefined }>();

  constructor(registry: TaskRegistry, defaults: TaskOptions, keys: Buffer[] | undefined, maxAgeMs: number | undefined) {
    this.#registry = registry;
    this.#defaults = defaults;
    this.#keys = keys;
    this.#maxAgeMs = maxAgeMs;
  }

  check(delivery: Delivery, envelope: Envelope): Verdict {
    let fields: DeliveryFields;
    try {
      fields = readDeliveryFields(delivery.headers, envelope.ts);
    } catch (error) {
      return { kind: 'dead', reason: 'malformed-message', error, attempt: 1 };
    }
    const attempt = fields.attempt;
    if (this.#keys) {
      // The queue is the one the message came from, not one it names: a signed message copied to another queue does not
      // verify.
      const id = signedId(envelope);
      if (
        !verifyMessage(
          delivery.body,
          { id, queue: delivery.queue, ...fields },
          delivery.headers[HEADER.signature],
          this.#keys,
        )
      ) {
        return {
          kind: 'dead',
          reason: 'bad-signature',
          error: new DecodeError('the message is not signed with an accepted signing key'),
          attempt,
        };
      }
      this.#verified.set(delivery, { ...fields, id });
    }
    const definition = this.#registry.get(envelope.task);
    if (!definition)
      return {
        kind: 'dead',
        reason: 'unknown-task',
        error: new DecodeError(`no task "${envelope.task}" is registered in this worker's registry`),
        attempt,
      };
    const maxAttempts = envelope.opts?.attempts ?? definition.options.attempts ?? this.#defaults.attempts ?? 1;
    if (attempt > maxAttempts) {
      return {
        kind: 'dead',
        reason: 'malformed-message',
        error: new DecodeError(
          `malformed header ${HEADER.attempt}: attempt ${attempt} of a task that has ${maxAttempts} attempt(s)`,
        ),
        attempt,
      };
    }
    const now = Date.now();
    if (this.#keys && delivery.headers[HEADER.due] !== undefined && fields.due - now > EARLY_TOLERANCE_MS)
      return { kind: 'later', delayMs: fields.due - now };
    if (this.#maxAgeMs !== undefined && now - fields.due > this.#maxAgeMs) {
      return {
        kind: 'dead',
        reason: 'expired',
        error: new MessageExpiredError(now - fields.due, this.#maxAgeMs),
        attempt,
      };
    }
    return { kind: 'run', fields, definition, maxAttempts };
  }

  /** Headers of the next attempt: due when its backoff ends, and signed again when this one verified. */
  retryHeaders(
    delivery: Delivery,
    headers: MessageHeaders,
    attempt: number,
    delayMs: number | undefined,
  ): MessageHeaders {
    const due = Date.now() + (delayMs ?? 0);
    const verified = this.#verified.get(delivery);
    if (!verified || !this.#keys) return { ...headers, [HEADER.due]: due };
    const fields = { id: verified.id, queue: delivery.queue, attempt, deadRetries: verified.deadRetries, due };
    return { ...headers, [HEADER.due]: due, [HEADER.signature]: signMessage(delivery.body, fields, this.#keys[0]) };
  }

  /**
   * A verified message's dead letter carries the signature of its retry
   * (attempt 1, one more dead retry, the same due time), for `taskq dead
   * retry`, which holds no key, to put in place.
   */
  deadLetterHeaders(delivery: Delivery, headers: MessageHeaders): MessageHeaders {
    const verified = this.#verified.get(delivery);
    if (!verified || !this.#keys) return headers;
    const fields = {
      id: verified.id,
      queue: delivery.queue,
      attempt: 1,
      deadRetries: verified.deadRetries + 1,
      due: verified.due,
    };
    return { ...headers, [HEADER.retrySignature]: signMessage(delivery.body, fields, this.#keys[0]) };
  }
}

/** The id a signature covers: from envelope version 3 on, whose body leaves the id to the message id. */
function signedId(envelope: Envelope): string | undefined {
  return envelope.v >= 3 ? envelope.id : undefined;
}
