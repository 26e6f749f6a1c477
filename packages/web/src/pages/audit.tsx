import { useState } from 'preact/hooks';
import { get, q } from '../api.js';
import { Empty, FilterInput, JsonText, Loaded, Status, Time, useLoad } from '../components.js';

interface AuditEvent {
  id: string;
  seq?: number | string;
  occurredAt?: string;
  tenantId: string | null;
  actor: { kind: string; id: string };
  action: string;
  resource?: { kind: string; id: string } | null;
  outcome: string;
  details?: unknown;
  hash?: string;
  prevHash?: string;
}

export function AuditPage({ params }: { params: URLSearchParams }) {
  const action = params.get('action') ?? '';
  const actor = params.get('actor') ?? '';
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const load = useLoad(
    () => get<{ events: AuditEvent[]; nextCursor: string | null }>(`/admin/audit${q({ action, actor, limit: 50, cursor })}`),
    [action, actor, cursor],
  );
  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setCursor(undefined);
    const s = next.toString();
    location.hash = `#/audit${s ? `?${s}` : ''}`;
  };
  return (
    <section>
      <h1>Audit log</h1>
      <p class="muted">
        Every event is chained to the one before it by hash. Verify the whole chain with <code>controlplane audit verify</code>; the hashes
        below link each event to its predecessor.
      </p>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Action <FilterInput name="action" value={action} placeholder="e.g. job.cancel" onApply={(v) => setFilter('action', v)} />
        </label>
        <label>
          Actor <FilterInput name="actor" value={actor} placeholder="key id" onApply={(v) => setFilter('actor', v)} />
        </label>
      </form>
      <Loaded load={load}>
        {(page) => (
          <>
            <ChainLinks events={page.events} />
            {page.events.length === 0 ? (
              <Empty>No audit event matches.</Empty>
            ) : (
              <table class="list" data-testid="audit-table">
                <thead>
                  <tr>
                    <th>when</th>
                    <th>action</th>
                    <th>outcome</th>
                    <th>actor</th>
                    <th>resource</th>
                    <th>details</th>
                  </tr>
                </thead>
                <tbody>
                  {page.events.map((e) => (
                    <tr key={e.id}>
                      <td>
                        <Time iso={e.occurredAt ?? null} />
                      </td>
                      <td>{e.action}</td>
                      <td>
                        <Status value={e.outcome} />
                      </td>
                      <td class="mono">
                        {e.actor.kind}:{e.actor.id}
                      </td>
                      <td class="mono">{e.resource ? `${e.resource.kind}:${e.resource.id}` : '—'}</td>
                      <td>
                        <JsonText value={e.details} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {page.nextCursor && (
              <button type="button" onClick={() => setCursor(page.nextCursor ?? undefined)}>
                Older →
              </button>
            )}
          </>
        )}
      </Loaded>
    </section>
  );
}

/** Whether each shown event's prevHash is the hash of the event shown after it (newest first): links, not the whole chain. */
function ChainLinks({ events }: { events: AuditEvent[] }) {
  const withHashes = events.filter((e) => e.hash && e.prevHash);
  if (withHashes.length < 2) return null;
  let broken = 0;
  for (let i = 0; i + 1 < withHashes.length; i++) {
    const a = withHashes[i]!;
    const b = withHashes[i + 1]!;
    if (a.seq !== undefined && b.seq !== undefined && Number(a.seq) === Number(b.seq) + 1 && a.prevHash !== b.hash) broken++;
  }
  return (
    <p class={broken ? 'bad' : 'ok'} data-testid="chain-status">
      {broken ? `${broken} broken link(s) between the events shown` : 'Hash links between consecutive events shown: intact'}
    </p>
  );
}
