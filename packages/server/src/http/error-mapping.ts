import { AppError, pointerToPath, toAppError, zodIssuesToDetails } from '@controlplane/contracts';
import { ZodError } from 'zod';

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  validation?: Array<{ instancePath?: string; message?: string; keyword?: string }>;
  validationContext?: string;
}

/**
 * Maps anything thrown while serving a request onto a registered error. Framework errors get
 * their own codes; everything unknown becomes INTERNAL, whose text never reaches the client.
 */
export function httpErrorFrom(err: unknown, limits: { bodyLimitBytes: number }): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return new AppError('VALIDATION_FAILED', { details: zodIssuesToDetails(err.issues), cause: err });
  const fe = (typeof err === 'object' && err !== null ? err : {}) as FastifyLikeError;
  if (fe.validation) {
    const ctx = fe.validationContext ?? 'body';
    return new AppError('VALIDATION_FAILED', {
      cause: err,
      details: fe.validation.slice(0, 100).map((v) => ({
        path: [ctx, ...pointerToPath(v.instancePath ?? '')],
        message: v.message ?? 'is not valid',
        ...(v.keyword ? { code: v.keyword } : {}),
      })),
    });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('BODY_TOO_LARGE', { params: { limit: limits.bodyLimitBytes }, cause: err });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', { cause: err });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('MALFORMED_JSON', { cause: err });
    case 'FST_ERR_NOT_FOUND':
      return new AppError('ROUTE_NOT_FOUND', { cause: err });
    default:
      break;
  }
  // Other 4xx framework errors (bad headers, aborted bodies) are the client's, not ours.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 && fe.code?.startsWith('FST_')) {
    return new AppError('VALIDATION_FAILED', { cause: err, message: 'The request could not be processed.' });
  }
  return toAppError(err);
}
