import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export type Load<T> =
  | { state: 'loading'; reload: () => void }
  | { state: 'error'; error: Error; reload: () => void }
  | { state: 'ok'; data: T; reload: () => void };

/** Runs `fn` when `deps` change (and on reload()); `everyMs` refreshes in the background, keeping the last data. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[], everyMs?: number): Load<T> {
  const [s, setS] = useState<{ state: 'loading' } | { state: 'error'; error: Error } | { state: 'ok'; data: T }>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    const run = () =>
      fn().then(
        (data) => live && setS({ state: 'ok', data }),
        (error: Error) => live && setS({ state: 'error', error }),
      );
    void run();
    const timer = everyMs ? setInterval(run, everyMs) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [...deps, tick]);
  return { ...s, reload } as Load<T>;
}

export function Loading() {
  return (
    <p class="state loading" role="status">
      Loading…
    </p>
  );
}

export function ErrorState({ error, retry }: { error: Error; retry?: () => void }) {
  const code = error instanceof ApiError ? error.body.code : undefined;
  return (
    <div class="state error" role="alert">
      <strong>{error instanceof ApiError && error.status === 403 ? 'Not allowed' : 'Something went wrong'}</strong>
      <span>
        {error.message}
        {code ? ` (${code})` : ''}
      </span>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

/** Loading, error or the content: every page's three states in one place. */
export function Loaded<T>({ load, children }: { load: Load<T>; children: (data: T) => ComponentChildren }) {
  if (load.state === 'loading') return <Loading />;
  if (load.state === 'error') return <ErrorState error={load.error} retry={load.reload} />;
  return <>{children(load.data)}</>;
}

export function Status({ value }: { value: string }) {
  return <span class={`status status-${value.replace(/[^a-z_]/g, '')}`}>{value}</span>;
}

/** Any JSON value shown as text: whatever it holds is never parsed as markup. */
export function JsonText({ value }: { value: unknown }) {
  return <pre class="json">{value === undefined ? '—' : JSON.stringify(value, null, 2)}</pre>;
}

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  return <time dateTime={iso}>{new Date(iso).toLocaleString()}</time>;
}

export function ago(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

/** A button for a signed operation: disabled, with the reason, until a key file with a signing key is loaded. */
export function SignedButton(props: {
  canSign: boolean;
  label: string;
  onClick: () => void;
  busy?: boolean;
  danger?: boolean;
  /** Disabled for another reason (an empty form), which the form makes plain. */
  disabled?: boolean;
}) {
  const why = props.canSign ? undefined : 'Signed operation: load your key file (its signing key stays in this browser) to enable it.';
  return (
    <span class="signed-action">
      <button
        type="button"
        class={props.danger ? 'danger' : ''}
        disabled={!props.canSign || props.busy || props.disabled}
        title={why}
        onClick={props.onClick}
      >
        {props.busy ? '…' : props.label}
      </button>
      {why && <small class="why">{why}</small>}
    </span>
  );
}

/** A text filter: typed freely, applied by `onApply` on change (Enter or leaving the field). */
export function FilterInput(props: { name: string; value: string; placeholder: string; onApply: (value: string) => void }) {
  const [text, setText] = useState(props.value);
  useEffect(() => setText(props.value), [props.value]);
  return (
    <input
      name={props.name}
      value={text}
      placeholder={props.placeholder}
      onInput={(e) => setText((e.target as HTMLInputElement).value)}
      onChange={(e) => props.onApply((e.target as HTMLInputElement).value.trim())}
    />
  );
}
