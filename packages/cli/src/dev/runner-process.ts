import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI entry point, run again as the runner's process. */
export const CLI_BIN = fileURLToPath(new URL('../bin.js', import.meta.url));

// Only what a Node process needs to start: the runner's sandbox filters the rest anyway, but the
// dev process's own settings (database URLs with passwords) have no business in the runner.
const PASSED_ENV = [
  'PATH',
  'HOME',
  'TMPDIR',
  'TMP',
  'TEMP',
  'LANG',
  'SYSTEMROOT',
  // Tracing, so the demo runner's spans join the services' traces (docs/observability.md).
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_TRACES_EXPORTER',
  'OTEL_SDK_DISABLED',
];

export interface RunnerProcess {
  readonly pid: number | undefined;
  readonly runnerId: string;
  /** The runner's health and metrics listener, when it has one. */
  readonly metricsUrl: string | undefined;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (the runner drains), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartRunnerOptions {
  dir: string;
  handlers: string;
  /** `runner start --confinement`; the runner's default (strict) when absent. */
  confinement?: string | undefined;
  logLevel: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Every line the runner prints (its JSON log). */
  onOutput: (chunk: Buffer) => void;
  /** Serve the runner's /health and /metrics on this loopback port (0: a free one). */
  metricsPort?: number | undefined;
  startTimeoutMs?: number;
}

/**
 * Starts `controlplane runner start` as a child process, as a runner host would, and resolves once
 * it reports that it started. It gets its own process group so that a Ctrl-C in the terminal reaches
 * only the dev process, which then stops the runner exactly once (a second signal would cut its drain short).
 */
export function startRunnerProcess(o: StartRunnerOptions): Promise<RunnerProcess> {
  const env: Record<string, string> = {};
  for (const name of PASSED_ENV) {
    const v = o.env[name];
    if (v !== undefined) env[name] = v;
  }
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CLI_BIN,
      'runner',
      'start',
      '--dir',
      o.dir,
      '--handlers',
      o.handlers,
      '--log-level',
      o.logLevel,
      ...(o.confinement ? ['--confinement', o.confinement] : []),
      ...(o.metricsPort !== undefined ? ['--metrics-port', String(o.metricsPort)] : []),
    ],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let seen = '';
  return new Promise((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the demo runner did not start within ${o.startTimeoutMs ?? 30_000} ms`));
    }, o.startTimeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      o.onOutput(chunk);
      if (started) return;
      seen = (seen + chunk.toString('utf8')).slice(-8192);
      const m = /runner (\S+) started(?: \(health and metrics at (\S+)\))?/.exec(seen);
      if (!m) return;
      started = true;
      clearTimeout(timer);
      resolve({
        pid: child.pid,
        runnerId: m[1]!,
        metricsUrl: m[2],
        exited,
        async stop(graceMs = 15_000) {
          if (child.exitCode !== null || child.signalCode !== null) return exited;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          const result = await exited;
          clearTimeout(killer);
          return result;
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    void exited.then(({ code, signal }) => {
      if (started) return;
      clearTimeout(timer);
      const tail = seen.trim().split('\n').slice(-5).join('\n');
      reject(new Error(`the demo runner exited (${signal ?? `code ${code}`}) before it started${tail ? `:\n${tail}` : ''}`));
    });
  });
}
