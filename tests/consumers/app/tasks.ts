// The consumer app's task module and registry: compiled as CommonJS and as ESM by consumer-apps.test.ts.
import { writeFile } from 'node:fs/promises';
import { TaskRegistry } from '@taskq/core';

/** Writes `text` to `path`: the test reads the file to see that the worker ran the task. */
export async function writeMarker(path: string, text: string): Promise<number> {
  await writeFile(path, text);
  return text.length;
}

export const registry = new TaskRegistry().module('consumer', { writeMarker });
