import { ValidationError } from '@controlplane/contracts';

/**
 * Page cursors for keyset pagination (`where (a, b) < ($1, $2) order by a desc, b desc`): the sort
 * key of the last row a page showed, as base64url of a JSON array of strings. Opaque to clients,
 * but checked on the way back in: its parts reach SQL only as parameters, and a malformed cursor
 * is a 400 naming the field, not a 500.
 */
export interface KeysetCursor<K> {
  encode(key: K): string;
  /** The key a cursor from `encode` holds; VALIDATION_FAILED at `path` for anything else. */
  decode(cursor: string, path?: readonly string[]): K;
}

export interface KeysetCursorSpec<K> {
  /** The key's parts, in sort order. */
  parts(key: K): string[];
  /** The key for these parts (as many as `parts` gives), or undefined when they cannot be one. */
  parse(parts: readonly string[]): K | undefined;
}

export function keysetCursor<K>(spec: KeysetCursorSpec<K>): KeysetCursor<K> {
  return {
    encode: (key) => Buffer.from(JSON.stringify(spec.parts(key)), 'utf8').toString('base64url'),
    decode(cursor, path = ['cursor']) {
      let parts: unknown;
      try {
        parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      } catch {
        parts = undefined;
      }
      const key = Array.isArray(parts) && parts.every((p) => typeof p === 'string') ? spec.parse(parts) : undefined;
      if (key === undefined) throw new ValidationError([{ path: [...path], message: 'is not a cursor from a previous page' }]);
      return key;
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The most common key: a timestamp, then a uuid that breaks ties between rows of the same instant. */
export const timeIdCursor: KeysetCursor<{ at: Date; id: string }> = keysetCursor({
  parts: (k) => [k.at.toISOString(), k.id],
  parse(parts) {
    const [at, id] = parts;
    if (parts.length !== 2 || at === undefined || id === undefined || !UUID.test(id)) return undefined;
    const date = new Date(at);
    return Number.isNaN(date.getTime()) ? undefined : { at: date, id };
  },
});

/** An instant as PostgreSQL's text shows it in UTC, microseconds and all. */
const EXACT_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * A timestamp kept to the microsecond (as the text the statement selected, see list_jobs.sql),
 * then a uuid. For rows whose timestamp comes from the database's `now()`: a Date would round it to
 * the millisecond, and the next page would skip the rows that share that millisecond.
 */
export const exactTimeIdCursor: KeysetCursor<{ at: string; id: string }> = keysetCursor({
  parts: (k) => [k.at, k.id],
  parse(parts) {
    const [at, id] = parts;
    if (parts.length !== 2 || at === undefined || id === undefined || !UUID.test(id) || !EXACT_INSTANT.test(at)) return undefined;
    return Number.isNaN(Date.parse(at)) ? undefined : { at, id };
  },
});
