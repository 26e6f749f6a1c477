import type { z } from 'zod';
import { ValidationError } from './app-error.js';
import type { ErrorDetail } from './error-envelope.js';

/** Renders a Zod issue path as `a.b[0].c`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

export function zodIssuesToDetails(issues: ReadonlyArray<z.core.$ZodIssue>): ErrorDetail[] {
  return issues.slice(0, 100).map((issue) => ({ path: formatPath(issue.path), message: issue.message, code: issue.code }));
}

/** Parses with a schema, turning failure into a VALIDATION_FAILED error with field paths. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix: ReadonlyArray<PropertyKey> = []): z.infer<S> {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  throw new ValidationError(zodIssuesToDetails(res.error.issues.map((i) => ({ ...i, path: [...prefix, ...i.path] }) as z.core.$ZodIssue)));
}
