/** A CLI command: `controlplane <path...> [flags]`. */
export interface Command {
  /** Words after `controlplane`, e.g. ['pki', 'init']. */
  readonly path: readonly string[];
  /** Usage text printed by `--help` (the one-line summary is in commands/index.ts). */
  readonly usage: string;
  /** Flags as for node:util parseArgs. */
  readonly options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }>;
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandContext {
  readonly values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  readonly positionals: string[];
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes scripts can rely on. */
export const EXIT = Object.freeze({ OK: 0, FAILURE: 1, USAGE: 2, CONFIG: 3, UNAVAILABLE: 4, AUTH: 5, NOT_FOUND: 6, CONFLICT: 7 });

/** A failure whose message is meant for the user, with an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
