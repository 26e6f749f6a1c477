import { FOUNDATION_ERROR_CODES } from './internal-error-codes-foundation.js';
import { SERVICE_ERROR_CODES } from './internal-error-codes-services.js';

export interface InternalErrorSpec {
  /** The message; `{name}` placeholders are filled from the error's params. */
  readonly message: string;
  /** What an operator should do about it. */
  readonly hint: string;
}

/**
 * The one registry of internal error codes: failures that operators see in logs and CLI output and
 * that never reach an API answer (at the HTTP boundary every one of them becomes INTERNAL).
 * docs/errors.md documents every entry (a test keeps the two in step). Callers branch on the code
 * or on a prefix of it (`isInternalError(err, 'CP_TLS_')`), never on message text.
 */
export const INTERNAL_ERROR_CODES = { ...FOUNDATION_ERROR_CODES, ...SERVICE_ERROR_CODES } as const satisfies Record<
  string,
  InternalErrorSpec
>;

export type InternalErrorCode = keyof typeof INTERNAL_ERROR_CODES;
