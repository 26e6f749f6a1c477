import { get } from '../api.js';
import { ago, Empty, Loaded, Status, useLoad } from '../components.js';

interface Overview {
  queues: Array<{ type: string; depth: number; oldestAgeSeconds: number }>;
  jobsByStatus: Record<string, number>;
  runnersByState: Record<string, number>;
  deadLetters: number;
}

export function OverviewPage() {
  // Live: refreshed every 5 s while the page is open.
  const load = useLoad(() => get<Overview>('/overview'), [], 5_000);
  return (
    <section>
      <h1>Overview</h1>
      <Loaded load={load}>
        {(o) => (
          <div class="cards">
            <div class="card">
              <h2>Queues</h2>
              {o.queues.length === 0 ? (
                <Empty>No job is waiting.</Empty>
              ) : (
                <table>
                  <thead>
                    <tr>
                      <th>type</th>
                      <th>waiting</th>
                      <th>oldest</th>
                    </tr>
                  </thead>
                  <tbody>
                    {o.queues.map((q) => (
                      <tr key={q.type}>
                        <td>
                          <a href={`#/jobs?type=${encodeURIComponent(q.type)}`}>{q.type}</a>
                        </td>
                        <td class="num">{q.depth}</td>
                        <td class="num">{ago(q.oldestAgeSeconds)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
            <div class="card">
              <h2>Jobs by status</h2>
              <Counts counts={o.jobsByStatus} empty="No jobs yet." link={(s) => `#/jobs?status=${s}`} />
            </div>
            <div class="card">
              <h2>Runners by state</h2>
              <Counts counts={o.runnersByState} empty="No runner has enrolled." />
            </div>
            <div class="card">
              <h2>Dead letters</h2>
              <p class="big">
                <a href="#/dead-letters" data-testid="dead-letter-count">
                  {o.deadLetters}
                </a>
              </p>
            </div>
          </div>
        )}
      </Loaded>
    </section>
  );
}

function Counts({ counts, empty, link }: { counts: Record<string, number>; empty: string; link?: (k: string) => string }) {
  const entries = Object.entries(counts);
  if (entries.length === 0) return <Empty>{empty}</Empty>;
  return (
    <ul class="counts">
      {entries.map(([k, n]) => (
        <li key={k}>
          {link ? (
            <a href={link(k)}>
              <Status value={k} />
            </a>
          ) : (
            <Status value={k} />
          )}
          <span class="num">{n}</span>
        </li>
      ))}
    </ul>
  );
}
