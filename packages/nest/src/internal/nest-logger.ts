import { Logger as NestLogger } from '@nestjs/common';
import type { Logger } from '@taskq/core';

function format(message: string, fields?: Record<string, unknown>): string {
  if (!fields) return message;
  const parts = Object.entries(fields).map(
    ([key, value]) =>
      `${key}=${value instanceof Error ? value.message : typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
  return `${message} ${parts.join(' ')}`;
}

/** A @taskq/core logger writing through Nest's logger, so worker messages follow the application's logging setup. */
export function nestLogger(context: string): Logger {
  const logger = new NestLogger(context);
  return {
    debug: (message, fields) => logger.debug(format(message, fields)),
    info: (message, fields) => logger.log(format(message, fields)),
    warn: (message, fields) => logger.warn(format(message, fields)),
    error: (message, fields) => {
      const error = fields?.error;
      logger.error(format(message, fields), error instanceof Error ? error.stack : undefined);
    },
  };
}
