import { INTERNAL_ERROR_CODES, type InternalErrorCode } from './internal-error-codes.js';
import { fillTemplate, type ErrorParams, type Placeholders } from './message-template.js';

type TemplateOf<C extends InternalErrorCode> = (typeof INTERNAL_ERROR_CODES)[C]['message'];

/** The params a code's message needs (every placeholder of its template); more may be given for the log. */
export type InternalErrorParams<C extends InternalErrorCode> = {
  readonly [K in Placeholders<TemplateOf<C>>]: string | number | boolean;
} & ErrorParams;

export type InternalErrorOptions<C extends InternalErrorCode> = ([Placeholders<TemplateOf<C>>] extends [never]
  ? { params?: ErrorParams }
  : { params: InternalErrorParams<C> }) & {
  /** The underlying error, kept for the log. */
  cause?: unknown;
};

/** Options are required exactly when the code's message has placeholders. */
type InternalErrorArgs<C extends InternalErrorCode> = [Placeholders<TemplateOf<C>>] extends [never]
  ? [options?: InternalErrorOptions<C>]
  : [options: InternalErrorOptions<C>];

/** Every `_`-ended prefix of the codes: `CP_`, `CP_TLS_`, `CP_TLS_PEER_`, … */
type PrefixesOf<S extends string, Before extends string = ''> = S extends `${infer Part}_${infer Rest}`
  ? `${Before}${Part}_` | PrefixesOf<Rest, `${Before}${Part}_`>
  : never;
export type InternalErrorPrefix = PrefixesOf<InternalErrorCode>;

type CodesMatching<M extends InternalErrorCode | InternalErrorPrefix> = M extends InternalErrorCode
  ? M
  : Extract<InternalErrorCode, `${M}${string}`>;

/**
 * A failure inside ControlPlane with a registered internal code (INTERNAL_ERROR_CODES): for logs and
 * CLI output, never for an API answer (toAppError makes it INTERNAL). The message is the code's
 * template filled from `params`.
 */
export class InternalError<C extends InternalErrorCode = InternalErrorCode> extends Error {
  readonly code: C;
  readonly params: ErrorParams;

  constructor(code: C, ...[options]: InternalErrorArgs<C>) {
    const params: ErrorParams = options?.params ?? {};
    super(fillTemplate(INTERNAL_ERROR_CODES[code].message, params), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InternalError';
    this.code = code;
    this.params = params;
  }

  /** What an operator should do about it. */
  get hint(): string {
    return INTERNAL_ERROR_CODES[this.code].hint;
  }
}

/**
 * Whether `err` is an InternalError, optionally with one code (`'CP_KEYRING_EXISTS'`) or any code
 * under a prefix ending in `_` (`'CP_TLS_'`).
 */
export function isInternalError<M extends InternalErrorCode | InternalErrorPrefix = InternalErrorCode>(
  err: unknown,
  match?: M,
): err is InternalError<CodesMatching<M>> {
  if (!(err instanceof InternalError)) return false;
  if (match === undefined) return true;
  return match.endsWith('_') ? err.code.startsWith(match) : err.code === match;
}

export function isInternalErrorCode(code: string): code is InternalErrorCode {
  return Object.prototype.hasOwnProperty.call(INTERNAL_ERROR_CODES, code);
}
