import type { Config } from '../config/index.js';
import { NO_TRACING, Tracing } from './tracing.js';

/**
 * The service's tracing as configured: on when an OTLP endpoint is set and neither
 * OTEL_SDK_DISABLED nor an OTEL_TRACES_EXPORTER without `otlp` turns it off. As OpenTelemetry
 * specifies, OTEL_EXPORTER_OTLP_ENDPOINT is a base URL (traces go to `/v1/traces` under it) and
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is.
 */
export function tracingFromConfig(config: Readonly<Config>, serviceName: string, version?: string): Tracing {
  const t = config.tracing;
  const exporters = t.exporter.split(',').map((e) => e.trim());
  if (t.disabled || !exporters.includes('otlp')) return NO_TRACING;
  const url = t.tracesEndpoint ?? (t.endpoint ? `${t.endpoint.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!url) return NO_TRACING;
  return new Tracing({ serviceName, url, version });
}
