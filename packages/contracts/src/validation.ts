import type { z } from 'zod';
import { ValidationError } from './app-error.js';
import type { ErrorDetail, ErrorDetailPath } from './error-envelope.js';

/** Renders a Zod issue path as `a.b[0].c` (for human-readable text such as configuration problems). */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** An ErrorDetail path: every segment a string, array indices included (`["items","0"]`). */
export function detailPath(path: ReadonlyArray<PropertyKey>): ErrorDetailPath {
  return path.slice(0, 64).map((seg) => {
    const text = typeof seg === 'symbol' ? (seg.description ?? '') : String(seg);
    if (text.length <= 1024) return text;
    // Cut at 1024 code units without splitting a surrogate pair.
    const cut = text.slice(0, 1024);
    return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
  });
}

export function zodIssuesToDetails(issues: ReadonlyArray<z.core.$ZodIssue>): ErrorDetail[] {
  return issues.slice(0, 100).map((issue) => ({ path: detailPath(issue.path), message: issue.message, code: issue.code }));
}

/** Parses with a schema, turning failure into a VALIDATION_FAILED error with field paths. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, prefix: ReadonlyArray<PropertyKey> = []): z.infer<S> {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  throw new ValidationError(zodIssuesToDetails(res.error.issues.map((i) => ({ ...i, path: [...prefix, ...i.path] }) as z.core.$ZodIssue)));
}

/** An ErrorDetail path from a JSON Pointer (`/items/0/a~1b` → `["items","0","a/b"]`), as Ajv reports one. */
export function pointerToPath(pointer: string): ErrorDetailPath {
  return detailPath(
    pointer
      .split('/')
      .slice(1)
      .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~')),
  );
}

/**
 * An envelope stored before detail paths were arrays (`"payload.data.items[0]"`) read back in the
 * contract's shape (`["payload","data","items","0"]`); one already in that shape is returned as is.
 */
export function withArrayDetailPaths<E extends { details: ErrorDetail[] }>(envelope: E): E {
  const details = envelope.details as Array<ErrorDetail | (Omit<ErrorDetail, 'path'> & { path?: unknown })>;
  if (!Array.isArray(details) || details.every((d) => d.path === undefined || Array.isArray(d.path))) return envelope;
  return {
    ...envelope,
    details: details.map((d) =>
      typeof d.path === 'string' ? { ...d, path: d.path.split(/\.|\[(\d+)\]/).filter((s) => s !== undefined && s !== '') } : d,
    ),
  };
}
