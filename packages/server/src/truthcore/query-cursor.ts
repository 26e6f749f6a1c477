import { AppError } from '@controlplane/contracts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Opaque keyset position of a query page: the (timestamp, id) of its last row. */
export function encodeQueryCursor(assertedAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([assertedAt.toISOString(), id])).toString('base64url');
}

export function decodeQueryCursor(cursor: string): { assertedAt: Date; id: string } {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(parsed) || parsed.length !== 2) throw new Error('bad cursor');
    const [at, id] = parsed as [unknown, unknown];
    if (typeof at !== 'string' || typeof id !== 'string' || !UUID_RE.test(id)) throw new Error('bad cursor');
    const assertedAt = new Date(at);
    if (Number.isNaN(assertedAt.getTime())) throw new Error('bad cursor');
    return { assertedAt, id };
  } catch {
    throw new AppError('VALIDATION_FAILED', { details: [{ path: 'cursor', message: 'is not a cursor from a previous page' }] });
  }
}
