import { randomUUID } from 'node:crypto';
// pg comes with @taskq/typeorm (hoisted in the workspace).
import pg from 'pg';

/** The shared test PostgreSQL (trust auth); tests never touch schemas they did not create. */
export const PG_URL = process.env.TASKQ_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One statement on the test database, outside any DataSource. */
export async function sql(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}

/** A fresh schema `taskq_<label>_<random>`; drop it with `dropSchema`. */
export async function createSchema(label: string): Promise<string> {
  const schema = `taskq_${label}_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  await sql(`CREATE SCHEMA "${schema}"`);
  return schema;
}

export async function dropSchema(schema: string): Promise<void> {
  await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
