/** Where an encode happens: the argument path for error messages. */
export interface EncodeContext {
  /** Path of the value being encoded, e.g. `args[1].owner`. */
  readonly path: string;
}

/** Where a decode happens. */
export interface DecodeContext {
  /** Path of the value being decoded, e.g. `args[1].owner`. */
  readonly path: string;
}

/**
 * Teaches taskq how a value travels. `test` picks the values it handles,
 * `encode` turns one into JSON-compatible data (which may itself contain
 * values other codecs handle), `decode` rebuilds it in the worker.
 * `encode` and `decode` may be async (an ORM codec flushes or loads rows).
 * A decode failure dead-letters the task at once (the arguments will not get
 * better), unless the thrown error (or its `cause`) has `retryable: true`,
 * e.g. a database that was briefly unreachable: then the attempt is retried.
 */
export interface Codec<T = unknown, Data = unknown> {
  /** Tag written on the wire; unique among the codecs of one queue/worker. */
  readonly name: string;
  /** True when this codec handles `value`. Called for every non-plain value, keep it cheap. */
  test(value: unknown): boolean;
  encode(value: T, context: EncodeContext): Data | Promise<Data>;
  decode(data: Data, context: DecodeContext): T | Promise<T>;
}
