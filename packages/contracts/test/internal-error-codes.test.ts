import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  INTERNAL_ERROR_CODES,
  InternalError,
  errorBody,
  isInternalError,
  isInternalErrorCode,
  toAppError,
} from '@controlplane/contracts';

const docs = readFileSync(fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)), 'utf8');
const SECTION_HEADING = '## Internal error codes (for operators)';

/** The rows of the internal section: code → [message, what to do], as the reader sees them. */
function documentedRows(): Map<string, [string, string]> {
  const start = docs.indexOf(SECTION_HEADING);
  expect(start, `docs/errors.md has no "${SECTION_HEADING}" section`).toBeGreaterThan(-1);
  const rest = docs.slice(start + SECTION_HEADING.length);
  const end = rest.search(/^## /m);
  const section = end === -1 ? rest : rest.slice(0, end);
  const rows = new Map<string, [string, string]>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // | `CP_X` | message | what to do |  →  ['', '`CP_X`', message, hint, '']
    const code = /^`(CP_\w+)`$/.exec(cells[1] ?? '')?.[1];
    if (!code) continue;
    expect(cells, `row of ${code}`).toHaveLength(5);
    rows.set(code, [unescapeHtml(cells[2] ?? ''), unescapeHtml(cells[3] ?? '')]);
  }
  return rows;
}

/** Outside code spans the docs write < and > as entities, so that <dir> shows. */
const unescapeHtml = (text: string) => text.replaceAll('&lt;', '<').replaceAll('&gt;', '>');

/** A message as one table cell: line breaks become spaces. */
const asCell = (text: string) => text.replace(/\s*\n\s*/g, ' ');

describe('internal error registry', () => {
  const rows = documentedRows();

  it.each(Object.entries(INTERNAL_ERROR_CODES))('%s is documented for operators with its message and what to do', (code, spec) => {
    const row = rows.get(code);
    expect(row, `docs/errors.md has no row for ${code} in its internal section`).toBeDefined();
    expect(row?.[0]).toBe(asCell(spec.message));
    expect(row?.[1]).toBe(spec.hint);
  });

  it('documents no code the registry lacks', () => {
    expect([...rows.keys()].filter((code) => !isInternalErrorCode(code))).toEqual([]);
  });

  it('names codes CP_<AREA>_<WHAT>, apart from the public codes, with templates a table can hold', () => {
    for (const [code, spec] of Object.entries(INTERNAL_ERROR_CODES)) {
      expect(code).toMatch(/^CP_[A-Z0-9]+(_[A-Z0-9]+)+$/);
      expect(Object.keys(ERROR_CODES)).not.toContain(code);
      expect(spec.message.includes('|') || spec.hint.includes('|'), code).toBe(false);
      expect(spec.hint.length, code).toBeGreaterThan(0);
      // Every brace is a {name} placeholder, so a template never shows a stray one.
      expect(spec.message.replace(/\{\w+\}/g, ''), code).not.toMatch(/[{}]/);
    }
  });
});

describe('InternalError', () => {
  it('fills its message from params and keeps code, params, cause and the hint', () => {
    const cause = new Error('ENOENT');
    const err = new InternalError('CP_PKI_CA_NOT_FOUND', { params: { path: '/d/ca.crt', dir: '/d' }, cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('InternalError');
    expect(err.message).toBe('No CA at /d/ca.crt. Run `controlplane pki init --dir /d` to create one.');
    expect(err.code).toBe('CP_PKI_CA_NOT_FOUND');
    expect(err.params).toEqual({ path: '/d/ca.crt', dir: '/d' });
    expect(err.cause).toBe(cause);
    expect(err.hint).toBe(INTERNAL_ERROR_CODES.CP_PKI_CA_NOT_FOUND.hint);
    expect(new InternalError('CP_STORAGE_NESTED_TRANSACTION')).not.toHaveProperty('cause');
  });

  it('is recognised by code or by a prefix ending in _', () => {
    const err: unknown = new InternalError('CP_TLS_CERT_EXPIRED', { params: { file: 'x.crt', validTo: '2020-01-01T00:00:00.000Z' } });
    expect(isInternalError(err)).toBe(true);
    expect(isInternalError(err, 'CP_TLS_CERT_EXPIRED')).toBe(true);
    expect(isInternalError(err, 'CP_TLS_')).toBe(true);
    expect(isInternalError(err, 'CP_TLS_CERT_')).toBe(true);
    expect(isInternalError(err, 'CP_TLS_PEER_')).toBe(false);
    expect(isInternalError(err, 'CP_TLS_CERT_NOT_YET_VALID')).toBe(false);
    expect(isInternalError(new Error('CP_TLS_CERT_EXPIRED'), 'CP_TLS_')).toBe(false);
    expect(isInternalError({ code: 'CP_TLS_CERT_EXPIRED' })).toBe(false);
  });

  it('becomes INTERNAL at the API boundary: no code, message or params in the envelope', () => {
    const err = new InternalError('CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED', { params: { where: 'jobs.request of row row-SECRET-1' } });
    const appErr = toAppError(err);
    expect(appErr.code).toBe('INTERNAL');
    expect(appErr.cause).toBe(err);
    const text = JSON.stringify(errorBody(err, { service: 'gateway' }));
    for (const leak of ['CP_', 'Cannot decrypt', 'row-SECRET-1', 'InternalError']) expect(text).not.toContain(leak);
  });
});
