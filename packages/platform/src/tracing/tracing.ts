import {
  context,
  propagation,
  trace,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export { SpanKind } from '@opentelemetry/api';
export type { Span } from '@opentelemetry/api';

type Carrier = Record<string, string | string[] | undefined>;

let globalsInstalled = false;

/** Async context and W3C trace-context propagation, once per process, when a tracer is first made. */
function installGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

export interface TracingOptions {
  /** `service.name` of the spans: gateway, jobforge, truthcore, runner. */
  serviceName: string;
  /** The OTLP/HTTP traces endpoint (…/v1/traces). */
  url: string;
  version?: string | undefined;
}

/**
 * OpenTelemetry tracing for one service: spans exported over OTLP/HTTP, parents carried in W3C
 * `traceparent` headers and job envelopes. Disabled (the default), every method is a no-op that
 * costs a branch. Only what the callers pass becomes a span attribute, and they pass names,
 * states and counts: never a payload, result, key or token (docs/observability.md, Tracing).
 */
export class Tracing {
  readonly #tracer: Tracer | undefined;
  readonly #provider: BasicTracerProvider | undefined;

  constructor(o?: TracingOptions) {
    if (!o) return;
    installGlobals();
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': o.serviceName, ...(o.version ? { 'service.version': o.version } : {}) }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: o.url }), { scheduledDelayMillis: 1_000 })],
    });
    this.#tracer = this.#provider.getTracer('controlplane', o.version);
  }

  get enabled(): boolean {
    return this.#tracer !== undefined;
  }

  /**
   * A span whose parent is the trace context in `carrier` (a request's headers, or an envelope's
   * `{ traceparent }`), else the active one; with `fn` run inside it and the span ended after.
   */
  async inSpan<T>(
    name: string,
    o: { kind?: SpanKind; attributes?: Attributes; carrier?: Carrier | undefined },
    fn: (span: Span | undefined) => Promise<T>,
  ): Promise<T> {
    const tracer = this.#tracer;
    if (!tracer) return fn(undefined);
    const parent = o.carrier ? propagation.extract(context.active(), o.carrier) : context.active();
    const span = tracer.startSpan(
      name,
      { kind: o.kind ?? SpanKind.INTERNAL, ...(o.attributes ? { attributes: o.attributes } : {}) },
      parent,
    );
    try {
      return await context.with(trace.setSpan(parent, span), () => fn(span));
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as { code?: string }).code ?? 'error' });
      throw err;
    } finally {
      span.end();
    }
  }

  /** Starts a span for work whose end comes later (a request), parented as in inSpan. */
  startSpan(name: string, o: { kind?: SpanKind; attributes?: Attributes; carrier?: Carrier | undefined }): SpanHandle | undefined {
    const tracer = this.#tracer;
    if (!tracer) return undefined;
    const parent = o.carrier ? propagation.extract(context.active(), o.carrier) : context.active();
    const span = tracer.startSpan(
      name,
      { kind: o.kind ?? SpanKind.INTERNAL, ...(o.attributes ? { attributes: o.attributes } : {}) },
      parent,
    );
    return { span, context: trace.setSpan(parent, span) };
  }

  /** Runs `fn` with `handle`'s span active (nothing to do without one). */
  within<T>(handle: SpanHandle | undefined, fn: () => T): T {
    return handle ? context.with(handle.context, fn) : fn();
  }

  /** Writes the active trace context into outgoing headers (`traceparent`, `tracestate`). */
  inject(headers: Record<string, string>): void {
    if (this.#tracer) propagation.inject(context.active(), headers);
  }

  /** The active span's `traceparent`, to carry in a job; undefined when tracing is off or no span is active. */
  traceparent(): string | undefined {
    if (!this.#tracer) return undefined;
    const carrier: Record<string, string> = {};
    propagation.inject(context.active(), carrier);
    return carrier.traceparent;
  }

  /** Sends the spans still buffered (tests, and at shutdown). */
  async flush(): Promise<void> {
    await this.#provider?.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.#provider?.shutdown();
  }
}

export interface SpanHandle {
  span: Span;
  context: Context;
}

/** Tracing that does nothing: the default. */
export const NO_TRACING = new Tracing();

/** Writes the active trace context, if any, into outgoing headers (`traceparent`, `tracestate`). */
export function injectTraceContext(headers: Record<string, string>): void {
  if (globalsInstalled) propagation.inject(context.active(), headers);
}

/** The active span's trace and span ids, for log lines; nothing outside a recorded span. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!globalsInstalled) return undefined;
  const sc = trace.getSpan(context.active())?.spanContext();
  return sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : undefined;
}
