import { describe, expect, it } from 'vitest';
import {
  encodeControl,
  encodeHeartbeat,
  MAX_CONTROL_BYTES,
  parseControl,
  parseHeartbeat,
} from '../src/internal/control.js';

const beat = {
  id: '0193a5b0-0000-7000-8000-000000000001',
  host: 'web-1',
  pid: 42,
  queues: ['mail'],
  concurrency: 4,
  running: 1,
  version: '0.1.0',
  startedAt: new Date(1_700_000_000_000),
  intervalMs: 5_000,
};

describe('control messages off the wire are validated strictly', () => {
  it('round-trips pause, resume, cancel, ping and heartbeats', () => {
    for (const message of [
      { kind: 'pause', queue: 'mail' },
      { kind: 'resume', queue: 'mail' },
      { kind: 'cancel', id: '0193a5b0-0000-7000-8000-000000000001' },
      { kind: 'ping' },
    ] as const)
      expect(parseControl(encodeControl(message))).toEqual(message);
    expect(parseHeartbeat(encodeHeartbeat(beat))).toEqual(beat);
  });

  it('ignores oversized, malformed and hostile ones', () => {
    const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
    const refused = [
      Buffer.from('not json'),
      json(null),
      json([]),
      json({ taskq: 'control', v: 2, kind: 'ping' }),
      json({ taskq: 'presence', v: 1, kind: 'ping' }),
      json({ taskq: 'control', v: 1, kind: 'drop-everything' }),
      json({ taskq: 'control', v: 1, kind: 'pause', queue: 'mail\n[taskq] error forged line' }),
      json({ taskq: 'control', v: 1, kind: 'pause', queue: '' }),
      json({ taskq: 'control', v: 1, kind: 'cancel', id: { $ne: null } }),
      json({ taskq: 'control', v: 1, kind: 'cancel', id: 'x'.repeat(256) }),
      Buffer.concat([json({ taskq: 'control', v: 1, kind: 'ping' }), Buffer.alloc(MAX_CONTROL_BYTES)]),
    ];
    for (const content of refused) expect(parseControl(content)).toBeUndefined();
    const heartbeat = JSON.parse(encodeHeartbeat(beat).toString()) as Record<string, unknown>;
    for (const [field, value] of Object.entries({
      host: 'evil\u001b[31mhost',
      pid: -1,
      running: 1.5,
      version: 'v1 <script>',
      queues: ['ok', 7],
      intervalMs: 0,
      id: 'not-a-uuid',
    }))
      expect(parseHeartbeat(Buffer.from(JSON.stringify({ ...heartbeat, [field]: value }))), field).toBeUndefined();
  });
});
