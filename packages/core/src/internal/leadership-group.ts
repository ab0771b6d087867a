import { InvalidOptionError } from '../errors.js';

/** A leadership group's name as every transport accepts it: part of a RabbitMQ queue name on amqp. */
const GROUP = /^[A-Za-z0-9_-]{1,50}$/;

export function checkGroup(group: unknown): asserts group is string {
  if (typeof group !== 'string' || !GROUP.test(group))
    throw new InvalidOptionError('group', `expected letters, digits, '_' or '-' (1-50), got ${JSON.stringify(group)}`);
}
