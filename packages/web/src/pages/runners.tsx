import { useState } from 'preact/hooks';
import { get, send } from '../api.js';
import { Empty, ErrorState, Loaded, SignedButton, Status, Time, useLoad } from '../components.js';
import type { PageContext } from '../context.js';

interface Runner {
  id: string;
  name: string;
  pool: string;
  version: string | null;
  jobTypes: string[];
  tags: string[];
  status: string;
  lastHeartbeatAt: string | null;
  revokedAt: string | null;
}

export function RunnersPage({ ctx }: { ctx: PageContext }) {
  const load = useLoad(() => get<{ runners: Runner[] }>('/admin/runners'), [], 10_000);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const revoke = async (r: Runner) => {
    if (!confirm(`Revoke runner ${r.name}? It loses its certificates and its open streams at once.`)) return;
    setBusy(r.id);
    setError(null);
    try {
      await send('POST', `/admin/runners/${encodeURIComponent(r.id)}/revoke`, undefined, ctx.signer!);
      load.reload();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(null);
    }
  };
  return (
    <section>
      <h1>Runners</h1>
      {error && <ErrorState error={error} />}
      <Loaded load={load}>
        {({ runners }) =>
          runners.length === 0 ? (
            <Empty>No runner has enrolled in this tenant. Create a join token and start one with `controlplane runner start`.</Empty>
          ) : (
            <table class="list" data-testid="runners-table">
              <thead>
                <tr>
                  <th>name</th>
                  <th>state</th>
                  <th>pool</th>
                  <th>types</th>
                  <th>last heartbeat</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {runners.map((r) => (
                  <tr key={r.id} data-runner-id={r.id}>
                    <td>
                      {r.name} <small class="mono muted">{r.id}</small>
                    </td>
                    <td>
                      <Status value={r.status} />
                    </td>
                    <td>{r.pool}</td>
                    <td>{r.jobTypes.join(', ') || '—'}</td>
                    <td>
                      <Time iso={r.lastHeartbeatAt} />
                    </td>
                    <td>
                      {r.status !== 'revoked' && (
                        <SignedButton canSign={ctx.signer !== null} label="Revoke" danger busy={busy === r.id} onClick={() => revoke(r)} />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Loaded>
    </section>
  );
}
