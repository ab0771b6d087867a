import { amqp, type Transport } from '@taskq/core';

/** The broker URL from the environment; unset means "no services: use the memory transport". */
export function brokerUrl(): string | undefined {
  return process.env.TASKQ_URL || undefined;
}

/** The logical queue the demo uses; `DEMO_QUEUE` picks another (tests use a throwaway one). */
export function demoQueue(): string {
  return process.env.DEMO_QUEUE || 'demo';
}

/** A RabbitMQ transport that gives up after 10 s, so the demo fails instead of hanging when no broker answers. */
export function rabbitmq(url: string): Transport {
  return amqp({ url, connectTimeout: '10s', publishTimeout: '10s' });
}

/** The URL for display: the password is replaced by `***`, and a URL that does not parse is not shown at all. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(TASKQ_URL, not shown: it is not a valid URL)';
  }
}
