export {
  Tracing,
  NO_TRACING,
  activeTraceIds,
  injectTraceContext,
  SpanKind,
  type Span,
  type SpanHandle,
  type TracingOptions,
} from './tracing.js';
export { tracingFromConfig } from './from-config.js';
