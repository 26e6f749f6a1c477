import { useState } from 'preact/hooks';
import { get, send } from '../api.js';
import { Empty, ErrorState, JsonText, Loaded, SignedButton, Status, Time, useLoad } from '../components.js';
import type { PageContext } from '../context.js';
import { newSigningKeyPair } from '../signing.js';

interface ApiKey {
  id: string;
  tenantId: string;
  prefix: string;
  role: string;
  name: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
}

const ROLES = ['viewer', 'submitter', 'operator', 'admin'];

/**
 * API keys and join tokens (admins). A new key's signing pair is made in this page: only its public
 * key is sent, and the key file (API key and private key) is shown here once, never stored.
 */
export function KeysPage({ ctx }: { ctx: PageContext }) {
  const load = useLoad(() => get<{ apiKeys: ApiKey[] }>('/admin/api-keys'), []);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const [shown, setShown] = useState<{ title: string; value: unknown } | null>(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [pool, setPool] = useState('default');

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      load.reload();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  const createKey = () =>
    run(async () => {
      const pair = await newSigningKeyPair();
      const k = await send<ApiKey & { key: string; signingKeyId: string }>(
        'POST',
        '/admin/api-keys',
        { name: name.trim(), role, signingPublicKey: pair.publicKeyPem },
        ctx.signer!,
      );
      setName('');
      setShown({
        title: `Key file for “${k.name}” — save it now (as JSON, mode 0600); it is not shown again`,
        value: {
          kind: 'controlplane-api-key',
          version: 1,
          id: k.id,
          tenantId: k.tenantId,
          role: k.role,
          name: k.name,
          key: k.key,
          signingKeyId: k.signingKeyId,
          signingPrivateKey: pair.privateKeyPem,
          createdAt: k.createdAt,
        },
      });
    });

  const createToken = () =>
    run(async () => {
      const t = await send<unknown>('POST', '/admin/join-tokens', { pool: pool.trim() || 'default' }, ctx.signer!);
      setShown({ title: 'Join token — for `controlplane runner enroll`; single use, shown once', value: t });
    });

  const revoke = (k: ApiKey) =>
    run(async () => {
      if (!confirm(`Revoke the key ${k.name}? Its sessions end at once.`)) return;
      await send('POST', `/admin/api-keys/${encodeURIComponent(k.id)}/revoke`, undefined, ctx.signer!);
    });

  const canSign = ctx.signer !== null;
  return (
    <section>
      <h1>API keys and join tokens</h1>
      {error && <ErrorState error={error} />}
      {shown && (
        <div class="card" data-testid="shown-once">
          <h2>{shown.title}</h2>
          <JsonText value={shown.value} />
          <button type="button" onClick={() => setShown(null)}>
            Done
          </button>
        </div>
      )}
      <div class="cards">
        <form class="card" onSubmit={(e) => e.preventDefault()}>
          <h2>New API key</h2>
          <label>
            Name <input name="keyName" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>{' '}
          <label>
            Role{' '}
            <select name="keyRole" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>{' '}
          <SignedButton canSign={canSign} disabled={name.trim() === ''} label="Create key" busy={busy} onClick={createKey} />
        </form>
        <form class="card" onSubmit={(e) => e.preventDefault()}>
          <h2>New join token</h2>
          <label>
            Pool <input name="pool" value={pool} onInput={(e) => setPool((e.target as HTMLInputElement).value)} />
          </label>{' '}
          <SignedButton canSign={canSign} label="Create join token" busy={busy} onClick={createToken} />
        </form>
      </div>
      <Loaded load={load}>
        {({ apiKeys }) =>
          apiKeys.length === 0 ? (
            <Empty>No API keys.</Empty>
          ) : (
            <table class="list" data-testid="keys-table">
              <thead>
                <tr>
                  <th>name</th>
                  <th>role</th>
                  <th>prefix</th>
                  <th>last used</th>
                  <th>state</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {apiKeys.map((k) => (
                  <tr key={k.id} data-key-id={k.id}>
                    <td>{k.name}</td>
                    <td>{k.role}</td>
                    <td class="mono">{k.prefix}</td>
                    <td>
                      <Time iso={k.lastUsedAt} />
                    </td>
                    <td>
                      <Status value={k.revokedAt ? 'revoked' : k.expiresAt && new Date(k.expiresAt) < new Date() ? 'expired' : 'active'} />
                    </td>
                    <td>
                      {!k.revokedAt && k.id !== ctx.session.keyId && (
                        <SignedButton canSign={canSign} label="Revoke" danger busy={busy} onClick={() => revoke(k)} />
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
