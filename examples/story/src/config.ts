/**
 * Everything the examples read from the environment, in one place (the same variables for Express, Fastify and Nest).
 */
export interface Config {
  /** `PORT` (0 picks a free one). @defaultValue 3000 */
  readonly port: number;
  /** `HOST`. @defaultValue `127.0.0.1` */
  readonly host: string;
  /** `TASKQ_URL`: RabbitMQ. Unset: the in-memory transport, web and worker in one process. */
  readonly brokerUrl: string | undefined;
  /** `DATABASE_URL`: PostgreSQL. Unset: SQLite (`SQLITE_FILE`, in memory by default). */
  readonly databaseUrl: string | undefined;
  /** `DATABASE_SCHEMA`: PostgreSQL schema for the example's tables. */
  readonly databaseSchema: string | undefined;
  /** `SQLITE_FILE`. @defaultValue `:memory:` */
  readonly sqliteFile: string;
  /** `TASKQ_QUEUE`: the logical queue web and worker share. @defaultValue `default` */
  readonly queueName: string;
  /** `MAIL_FILE`: mails are appended there as JSON lines; unset: printed. */
  readonly mailFile: string | undefined;
  /** `PUSH_FILE`: push messages likewise. */
  readonly pushFile: string | undefined;
}

/** Read at run time, by the entry points: importing a module of the example connects nowhere. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`PORT must be a port number, got ${JSON.stringify(env.PORT)}`);
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    brokerUrl: env.TASKQ_URL || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    databaseSchema: env.DATABASE_SCHEMA || undefined,
    sqliteFile: env.SQLITE_FILE || ':memory:',
    queueName: env.TASKQ_QUEUE || 'default',
    mailFile: env.MAIL_FILE || undefined,
    pushFile: env.PUSH_FILE || undefined,
  };
}
