import { describe, expect, it } from 'vitest';
import { ValidationError } from '@controlplane/contracts';
import { keysetCursor, timeIdCursor } from '@controlplane/server';

describe('keyset cursors', () => {
  const id = '0b7e7c52-64f4-4c1e-9a51-2c1c2f3b9d10';
  const at = new Date('2024-05-01T12:34:56.789Z');

  it('give back the key they were made from', () => {
    expect(timeIdCursor.decode(timeIdCursor.encode({ at, id }))).toEqual({ at, id });
    const seq = keysetCursor<{ n: string }>({ parts: (k) => [k.n], parse: ([n]) => (n && /^\d+$/.test(n) ? { n } : undefined) });
    expect(seq.decode(seq.encode({ n: '42' }))).toEqual({ n: '42' });
  });

  it('refuse anything else as VALIDATION_FAILED at the given path', () => {
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const cursor of [
      'garbage!',
      '',
      forged({ at: at.toISOString(), id }),
      forged([at.toISOString()]),
      forged([at.toISOString(), id, 'extra']),
      forged(['yesterday', id]),
      forged([at.toISOString(), "x' or 1=1 --"]),
      forged([at.getTime(), id]),
    ]) {
      expect(() => timeIdCursor.decode(cursor, ['query', 'cursor']), cursor).toThrow(ValidationError);
      try {
        timeIdCursor.decode(cursor, ['query', 'cursor']);
      } catch (err) {
        expect((err as ValidationError).details).toEqual([{ path: ['query', 'cursor'], message: 'is not a cursor from a previous page' }]);
      }
    }
  });
});
