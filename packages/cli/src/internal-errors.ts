import { isInternalError, type InternalErrorCode, type InternalErrorPrefix } from '@controlplane/contracts';
import { CliError, EXIT } from './command.js';

/**
 * How the CLI presents an internal error (INTERNAL_ERROR_CODES, docs/errors.md): its message, and
 * the exit code (docs/cli.md) of the first rule whose code or `_`-ended prefix matches. The rules
 * depend on the command: a CA that cannot be read is a failure of `pki init` but a configuration
 * error when a service starts.
 */
export type ExitRule = readonly [match: InternalErrorCode | InternalErrorPrefix, exitCode: number];

/** Configuration the loader refused. */
export const CONFIG_EXITS: readonly ExitRule[] = [['CP_CONFIG_', EXIT.CONFIG]];

/** A service, `dev` or `bootstrap` starting from its configuration. */
export const STARTUP_EXITS: readonly ExitRule[] = [
  ['CP_COMPOSE_', EXIT.CONFIG],
  ['CP_TLS_', EXIT.CONFIG],
  ['CP_PKI_', EXIT.CONFIG],
  ['CP_REDIS_CONFIG_', EXIT.CONFIG],
  ['CP_REDIS_CONNECT_FAILED', EXIT.UNAVAILABLE],
  ['CP_MIGRATION_', EXIT.FAILURE],
];

/** `pki init`: what the operator asked for is refused (usage) or is already there (conflict). */
export const PKI_INIT_EXITS: readonly ExitRule[] = [
  ['CP_PKI_ALREADY_EXISTS', EXIT.CONFLICT],
  ['CP_PKI_SPIFFE_', EXIT.USAGE],
  ['CP_PKI_KEY_ALGORITHM_UNSUPPORTED', EXIT.USAGE],
  ['CP_PKI_KEY_TYPE_UNSUPPORTED', EXIT.USAGE],
  ['CP_PKI_ISSUANCE_PARAMETERS_INVALID', EXIT.USAGE],
  ['CP_PKI_', EXIT.FAILURE],
];

/** The encryption keyring commands (`keys init|rotate|status`) opening or creating the keyring. */
export const KEYRING_EXITS: readonly ExitRule[] = [
  ['CP_KEYRING_EXISTS', EXIT.CONFLICT],
  ['CP_KEYRING_', EXIT.CONFIG],
];

/** `keys rotate` starting a data-key rotation. */
export const ROTATION_EXITS: readonly ExitRule[] = [['CP_KEYS_ROTATION_IN_PROGRESS', EXIT.CONFLICT]];

/** `err` as the CLI shows it, or undefined when it is not an internal error any rule covers. */
export function cliErrorFor(err: unknown, rules: readonly ExitRule[]): CliError | undefined {
  if (!isInternalError(err)) return undefined;
  const rule = rules.find(([match]) => isInternalError(err, match));
  return rule && new CliError(err.message, rule[1]);
}
