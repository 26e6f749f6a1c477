import type { Schedule } from '@controlplane/client';
import { CliError, EXIT, type Command, type CommandContext } from '../command.js';
import { CLIENT_FLAGS, CLIENT_FLAGS_HELP, noPositionals, positional, withClient } from '../connection.js';
import { intFlag, stringFlag } from '../flags.js';
import { fields, print, table } from '../output.js';

function describe(s: Schedule): string {
  return fields([
    ['id', s.id],
    ['name', s.name],
    ['job type', s.job.type],
    ['rule', s.cron ? `cron ${s.cron} (${s.timezone})` : `every ${s.intervalMs} ms`],
    ['paused', s.paused ? 'yes' : 'no'],
    ['overlap', s.overlap],
    ['catch-up', s.catchUp === 'all' ? `all (at most ${s.catchUpLimit})` : s.catchUp],
    ['runs', s.maxRuns ? `${s.runs} of ${s.maxRuns}` : s.runs],
    ['next fire', s.nextFireAt],
    ['last job', s.lastJobId],
    ['start', s.startAt],
    ['end', s.endAt],
  ]);
}

function jsonObject(ctx: CommandContext, name: string): Record<string, unknown> | undefined {
  const raw = stringFlag(ctx, name);
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new CliError(`--${name} is not JSON: ${(err as Error).message}`, EXIT.USAGE);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new CliError(`--${name} must be a JSON object`, EXIT.USAGE);
  return value as Record<string, unknown>;
}

const CREATE_USAGE = `usage: controlplane schedules create <name> --type <job type> (--cron <expr> [--timezone <zone>] | --every-ms <ms>)
         [--data <json>] [--start <iso>] [--end <iso>] [--max-runs <n>] [--overlap skip|buffer-one|allow|cancel-previous]
         [--catch-up skip|latest|all] [--catch-up-limit <n>] [--paused] [--json]

Creates a schedule (a signed request): each slot submits a job of --type with --data, whose id
derives from the schedule and the slot (a slot never fires twice).
  --overlap   what a slot does while the previous job still runs (default allow)
  --catch-up  which slots missed while nothing ran are fired: none, the latest, or all up to --catch-up-limit (default latest)
${CLIENT_FLAGS_HELP}`;

export const schedulesCreateCommand: Command = {
  path: ['schedules', 'create'],
  usage: CREATE_USAGE,
  options: {
    ...CLIENT_FLAGS,
    type: { type: 'string' },
    cron: { type: 'string' },
    timezone: { type: 'string' },
    'every-ms': { type: 'string' },
    data: { type: 'string' },
    start: { type: 'string' },
    end: { type: 'string' },
    'max-runs': { type: 'string' },
    overlap: { type: 'string' },
    'catch-up': { type: 'string' },
    'catch-up-limit': { type: 'string' },
    paused: { type: 'boolean' },
  },
  async run(ctx) {
    const name = positional(ctx, 0, 'name', CREATE_USAGE);
    noPositionals(ctx, CREATE_USAGE, 1);
    const type = stringFlag(ctx, 'type');
    if (!type) throw new CliError(`--type is required\n\n${CREATE_USAGE}`, EXIT.USAGE);
    const opt = <T>(key: string, v: T | undefined) => (v === undefined ? {} : { [key]: v });
    const input = {
      name,
      job: { type, data: jsonObject(ctx, 'data') ?? {} },
      ...opt('cron', stringFlag(ctx, 'cron')),
      ...opt('timezone', stringFlag(ctx, 'timezone')),
      ...opt('intervalMs', intFlag(ctx, 'every-ms', 1000)),
      ...opt('startAt', stringFlag(ctx, 'start')),
      ...opt('endAt', stringFlag(ctx, 'end')),
      ...opt('maxRuns', intFlag(ctx, 'max-runs', 1)),
      ...opt('overlap', stringFlag(ctx, 'overlap')),
      ...opt('catchUp', stringFlag(ctx, 'catch-up')),
      ...opt('catchUpLimit', intFlag(ctx, 'catch-up-limit', 1, 1000)),
      ...(ctx.values.paused ? { paused: true } : {}),
    };
    return withClient(ctx, async (client) => {
      const s = await client.schedules.create(input as Parameters<typeof client.schedules.create>[0]);
      print(ctx, s, () => describe(s));
      return EXIT.OK;
    });
  },
};

const LIST_USAGE = `usage: controlplane schedules list [--json]

${CLIENT_FLAGS_HELP}`;

export const schedulesListCommand: Command = {
  path: ['schedules', 'list'],
  usage: LIST_USAGE,
  options: { ...CLIENT_FLAGS },
  async run(ctx) {
    noPositionals(ctx, LIST_USAGE);
    return withClient(ctx, async (client) => {
      const list = await client.schedules.list();
      print(ctx, list, () =>
        table(
          ['id', 'name', 'job type', 'rule', 'paused', 'runs', 'next fire'],
          list.map((s) => [s.id, s.name, s.job.type, s.cron ?? `${s.intervalMs} ms`, s.paused ? 'yes' : 'no', s.runs, s.nextFireAt ?? '-']),
        ),
      );
      return EXIT.OK;
    });
  },
};

/** get, pause, resume, delete and trigger: one schedule by id. */
function oneScheduleCommand(verb: 'get' | 'pause' | 'resume' | 'delete' | 'trigger', what: string): Command {
  const usage = `usage: controlplane schedules ${verb} <id> [--json]

${what}
${CLIENT_FLAGS_HELP}`;
  return {
    path: ['schedules', verb],
    usage,
    options: { ...CLIENT_FLAGS },
    async run(ctx) {
      const id = positional(ctx, 0, 'id', usage);
      noPositionals(ctx, usage, 1);
      return withClient(ctx, async (client) => {
        if (verb === 'delete') {
          const res = await client.schedules.delete(id);
          print(ctx, res, () => `schedule ${id} deleted\n`);
        } else if (verb === 'trigger') {
          const res = await client.schedules.trigger(id);
          print(ctx, res, () => `job ${res.jobId} submitted\n`);
        } else {
          const s = await client.schedules[verb](id);
          print(ctx, s, () => describe(s));
        }
        return EXIT.OK;
      });
    },
  };
}

export const schedulesGetCommand = oneScheduleCommand('get', 'Shows a schedule.');
export const schedulesPauseCommand = oneScheduleCommand(
  'pause',
  'Pauses a schedule (a signed request): no slot fires until it is resumed.',
);
export const schedulesResumeCommand = oneScheduleCommand(
  'resume',
  'Resumes a schedule (a signed request) from its next slot after now; the slots of the pause are not fired.',
);
export const schedulesDeleteCommand = oneScheduleCommand('delete', 'Deletes a schedule (a signed request); the jobs it fired stay.');
export const schedulesTriggerCommand = oneScheduleCommand('trigger', "Fires a schedule's job now, outside its slots (a signed request).");
