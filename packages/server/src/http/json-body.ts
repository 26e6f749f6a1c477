import sjson from 'secure-json-parse';
import { AppError } from '@controlplane/contracts';
import { assertStorable, mayHoldUnstorable } from './storable-text.js';

/**
 * The deepest nesting of arrays/objects in a JSON text, found by one linear scan without parsing.
 * Running this before JSON.parse means a 10,000-level body is refused cheaply, before any
 * recursive code (validation, canonicalisation) could overflow the stack on it.
 */
export function jsonNestingDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Jump to the closing quote (indexOf, not a loop over every character: signatures, proofs
      // and payload strings are most of a body): the next quote not escaped by an odd run of
      // backslashes. An unterminated string ends the scan; JSON.parse refuses the text.
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end < 0) return max;
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c /* \ */) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return max;
}

/** How deeply a request body may nest unless a listener says otherwise. */
export const DEFAULT_JSON_MAX_DEPTH = 64;

/** A Fastify content-type parser (`parseAs: 'string'`) for JSON bodies, by parseJsonBody. */
export function jsonBodyParser(maxDepth: number) {
  return (_req: unknown, body: string | Buffer, done: (err: Error | null, value?: unknown) => void): void => {
    try {
      done(null, parseJsonBody(body.toString(), maxDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  };
}

/**
 * Parses a request body: depth-limited, refusing `__proto__` / `constructor.prototype` keys
 * (prototype pollution) instead of silently dropping them, and refusing strings PostgreSQL cannot
 * hold (NUL, unpaired surrogates) with their paths.
 */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === '') throw new AppError('MALFORMED_JSON', { message: 'The request body is empty.' });
  if (jsonNestingDepth(text, maxDepth) > maxDepth) {
    throw new AppError('JSON_TOO_DEEP', { params: { limit: maxDepth } });
  }
  let value: unknown;
  try {
    value = sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    if (err instanceof SyntaxError && /prototype|__proto__|constructor/i.test(err.message)) {
      throw new AppError('FORBIDDEN_KEY', {
        cause: err,
        details: [{ message: 'keys named __proto__ or constructor.prototype are not allowed', code: 'forbidden_key' }],
      });
    }
    throw new AppError('MALFORMED_JSON', { cause: err });
  }
  if (mayHoldUnstorable(text)) assertStorable(value);
  return value;
}
