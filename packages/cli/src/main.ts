import { parseArgs } from 'node:util';
// The error vocabulary alone (not the contracts' schemas): what runs before a command is chosen
// must stay light, so that `controlplane --help` starts at once.
import { isInternalError } from '@controlplane/contracts/internal-error';
import { CliError, EXIT } from './command.js';
import { COMMANDS, type CommandEntry } from './commands/index.js';

function findCommand(argv: string[]): { entry: CommandEntry; rest: string[] } | undefined {
  let best: CommandEntry | undefined;
  for (const c of COMMANDS) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { entry: best, rest: argv.slice(best.path.length) } : undefined;
}

function help(): string {
  const lines = ['usage: controlplane <command> [flags]', '', 'commands:'];
  for (const c of [...COMMANDS].sort((a, b) => a.path.join(' ').localeCompare(b.path.join(' ')))) {
    lines.push(`  ${c.path.join(' ').padEnd(24)} ${c.summary}`);
  }
  lines.push('', 'Run `controlplane <command> --help` for its flags.');
  return lines.join('\n') + '\n';
}

export async function main(
  argv: string[],
  io: { stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream; env?: Record<string, string | undefined> } = {},
): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    stdout.write(help());
    return argv.length === 0 ? EXIT.USAGE : EXIT.OK;
  }
  const found = findCommand(argv);
  if (!found) {
    stderr.write(`controlplane: unknown command '${argv.join(' ')}'\n\n${help()}`);
    return EXIT.USAGE;
  }
  const { rest } = found;
  const command = await found.entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    stdout.write(command.usage.endsWith('\n') ? command.usage : command.usage + '\n');
    return EXIT.OK;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (err) {
    stderr.write(`controlplane ${command.path.join(' ')}: ${(err as Error).message}\n\n${command.usage}\n`);
    return EXIT.USAGE;
  }
  try {
    return await command.run({ values: parsed.values, positionals: parsed.positionals, stdout, stderr, env });
  } catch (err) {
    if (err instanceof CliError) {
      stderr.write(`controlplane ${command.path.join(' ')}: ${err.message}\n`);
      return err.exitCode;
    }
    // An internal error names its code (docs/errors.md says what to do about it).
    if (isInternalError(err)) {
      stderr.write(`controlplane ${command.path.join(' ')}: ${err.code}: ${err.message}\n`);
      return EXIT.FAILURE;
    }
    stderr.write(`controlplane ${command.path.join(' ')}: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.FAILURE;
  }
}
