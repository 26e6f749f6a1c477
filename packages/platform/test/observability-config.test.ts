// The observability settings: the metrics listener stays on loopback unless configured otherwise,
// and tracing is off until an OTLP endpoint is named by OpenTelemetry's standard variables, never
// in plaintext to another host.
import { describe, expect, it } from 'vitest';
import { loadConfig, METRICS_PORTS, tracingFromConfig } from '@controlplane/platform';

describe('metrics and tracing settings', () => {
  it('serves metrics on loopback by default, at each process’s own port', () => {
    const c = loadConfig({ env: {} });
    expect(c.metrics).toEqual({ enabled: true, listen: { host: '127.0.0.1' } });
    expect(new Set(Object.values(METRICS_PORTS)).size).toBe(4);
    const set = loadConfig({
      env: { CONTROLPLANE_METRICS_HOST: '0.0.0.0', CONTROLPLANE_METRICS_PORT: '9999', CONTROLPLANE_METRICS_ENABLED: 'false' },
    });
    expect(set.metrics).toEqual({ enabled: false, listen: { host: '0.0.0.0', port: 9999 } });
  });

  it('keeps tracing off until an endpoint is set, and off again when the standard variables say so', async () => {
    expect(tracingFromConfig(loadConfig({ env: {} }), 'gateway').enabled).toBe(false);
    const on = tracingFromConfig(loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' } }), 'gateway');
    expect(on.enabled).toBe(true);
    await on.shutdown();
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example:4318' };
    expect(tracingFromConfig(loadConfig({ env: { ...endpoint, OTEL_SDK_DISABLED: 'true' } }), 'gateway').enabled).toBe(false);
    expect(tracingFromConfig(loadConfig({ env: { ...endpoint, OTEL_TRACES_EXPORTER: 'none' } }), 'gateway').enabled).toBe(false);
    const traces = loadConfig({ env: { ...endpoint, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://other.example/v1/traces' } });
    expect(traces.tracing.tracesEndpoint).toBe('https://other.example/v1/traces');
  });

  it('refuses to send traces in plaintext to another host', () => {
    expect(() => loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.example:4318' } })).toThrow(
      /tracing\.endpoint: sends traces in plaintext to a non-local host/,
    );
    expect(() => loadConfig({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://collector.example/v1/traces' } })).toThrow(
      /tracing\.tracesEndpoint: must be an http\(s\):\/\/ URL/,
    );
  });
});
