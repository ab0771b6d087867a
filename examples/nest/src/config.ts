/** Where the example's services are: nothing set means the embedded default (in-process transport, SQLite in memory). */
export interface ExampleConfig {
  /** RabbitMQ (`TASKQ_URL`); without it tasks use the in-process memory transport, so web and worker share one process. */
  readonly brokerUrl: string | undefined;
  /** Prefix of the RabbitMQ queues (`TASKQ_PREFIX`), to run several copies on one broker. */
  readonly brokerPrefix: string | undefined;
  /** PostgreSQL (`DATABASE_URL`); without it, SQLite (`SQLITE_FILE`, default in memory). */
  readonly databaseUrl: string | undefined;
  readonly sqliteFile: string;
  /** HTTP port (`PORT`), 3000 by default; 0 picks a free one. */
  readonly port: number;
}

/** Reads the configuration at run time; importing a module of the example never connects anywhere. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): ExampleConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT must be a port number, got ${JSON.stringify(env.PORT)}`);
  return {
    brokerUrl: env.TASKQ_URL || undefined,
    brokerPrefix: env.TASKQ_PREFIX || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    sqliteFile: env.SQLITE_FILE || ':memory:',
    port,
  };
}

/** One line saying what runs where; passwords never appear. */
export function describeServices(config: ExampleConfig): string {
  const transport = config.brokerUrl ? `RabbitMQ at ${new URL(config.brokerUrl).host}` : 'memory (in-process, NOT durable)';
  const database = config.databaseUrl ? `PostgreSQL at ${new URL(config.databaseUrl).host}` : `SQLite ${config.sqliteFile}`;
  return `transport: ${transport}; database: ${database}`;
}
