import { HttpException, HttpStatus } from '@nestjs/common';
import { errorCode } from '@taskq/core';

/**
 * @internal A `BadRequestHostError` as the 400 Nest's exception filters
 * answer, with the body shape of the status route's 404
 * (`{ error: { code, message } }`); any other error is returned as it is.
 */
export function asBadRequest(error: unknown): unknown {
  if (errorCode(error) !== 'TASKQ_BAD_REQUEST_HOST') return error;
  const message = error instanceof Error ? error.message : String(error);
  return new HttpException({ error: { code: 'TASKQ_BAD_REQUEST_HOST', message } }, HttpStatus.BAD_REQUEST, {
    cause: error,
  });
}
