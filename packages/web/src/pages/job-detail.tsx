import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, send } from '../api.js';
import { Empty, ErrorState, JsonText, Loaded, SignedButton, Status, Time, useLoad } from '../components.js';
import { can, type PageContext } from '../context.js';
import type { Job } from './jobs.js';

interface JobEvent {
  id: string;
  type: string;
  timestamp: string;
  data?: unknown;
}

const TERMINAL = ['completed', 'failed', 'cancelled'];
/** JOB_EVENT_TYPES of @controlplane/contracts (not imported: it would bring Node's crypto into the page). */
const FINAL_EVENTS = ['job.completed', 'job.failed', 'job.cancelled', 'job.expired'];
const EVENT_TYPES = [
  'job.created',
  'job.queued',
  'job.started',
  'job.progress',
  'job.completed',
  'job.failed',
  'job.cancelled',
  'job.retrying',
  'job.expired',
];

export function JobDetailPage({ id, ctx }: { id: string; ctx: PageContext }) {
  const path = `/jobs/${encodeURIComponent(id)}`;
  // Re-read every 3 s as well, so the status stays right while the event stream reconnects.
  const job = useLoad(() => get<Job>(path), [id], 3_000);
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [live, setLive] = useState(false);
  const [actionError, setActionError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  // Bumped after an action: a retried job lives again, so its event stream is opened again.
  const [generation, setGeneration] = useState(0);
  const reloadJob = job.reload;

  // The live timeline: the job's events over Server-Sent Events, the job re-read at each one. The
  // browser reconnects a dropped stream by itself (resuming after the last event id); the stream is
  // closed here once the job has ended, and opened again after an action (a retried job lives again).
  useEffect(() => {
    setEvents([]);
    const source = new EventSource(`${path}/events`);
    const onEvent = (e: MessageEvent<string>) => {
      try {
        const ev = JSON.parse(e.data) as JobEvent;
        setEvents((list) => (list.some((x) => x.id === ev.id) ? list : [...list, ev]));
        reloadJob();
        if (FINAL_EVENTS.includes(ev.type)) {
          source.close();
          setLive(false);
        }
      } catch {
        // not an event of ours; ignore
      }
    };
    for (const t of EVENT_TYPES) source.addEventListener(t, onEvent as EventListener);
    source.onopen = () => setLive(true);
    source.onerror = () => setLive(source.readyState === EventSource.OPEN);
    return () => source.close();
  }, [path, reloadJob, generation]);

  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setActionError(null);
    try {
      await fn();
      job.reload();
      setGeneration((g) => g + 1);
    } catch (err) {
      setActionError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  if (job.state === 'error' && job.error instanceof ApiError && job.error.status === 404)
    return (
      <section>
        <h1>Job not found</h1>
        <Empty>There is no job with this id in your tenant.</Empty>
      </section>
    );
  return (
    <section>
      <h1>
        Job <span class="mono">{id}</span>
      </h1>
      <Loaded load={job}>
        {(j) => (
          <>
            <p class="job-head">
              <Status value={j.status} /> <span class="job-type">{j.request.type}</span> · updated <Time iso={j.updatedAt} />
            </p>
            <div class="actions">
              {can.cancel(ctx.session) && !TERMINAL.includes(j.status) && (
                <SignedButton
                  canSign={ctx.signer !== null}
                  label="Cancel job"
                  danger
                  busy={busy}
                  onClick={() => act(() => send('POST', `${path}/cancel`, undefined, ctx.signer!))}
                />
              )}
              {can.retry(ctx.session) && ['failed', 'cancelled'].includes(j.status) && (
                <button type="button" disabled={busy} onClick={() => act(() => send('POST', `${path}/retry`))}>
                  Retry
                </button>
              )}
            </div>
            {actionError && <ErrorState error={actionError} />}
            <div class="columns">
              <div>
                <h2>Request</h2>
                <JsonText value={j.request} />
                {j.result !== undefined && (
                  <>
                    <h2>Result</h2>
                    <JsonText value={j.result} />
                  </>
                )}
                {j.error !== undefined && (
                  <>
                    <h2>Error</h2>
                    <JsonText value={j.error} />
                  </>
                )}
              </div>
              <div>
                <h2>
                  Events <small class={live ? 'live' : 'muted'}>{live ? '● live' : 'not live'}</small>
                </h2>
                {events.length === 0 ? (
                  <Empty>No events yet.</Empty>
                ) : (
                  <ol class="timeline" data-testid="timeline">
                    {events.map((e) => (
                      <li key={e.id}>
                        <Time iso={e.timestamp} /> <span class="event-type">{e.type}</span>
                        {e.data !== undefined && <JsonText value={e.data} />}
                      </li>
                    ))}
                  </ol>
                )}
              </div>
            </div>
            <Attempts path={path} status={j.status} />
            <Provenance path={path} status={j.status} />
          </>
        )}
      </Loaded>
    </section>
  );
}

function Attempts({ path, status }: { path: string; status: string }) {
  const load = useLoad(() => get<{ attempts: Record<string, unknown>[] }>(`${path}/attempts`), [path, status]);
  return (
    <>
      <h2>Attempts</h2>
      <Loaded load={load}>
        {({ attempts }) =>
          attempts.length === 0 ? (
            <Empty>No attempt yet: no runner has taken this job.</Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>#</th>
                  <th>runner</th>
                  <th>started</th>
                  <th>finished</th>
                  <th>outcome</th>
                </tr>
              </thead>
              <tbody>
                {attempts.map((a) => (
                  <tr key={String(a.attempt)}>
                    <td class="num">{String(a.attempt)}</td>
                    <td class="mono">{String(a.runner_id ?? '—')}</td>
                    <td>
                      <Time iso={a.started_at as string | null} />
                    </td>
                    <td>
                      <Time iso={a.finished_at as string | null} />
                    </td>
                    <td>{a.outcome ? <Status value={String(a.outcome)} /> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Loaded>
    </>
  );
}

interface ProvenanceRecord {
  attempt: number;
  outcome: string;
  recordedAt: string;
  resultDigest: string;
  signatureValid?: boolean;
  runner: { id: string; spiffeId: string; certificate: { serialNumber: string; fingerprint256: string } };
}

function Provenance({ path, status }: { path: string; status: string }) {
  // A finished job's signed result reaches TruthCore a moment after the job ends: looked for again every 3 s.
  const load = useLoad(
    async () => {
      try {
        return await get<{ records: ProvenanceRecord[] }>(`${path}/provenance`);
      } catch (err) {
        // No recorded result yet is not an error here.
        if (err instanceof ApiError && err.status === 404) return { records: [] };
        throw err;
      }
    },
    [path, status],
    TERMINAL.includes(status) ? 3_000 : undefined,
  );
  return (
    <>
      <h2>Provenance</h2>
      <Loaded load={load}>
        {({ records }) =>
          records.length === 0 ? (
            <Empty>No signed result recorded yet.</Empty>
          ) : (
            <ul class="provenance">
              {records.map((r) => (
                <li key={r.attempt}>
                  Attempt {r.attempt}: <Status value={r.outcome} /> by runner <span class="mono">{r.runner.id}</span> (
                  <span class="mono">{r.runner.spiffeId}</span>), certificate <span class="mono">{r.runner.certificate.serialNumber}</span>,
                  signature{' '}
                  {r.signatureValid === true ? (
                    <strong class="ok">verified</strong>
                  ) : r.signatureValid === false ? (
                    <strong class="bad">does not verify</strong>
                  ) : (
                    <span class="muted">not checked</span>
                  )}
                  , recorded <Time iso={r.recordedAt} />
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
    </>
  );
}
