export {
  type RequestContext,
  CORRELATION_HEADER,
  CAUSATION_HEADER,
  isValidCorrelationId,
  newCorrelationId,
  correlationIdFrom,
  runWithContext,
  currentContext,
  currentCorrelationId,
} from './correlation.js';
export { createLogger, REDACT_PATHS, REDACTED, type Logger, type CreateLoggerOptions } from './logger.js';
