/** Where taskq writes what it has to say. Compatible with pino, winston and console-like loggers. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function write(level: string, message: string, fields?: Record<string, unknown>): void {
  const line = `[taskq] ${level} ${message}`;
  if (!fields) {
    console.error(line);
    return;
  }
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${key}=${value instanceof Error ? value.message : typeof value === 'string' ? value : JSON.stringify(value)}`);
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
