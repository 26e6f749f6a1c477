declare module 'parse-prometheus-text-format' {
  /** The metric families of a Prometheus text exposition (see test/support/prometheus.ts for their shape). */
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
