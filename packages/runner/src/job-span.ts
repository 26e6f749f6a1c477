import type { JobEnvelope } from '@controlplane/contracts';
import { SpanKind, type Span, type Tracing } from '@controlplane/platform';

/**
 * Runs `fn` in a span `run <type>` that continues the trace the job was submitted under (its
 * envelope's traceparent), when tracing is on. Names and counts only become attributes: never the
 * payload, the result or an error's message.
 */
export function inJobSpan(tracing: Tracing | undefined, env: JobEnvelope, fn: (span?: Span) => Promise<void>): Promise<void> {
  if (!tracing?.enabled) return fn();
  return tracing.inSpan(
    `run ${env.type}`,
    {
      kind: SpanKind.CONSUMER,
      carrier: env.traceparent ? { traceparent: env.traceparent } : undefined,
      attributes: { 'controlplane.service': 'runner', 'controlplane.job.type': env.type, 'controlplane.job.attempt': env.attempt },
    },
    (span) => fn(span),
  );
}
