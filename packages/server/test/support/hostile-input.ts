// fast-check arbitraries for hostile input: strings that mix any code point with what PostgreSQL
// cannot hold (NUL, unpaired surrogates), JSON built from them, and URL path segments (encoded,
// raw, over-long, traversal, broken escapes).
import fc from 'fast-check';

const unit = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udc00', '"', '\\', '/', '%', '.') },
  { weight: 6, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

export const hostileString = () => fc.string({ unit, maxLength: 40 });

export const hostileJson = () => fc.jsonValue({ stringUnit: unit, maxDepth: 3 });

/** A URL path segment: percent-encoded text, a UUID, or something a router must refuse cleanly. */
export const hostileSegment = () =>
  fc.oneof(
    hostileString().map((s) => {
      try {
        return encodeURIComponent(s) || 'x';
      } catch {
        return '%ED%A0%80';
      }
    }),
    fc.uuid(),
    fc.constantFrom('..', '%2e%2e', '%00', '%ZZ', '%E0%A4%A', 'a'.repeat(300), '%2F..%2Fadmin', 'default', 'dev'),
  );
