// The job state table against everything that must agree with it: the contract's statuses, the
// database's CHECK constraint and partial indexes (from the committed schema snapshot, which
// migrations.*.test.ts keep equal to real PostgreSQL and PGlite), the SQL of sql/jobforge, and the
// diagram in docs/jobforge.md.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { JOB_STATUSES, TERMINAL_JOB_STATUSES } from '@controlplane/contracts';
import {
  CLAIMABLE_STATES,
  fromStates,
  JOB_TRANSITION_EVENTS,
  JOB_TRANSITIONS,
  LEASED_STATES,
  renderJobStateDiagram,
  SCHEMA_SNAPSHOT_FILE,
  TERMINAL_STATES,
  transition,
  WAITING_STATES,
} from '@controlplane/server';

const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const snapshot = readFileSync(SCHEMA_SNAPSHOT_FILE, 'utf8');
const statesIn = (sqlList: string) => [...sqlList.matchAll(/'([a-z_]+)'::text/g)].map((m) => m[1]).sort();

describe('job state table', () => {
  it('uses exactly the contract statuses and agrees on the terminal ones', () => {
    const used = new Set(JOB_TRANSITIONS.flatMap((t) => (t.from ? [t.from, t.to] : [t.to])));
    expect([...used].sort()).toEqual([...JOB_STATUSES].sort());
    expect(TERMINAL_STATES).toEqual([...TERMINAL_JOB_STATUSES]);
    expect(CLAIMABLE_STATES).toEqual(['queued', 'retrying']);
    expect(LEASED_STATES).toEqual(['running']);
    expect(WAITING_STATES).toEqual(['pending', 'queued', 'retrying']);
  });

  it('is deterministic: one target per state and event, every event documented', () => {
    const seen = new Set<string>();
    for (const t of JOB_TRANSITIONS) {
      const key = `${t.from}|${t.event}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
      expect(JOB_TRANSITION_EVENTS[t.event]).toBeTruthy();
    }
    expect(Object.keys(JOB_TRANSITION_EVENTS).sort()).toEqual([...new Set(JOB_TRANSITIONS.map((t) => t.event))].sort());
    expect(transition('completed', 'cancel')).toBeUndefined();
    expect(transition('running', 'cancel')).toBe('cancelled');
  });

  it("matches the database's status CHECK constraint and the partial indexes' predicates", () => {
    const check = /CONSTRAINT jobs_status_check CHECK \((.*)\)$/m.exec(snapshot);
    expect(check, 'jobs_status_check in the schema snapshot').not.toBeNull();
    expect(statesIn(check![1]!)).toEqual([...JOB_STATUSES].sort());
    const predicate = (index: string) => statesIn(new RegExp(`INDEX ${index} .* WHERE (.*)$`, 'm').exec(snapshot)![1]!);
    // The planner uses a partial index only when the statement's list implies its predicate.
    expect(predicate('jobs_ready_idx')).toEqual([...CLAIMABLE_STATES].sort());
    expect(predicate('jobs_lease_expiry_idx')).toEqual([...LEASED_STATES].sort());
    expect(predicate('jobs_expiry_idx')).toEqual(fromStates('expire').sort());
  });

  it('is what docs/jobforge.md shows', () => {
    const text = readFileSync(repo('docs/jobforge.md'), 'utf8');
    const m = /<!-- job-states:begin -->\n([\s\S]*?)\n<!-- job-states:end -->/.exec(text);
    expect(m, 'docs/jobforge.md needs the job-states markers').not.toBeNull();
    expect(m![1]).toBe(renderJobStateDiagram());
  });

  it('is the only place job statuses are written in JobForge SQL (macros, not literals)', () => {
    const dir = repo('packages/server/sql/jobforge');
    const statuses = JOB_STATUSES.join('|');
    // A jobs.status compared with or set to a literal (runners.status, `r.status`, is another column).
    const literal = new RegExp(`(?<![a-z_.])(?:j\\.)?status\\s*(?:=|<>|!=|in\\s*\\()\\s*'(?:${statuses})'`, 'i');
    const files = readdirSync(dir).filter((f) => f.endsWith('.sql'));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) expect(readFileSync(`${dir}/${f}`, 'utf8'), f).not.toMatch(literal);
  });
});
