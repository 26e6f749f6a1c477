import { useState } from 'preact/hooks';
import { signIn, type SessionInfo } from '../api.js';
import { ErrorState } from '../components.js';
import { readKeyFile } from '../key-file.js';
import type { Signer } from '../signing.js';

/**
 * Sign in with a key file (its API key opens the session; its signing key stays in this page for
 * signed operations) or with a pasted API key (no signing: signed operations stay disabled).
 */
export function SignInPage({ onSignedIn }: { onSignedIn: (s: SessionInfo, signer: Signer | null) => void }) {
  const [apiKey, setApiKey] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const open = async (key: string, signer: Signer | null) => {
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(key), signer);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  const onFile = async (e: Event) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      const k = await readKeyFile(await file.text());
      await open(k.apiKey, k.signer);
    } catch (err) {
      setError(err as Error);
    }
  };

  return (
    <section class="sign-in">
      <h1>Sign in to ControlPlane</h1>
      <div class="card">
        <h2>With your key file</h2>
        <p class="muted">
          The API key opens a session; the signing key stays in this browser tab (it is never sent) and signs cancellations and revocations.
        </p>
        <input type="file" accept=".json,application/json" name="keyFile" data-testid="key-file" disabled={busy} onChange={onFile} />
      </div>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void open(apiKey.trim(), null);
        }}
      >
        <h2>With an API key</h2>
        <p class="muted">Without the key file, operations that need your signature are shown but disabled.</p>
        <input
          type="password"
          name="apiKey"
          autocomplete="off"
          placeholder="cpk_…"
          value={apiKey}
          onInput={(e) => setApiKey((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy || apiKey.trim() === ''}>
          Sign in
        </button>
      </form>
      {error && <ErrorState error={error} />}
    </section>
  );
}
