import { useState } from 'preact/hooks';
import { get, q } from '../api.js';
import { Empty, FilterInput, Loaded, Status, Time, useLoad } from '../components.js';

export interface Job {
  id: string;
  status: string;
  request: { type: string; priority?: number; payload?: { data?: unknown }; metadata?: { createdAt?: string } };
  result?: unknown;
  error?: { code?: string; message?: string } & Record<string, unknown>;
  updatedAt: string;
}

const STATUSES = ['', 'pending', 'queued', 'running', 'retrying', 'completed', 'failed', 'cancelled'];

/** Filters live in the URL (`#/jobs?status=&type=`), so a filtered list can be linked and reloaded. */
export function JobsPage({ params, deadLetters }: { params: URLSearchParams; deadLetters?: boolean }) {
  const status = params.get('status') ?? '';
  const type = params.get('type') ?? '';
  // The cursors of the pages before this one: "newer" pops one, "older" pushes the current one.
  const [cursors, setCursors] = useState<string[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const load = useLoad(
    () =>
      get<{ jobs: Job[]; nextCursor: string | null }>(
        `/jobs${q({ status, type, deadLettered: deadLetters ? 'true' : undefined, limit: 25, cursor })}`,
      ),
    [status, type, cursor, deadLetters],
  );
  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setCursors([]);
    setCursor(undefined);
    const s = next.toString();
    location.hash = `${deadLetters ? '#/dead-letters' : '#/jobs'}${s ? `?${s}` : ''}`;
  };
  return (
    <section>
      <h1>{deadLetters ? 'Dead letters' : 'Jobs'}</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        {!deadLetters && (
          <label>
            Status{' '}
            <select name="status" value={status} onChange={(e) => setFilter('status', (e.target as HTMLSelectElement).value)}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s || 'any'}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Type <FilterInput name="type" value={type} placeholder="any" onApply={(v) => setFilter('type', v)} />
        </label>
      </form>
      <Loaded load={load}>
        {(page) =>
          page.jobs.length === 0 ? (
            <Empty>{deadLetters ? 'No dead letters.' : status || type ? 'No job matches these filters.' : 'No jobs yet.'}</Empty>
          ) : (
            <>
              <table class="list" data-testid="jobs-table">
                <thead>
                  <tr>
                    <th>job</th>
                    <th>type</th>
                    <th>status</th>
                    <th>updated</th>
                  </tr>
                </thead>
                <tbody>
                  {page.jobs.map((j) => (
                    <tr key={j.id} data-job-id={j.id}>
                      <td>
                        <a class="mono" href={`#/jobs/${encodeURIComponent(j.id)}`}>
                          {j.id.slice(0, 8)}
                        </a>
                      </td>
                      <td class="job-type">{j.request.type}</td>
                      <td>
                        <Status value={j.status} />
                      </td>
                      <td>
                        <Time iso={j.updatedAt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <nav class="pager">
                <button
                  type="button"
                  disabled={cursors.length === 0}
                  onClick={() => {
                    const prev = [...cursors];
                    const c = prev.pop();
                    setCursors(prev);
                    setCursor(c === '' ? undefined : c);
                  }}
                >
                  ← Newer
                </button>
                <button
                  type="button"
                  disabled={!page.nextCursor}
                  onClick={() => {
                    setCursors([...cursors, cursor ?? '']);
                    setCursor(page.nextCursor ?? undefined);
                  }}
                >
                  Older →
                </button>
              </nav>
            </>
          )
        }
      </Loaded>
    </section>
  );
}
