import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, correlationIdFrom, currentCorrelationId, runWithContext } from '@controlplane/platform';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, destination };
}

describe('logging', () => {
  it('stamps the correlation id from async context on every line, across awaits', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 'test', destination });
    await runWithContext({ correlationId: 'corr-abcdef12' }, async () => {
      log.info('before');
      await new Promise((r) => setTimeout(r, 5));
      await Promise.resolve();
      log.info('after');
      expect(currentCorrelationId()).toBe('corr-abcdef12');
    });
    log.info('outside');
    expect(lines.map((l) => l.correlationId)).toEqual(['corr-abcdef12', 'corr-abcdef12', undefined]);
    expect(lines[0]).toMatchObject({ service: 'test', level: 'info', msg: 'before' });
  });

  it('redacts credentials, tokens, keys, payloads and results at any usual depth', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 'test', destination });
    const marker = 'SECRET-MARKER-7731';
    log.info(
      {
        req: { headers: { authorization: `Bearer ${marker}`, 'x-api-key': marker, 'x-cp-signature': marker } },
        apiKey: marker,
        joinToken: marker,
        runner: { privateKey: marker, keyPem: marker },
        job: { id: 'j1', payload: { data: marker }, result: { data: marker } },
        request: { payload: marker },
        nested: { deeper: { token: marker, password: marker } },
      },
      'something happened',
    );
    const text = JSON.stringify(lines);
    expect(text).not.toContain(marker);
    expect(lines[0]).toMatchObject({ apiKey: '[REDACTED]', job: { id: 'j1', payload: '[REDACTED]', result: '[REDACTED]' } });
  });

  it('accepts only well-formed correlation ids from callers', () => {
    expect(correlationIdFrom('client-req-0001')).toBe('client-req-0001');
    for (const bad of ['short', 'has space 123456', 'line\nbreak-123456', 'x'.repeat(200), undefined]) {
      const id = correlationIdFrom(bad);
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
