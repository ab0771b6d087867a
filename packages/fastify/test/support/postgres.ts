import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PG_URL } from '../fixtures/story.js';

/** One statement on the test database, outside any DataSource. */
export async function sql(text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** A fresh schema for one test file; drop it with `dropSchema`. */
export async function createSchema(label: string): Promise<string> {
  const schema = `taskq_fastify_${label}_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  await sql(`CREATE SCHEMA "${schema}"`);
  return schema;
}

export async function dropSchema(schema: string): Promise<void> {
  await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
