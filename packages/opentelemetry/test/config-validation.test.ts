// Options are checked once, at the edge, with the option's name in the message; the instrumentation has the shape
// registerInstrumentations expects and patches no module.
import { readFileSync } from 'node:fs';
import { createQueue, memory, TaskRegistry } from '@taskq/core';
import { INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, TaskqInstrumentation } from '@taskq/opentelemetry';
import { describe, expect, it } from 'vitest';

describe('TaskqInstrumentation options', () => {
  it('rejects a non-boolean enabled/tracing/metrics, naming the option', () => {
    for (const option of ['enabled', 'tracing', 'metrics'] as const) {
      expect(() => new TaskqInstrumentation({ [option]: 'yes' } as never)).toThrow(
        expect.objectContaining({ code: 'TASKQ_INVALID_OPTION', option }),
      );
    }
    const instrumentation = new TaskqInstrumentation({ enabled: false });
    expect(() => instrumentation.setConfig({ metrics: 1 } as never)).toThrow(/option "metrics"/);
  });

  it('enabled: false subscribes nothing until enable(); no module patches', () => {
    const instrumentation = new TaskqInstrumentation({ enabled: false });
    expect(instrumentation.isEnabled()).toBe(false);
    expect(instrumentation.getConfig().enabled).toBe(false);
    expect(instrumentation.getModuleDefinitions()).toEqual([]);
    expect(instrumentation.instrumentationName).toBe(INSTRUMENTATION_NAME);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(instrumentation.instrumentationVersion).toBe(INSTRUMENTATION_VERSION);
    expect(INSTRUMENTATION_VERSION).toBe(pkg.version);
    instrumentation.enable();
    expect(instrumentation.isEnabled()).toBe(true);
    instrumentation.disable();
  });

  it('observeQueues checks its transport, queues and interval (at least 1 s)', () => {
    const instrumentation = new TaskqInstrumentation({ enabled: false });
    const transport = memory();
    createQueue({ registry: new TaskRegistry(), transport }); // a real transport, as an application has one
    expect(() => instrumentation.observeQueues({} as never, { queues: ['default'] })).toThrow(/option "transport"/);
    expect(() => instrumentation.observeQueues(transport, { queues: [] })).toThrow(/option "queues"/);
    expect(() => instrumentation.observeQueues(transport, { queues: [''] })).toThrow(/option "queues"/);
    expect(() => instrumentation.observeQueues(transport, { queues: ['default'], interval: '500ms' })).toThrow(
      /option "interval": expected at least 1s/,
    );
    expect(() => instrumentation.observeQueues(transport, { queues: ['default'], interval: 'soon' })).toThrow(
      /option "interval"/,
    );
    const stop = instrumentation.observeQueues(transport, { queues: ['default', 'default'] });
    expect(typeof stop).toBe('function');
    stop();
    stop(); // idempotent
  });
});
