// Prometheus text scraped from a metrics listener, read twice: by Prometheus's own parser and
// linter (`promtool check metrics`, from the Debian package prometheus that .ci/run installs), which
// refuses anything Prometheus could not scrape, and by parse-prometheus-text-format for the values.
// That parser folds a histogram's labelled series into one, so histograms are read as the plain
// series they are made of (`<name>_bucket`, `_sum`, `_count`).
import { spawnSync } from 'node:child_process';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export type Labels = Record<string, string>;

interface Sample {
  labels?: Labels;
  value?: string;
  count?: string;
  sum?: string;
  buckets?: Record<string, string>;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Sample[];
}

export class Scrape {
  readonly families: Map<string, MetricFamily>;
  readonly #histograms = new Set<string>();

  constructor(readonly text: string) {
    const untypedHistograms = text.replace(/^# TYPE (\S+) histogram$/gm, (_line, name: string) => {
      this.#histograms.add(name);
      return `# TYPE ${name} untyped`;
    });
    const parsed = (parsePrometheusTextFormat as (t: string) => MetricFamily[])(untypedHistograms);
    // A histogram's series alternate (_bucket…, _sum, _count per label set): gather each name's runs.
    this.families = new Map();
    for (const f of parsed) {
      const seen = this.families.get(f.name);
      if (seen) seen.metrics.push(...f.metrics);
      else this.families.set(f.name, { ...f, metrics: [...f.metrics] });
    }
  }

  has(name: string): boolean {
    return this.families.has(this.#histograms.has(name) ? `${name}_count` : name);
  }

  #matching(name: string, labels: Labels): Sample[] {
    const f = this.families.get(this.#histograms.has(name) ? `${name}_count` : name);
    if (!f) return [];
    return f.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  }

  /** The sum of the values (for a histogram, of the observation counts) of every series matching `labels`. */
  value(name: string, labels: Labels = {}): number {
    return this.#matching(name, labels).reduce((n, m) => n + Number(m.value ?? 0), 0);
  }

  /** Whether some series of `name` matches `labels`. */
  hasSeries(name: string, labels: Labels = {}): boolean {
    return this.#matching(name, labels).length > 0;
  }

  /** Every label (name and value) of every series, for checks on what labels may hold. */
  labels(): Array<[string, string]> {
    return [...this.families.values()].flatMap((f) => f.metrics.flatMap((m) => Object.entries(m.labels ?? {})));
  }
}

export async function scrape(metricsUrl: string): Promise<Scrape> {
  const res = await fetch(metricsUrl);
  if (res.status !== 200) throw new Error(`GET ${metricsUrl} answered ${res.status}`);
  return new Scrape(await res.text());
}

/**
 * What `promtool check metrics` says of an exposition: whether Prometheus parses it, and its lint
 * problems (naming conventions), one per line. Throws when promtool is not installed: the Debian
 * package `prometheus` provides it (.ci/run installs it).
 */
export function promtoolCheckMetrics(text: string): { parsed: boolean; problems: string[] } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is needed to check the metrics (apt-get install prometheus): ${r.error.message}`);
  // 0: clean; 3: parsed, with lint problems; anything else: Prometheus could not read it.
  const out = `${r.stdout}${r.stderr}`.trim();
  return { parsed: r.status === 0 || r.status === 3, problems: out ? out.split('\n') : [] };
}
