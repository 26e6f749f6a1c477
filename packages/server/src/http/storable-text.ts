import { AppError, detailPath, type ErrorDetail } from '@controlplane/contracts';

// PostgreSQL cannot hold a NUL character in text or jsonb, and refuses a UTF-16 surrogate without
// its pair in jsonb (in text it would be silently replaced). Such a string is refused at the door,
// with the path where it is, before any handler could carry it to a query.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex
const UNSTORABLE_ALL = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** A JSON text can only produce such a string through an escape (raw ones are invalid JSON or UTF-8). */
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/;
const MAX_DETAILS = 20;

/** True when PostgreSQL can store the string as it is. */
export function isStorableText(s: string): boolean {
  return !UNSTORABLE.test(s);
}

function problem(s: string): string {
  return s.includes('\u0000')
    ? 'contains a NUL character (U+0000), which cannot be stored'
    : 'contains an unpaired UTF-16 surrogate, which cannot be stored';
}

/** A path segment safe to send back: the offending characters replaced by U+FFFD. */
const shown = (key: string) => key.replace(UNSTORABLE_ALL, '\ufffd');

/** Every string (values and keys) in a JSON-like value that PostgreSQL cannot hold, as details with paths. */
export function unstorableStrings(value: unknown, prefix: readonly string[] = []): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const walk = (v: unknown, path: string[]): void => {
    if (out.length >= MAX_DETAILS) return;
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) out.push({ path: detailPath(path), message: problem(v), code: 'unstorable_character' });
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, [...path, String(i)]));
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        if (UNSTORABLE.test(k)) {
          if (out.length < MAX_DETAILS)
            out.push({ path: detailPath([...path, shown(k)]), message: `is a key that ${problem(k)}`, code: 'unstorable_character' });
        }
        walk(item, [...path, shown(k)]);
      }
    }
  };
  walk(value, [...prefix]);
  return out;
}

/** Throws VALIDATION_FAILED naming every unstorable string in the value. */
export function assertStorable(value: unknown, prefix: readonly string[] = []): void {
  const details = unstorableStrings(value, prefix);
  if (details.length > 0) throw new AppError('VALIDATION_FAILED', { details });
}

/** For a JSON text about to be parsed: whether its value could hold an unstorable string at all. */
export function mayHoldUnstorable(jsonText: string): boolean {
  return SUSPECT_ESCAPE.test(jsonText);
}
