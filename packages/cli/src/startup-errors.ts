import { ControlPlaneError } from '@controlplane/client';
import { isInternalError } from '@controlplane/contracts';
import { CliError, EXIT } from './command.js';
import { STARTUP_EXITS, cliErrorFor } from './internal-errors.js';
import { describeError, exitCodeFor } from './connection.js';

// Errors that mean "PostgreSQL is not there for us" (network, unknown database, refused login,
// starting up) rather than a fault in what was asked of it.
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  '3D000',
  '28000',
  '28P01',
  '57P03',
]);

export function isDatabaseUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (UNREACHABLE.has(code) || code.startsWith('08'));
}

/** A start-up failure as the user should read it, with the exit code scripts rely on. */
export function startupError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (isInternalError(err, 'CP_REDIS_CONNECT_FAILED')) {
    return new CliError(`${err.message}; is Redis running, and is REDIS_URL right?`, EXIT.UNAVAILABLE);
  }
  if (isInternalError(err, 'CP_MIGRATION_')) return new CliError(`database migration failed: ${err.message}`, EXIT.FAILURE);
  const known = cliErrorFor(err, STARTUP_EXITS);
  if (known) return known;
  if (err instanceof ControlPlaneError) return new CliError(describeError(err), exitCodeFor(err));
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.code === 'EADDRINUSE') {
    return new CliError(
      `port ${e.port ?? '?'} on ${e.address ?? '?'} is in use: is another ControlPlane running? Stop it, or choose other ports (--gateway-port, --jobforge-port, --truthcore-port, --enroll-port)`,
      EXIT.UNAVAILABLE,
    );
  }
  if (isDatabaseUnreachable(err)) {
    return new CliError(`cannot reach the database: ${e.message}; is PostgreSQL running, and is DATABASE_URL right?`, EXIT.UNAVAILABLE);
  }
  // An internal error no rule covers names its code (docs/errors.md says what to do about it).
  const what = isInternalError(err) ? `${err.code}: ${err.message}` : ((err as Error)?.message ?? String(err));
  return new CliError(`could not start: ${what}`, EXIT.FAILURE);
}
