import { InvalidOptionError } from './errors.js';

/**
 * Where taskq writes what it has to say: `(message, fields)` per level, as winston and console-like loggers take
 * them. A pino logger (or a child of one, Fastify's `app.log`) can be passed as it is: taskq recognises it and calls it
 * fields first, `(fields, message)`, as pino expects; wrap any other logger of that shape in
 * {@link fieldsFirstLogger}. Records about one task carry `id`, `task`, `queue`, `attempt` and, when the submit was
 * traced, `traceId`.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger whose methods take the fields first and the message second: pino's shape (also bunyan's). */
export interface FieldsFirstLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * Adapts a fields-first logger (pino's method shape) to taskq's {@link Logger}. An `error` field holding an Error is
 * passed as `err`, the key pino's serializers expect.
 */
export function fieldsFirstLogger(logger: FieldsFirstLogger): Logger {
  if (!logger || typeof logger.error !== 'function')
    throw new InvalidOptionError('logger', 'expected a logger with debug, info, warn and error methods');
  const call =
    (level: keyof FieldsFirstLogger) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (!fields) {
        logger[level]({}, message);
        return;
      }
      if (fields.error instanceof Error) {
        const { error, ...rest } = fields;
        logger[level]({ ...rest, err: error }, message);
        return;
      }
      logger[level](fields, message);
    };
  return { debug: call('debug'), info: call('info'), warn: call('warn'), error: call('error') };
}

/** pino loggers (and children) have `bindings()`, `child()` and a `levels.values` table; winston has none of these. */
function isPino(logger: object): logger is FieldsFirstLogger {
  const l = logger as { bindings?: unknown; child?: unknown; levels?: { values?: unknown } };
  return typeof l.bindings === 'function' && typeof l.child === 'function' && typeof l.levels?.values === 'object';
}

/**
 * The logger option as taskq uses it: checked, pino adapted, the console logger when there is none.
 * `option` names the option in the error.
 */
export function useLogger(logger: Logger | undefined, option = 'logger'): Logger {
  if (logger === undefined) return consoleLogger();
  if (
    typeof logger !== 'object' ||
    logger === null ||
    typeof logger.error !== 'function' ||
    typeof logger.warn !== 'function' ||
    typeof logger.info !== 'function' ||
    typeof logger.debug !== 'function'
  )
    throw new InvalidOptionError(option, 'expected a logger with debug, info, warn and error methods (or pino)');
  return isPino(logger) ? fieldsFirstLogger(logger) : logger;
}

/**
 * @internal `text` with every control character written as a `\uXXXX` escape: C0
 * (newline, carriage return, ESC, ...), DEL, C1 and the line and paragraph
 * separators. Task names, message ids and error messages come off the wire;
 * unescaped, they could forge log lines or send escape sequences to a
 * terminal. Most text has none, and comes back as it is.
 */
export function escapeControlCharacters(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && (c < 0x7f || c > 0x9f) && c !== 0x2028 && c !== 0x2029) continue;
    out += `${text.slice(from, i)}\\u${c.toString(16).padStart(4, '0')}`;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

function show(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function write(level: string, message: string, fields?: Record<string, unknown>): void {
  const line = `[taskq] ${level} ${escapeControlCharacters(String(message))}`;
  if (!fields) {
    console.error(line);
    return;
  }
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${escapeControlCharacters(key)}=${escapeControlCharacters(show(value))}`);
  }
  console.error(`${line} ${parts.join(' ')}`);
}

/** Writes warnings and errors to stderr; `level: 'debug' | 'info'` adds more. */
export function consoleLogger(level: 'debug' | 'info' | 'warn' | 'error' = 'warn'): Logger {
  const rank = { debug: 0, info: 1, warn: 2, error: 3 }[level];
  const noop = (): void => {};
  return {
    debug: rank <= 0 ? (m, f) => write('debug', m, f) : noop,
    info: rank <= 1 ? (m, f) => write('info', m, f) : noop,
    warn: rank <= 2 ? (m, f) => write('warn', m, f) : noop,
    error: (m, f) => write('error', m, f),
  };
}

/** Discards everything (tests, benchmarks). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
