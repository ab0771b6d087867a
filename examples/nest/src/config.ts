// The same variables as the Express and Fastify examples, read by the story's readConfig.
export { type Config, readConfig } from '@taskq/example-story';

/** The injection token of the {@link Config}. */
export const CONFIG = 'ExampleConfig';
