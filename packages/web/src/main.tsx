import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { currentSession, send, useSession, type SessionInfo } from './api.js';
import { ErrorState, Loading } from './components.js';
import { can, type PageContext } from './context.js';
import { readKeyFile } from './key-file.js';
import { AuditPage } from './pages/audit.js';
import { JobDetailPage } from './pages/job-detail.js';
import { JobsPage } from './pages/jobs.js';
import { KeysPage } from './pages/keys.js';
import { OverviewPage } from './pages/overview.js';
import { RunnersPage } from './pages/runners.js';
import { SignInPage } from './pages/sign-in.js';
import type { Signer } from './signing.js';
import './styles.css';

/** Hash routes (`#/jobs/<id>`): the gateway serves one page, and no route reaches the server. */
function useRoute(): { path: string; params: URLSearchParams } {
  const read = () => {
    const h = location.hash.replace(/^#/, '') || '/';
    const [path, query] = h.split('?', 2) as [string, string | undefined];
    return { path, params: new URLSearchParams(query ?? '') };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [signer, setSigner] = useState<Signer | null>(null);
  const [bootError, setBootError] = useState<Error | null>(null);
  const [keyNote, setKeyNote] = useState<string | null>(null);
  const route = useRoute();
  const signedOut = useCallback(() => {
    setSession(null);
    setSigner(null);
  }, []);
  useSession(session ?? null, signedOut);

  useEffect(() => {
    currentSession().then(setSession, setBootError);
  }, []);

  if (bootError) return <ErrorState error={bootError} retry={() => location.reload()} />;
  if (session === undefined) return <Loading />;
  if (session === null)
    return (
      <main class="narrow">
        <SignInPage
          onSignedIn={(s, k) => {
            setSession(s);
            setSigner(k && k.keyId === s.keyId ? k : null);
            if (location.hash === '') location.hash = '#/';
          }}
        />
      </main>
    );

  const ctx: PageContext = { session, signer };
  const loadKeyFile = async (e: Event) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      const k = await readKeyFile(await file.text());
      if (k.keyId !== session.keyId) setKeyNote('That key file is for another API key than this session’s.');
      else if (!k.signer) setKeyNote('That key file has no signing key.');
      else {
        setSigner(k.signer);
        setKeyNote(null);
      }
    } catch (err) {
      setKeyNote((err as Error).message);
    }
  };
  const nav: Array<[string, string, boolean]> = [
    ['#/', 'Overview', true],
    ['#/jobs', 'Jobs', true],
    ['#/dead-letters', 'Dead letters', true],
    ['#/runners', 'Runners', can.runners(session)],
    ['#/audit', 'Audit log', can.audit(session)],
    ['#/keys', 'Keys', can.keys(session)],
  ];
  const jobMatch = /^\/jobs\/([^/]+)$/.exec(route.path);
  let page;
  if (route.path === '/') page = <OverviewPage />;
  else if (route.path === '/jobs') page = <JobsPage params={route.params} />;
  else if (jobMatch) page = <JobDetailPage id={decodeURIComponent(jobMatch[1]!)} ctx={ctx} />;
  else if (route.path === '/dead-letters') page = <JobsPage params={route.params} deadLetters />;
  else if (route.path === '/runners') page = <RunnersPage ctx={ctx} />;
  else if (route.path === '/audit') page = <AuditPage params={route.params} />;
  else if (route.path === '/keys') page = <KeysPage ctx={ctx} />;
  else page = <p class="state empty">No such page.</p>;

  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          ControlPlane
        </a>
        <nav>
          {nav
            .filter(([, , shown]) => shown)
            .map(([href, label]) => (
              <a key={href} href={href} class={location.hash === href || (href !== '#/' && location.hash.startsWith(href)) ? 'active' : ''}>
                {label}
              </a>
            ))}
        </nav>
        <div class="who">
          <span data-testid="who">
            {session.tenantId} · {session.role}
          </span>
          {signer ? (
            <span class="ok" title="Signed operations are signed in this browser with your key file's signing key.">
              signing key loaded
            </span>
          ) : (
            <label class="load-key" title="Load your key file to sign critical operations; the key never leaves this browser.">
              load key file <input type="file" accept=".json,application/json" data-testid="signing-key-file" onChange={loadKeyFile} />
            </label>
          )}
          <button
            type="button"
            onClick={() => {
              void send('POST', '/session/end').finally(signedOut);
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      {keyNote && <p class="state error">{keyNote}</p>}
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
