// The alert rules and the Grafana dashboard under deploy/, checked by Prometheus's own tool: the
// rules load (`promtool check rules`) and pass their unit tests (`promtool test rules`), every
// dashboard query is valid PromQL, and every metric either of them names is one the services or
// the runner actually export. promtool comes from Debian's prometheus package (.ci/run installs it).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '@controlplane/platform';
import { RunnerMetrics } from '@controlplane/runner';
import { ServerMetrics } from '@controlplane/server';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROMETHEUS_DIR = join(ROOT, 'deploy', 'prometheus');
const ALERTS = readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8');
const DASHBOARD = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'controlplane.json'), 'utf8')) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};

function promtool(args: string[], cwd = PROMETHEUS_DIR): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is needed (Debian: apt-get install prometheus; .ci/run installs it): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Every metric name the processes export, histograms with their series' suffixes. */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const registry of [new ServerMetrics({ registry: createMetricsRegistry() }).registry, new RunnerMetrics().registry]) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    }
  }
  return names;
}

/** Metric names in a PromQL expression: identifiers followed by a selector, a range or an operator. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:controlplane|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

describe('alert rules and dashboard', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'cp-alert-rules-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('loads the alert rules', () => {
    const r = promtool(['check', 'rules', 'alerts.yml']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes the rules’ unit tests', () => {
    const r = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(r.status, r.out).toBe(0);
  });

  it('has an alert for each situation docs/observability.md names, each unit-tested', () => {
    const alerts = [...ALERTS.matchAll(/^\s*- alert: (\S+)$/gm)].map((m) => m[1]!);
    expect(alerts.sort()).toEqual(
      [
        'ControlPlaneAuditAppendFailing',
        'ControlPlaneBreakerOpen',
        'ControlPlaneCertificateExpiringSoon',
        'ControlPlaneDeadLetterGrowth',
        'ControlPlaneNoRunnerForQueuedJobs',
        'ControlPlaneOutboxLag',
        'ControlPlaneQueueOldestJobTooOld',
      ].sort(),
    );
    const tests = readFileSync(join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8');
    const docs = readFileSync(join(ROOT, 'docs', 'observability.md'), 'utf8');
    for (const a of alerts) {
      expect(tests, a).toMatch(new RegExp(`alertname: ${a}\\n\\s+exp_alerts:\\n\\s+- exp_labels`));
      expect(docs, a).toContain(a);
    }
  });

  it('asks only valid PromQL of Grafana', () => {
    // Each panel query as a recording rule: promtool parses every expression of a rule file.
    const exprs = DASHBOARD.panels.flatMap((p) => p.targets.map((t) => t.expr.replaceAll('$tenant', '.*')));
    expect(exprs.length).toBeGreaterThan(10);
    const rules = exprs.map((e, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(e)}`).join('\n');
    writeFileSync(join(scratch, 'dashboard.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
    const r = promtool(['check', 'rules', 'dashboard.yml'], scratch);
    expect(r.status, r.out).toBe(0);
  });

  it('names only metrics the services and the runner export, and the docs explain each of them', async () => {
    const exported = await exportedNames();
    const used = new Set([...metricsIn(ALERTS), ...DASHBOARD.panels.flatMap((p) => p.targets.flatMap((t) => metricsIn(t.expr)))]);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
    const docs = readFileSync(join(ROOT, 'docs', 'observability.md'), 'utf8');
    const ours = [...exported].filter((n) => n.startsWith('controlplane_') && !/_(bucket|sum|count)$/.test(n));
    expect(ours.filter((n) => !docs.includes(`\`${n}\``))).toEqual([]);
  });
});
