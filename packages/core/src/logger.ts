/** Where taskq writes what it has to say. Compatible with pino, winston and console-like loggers. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
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
