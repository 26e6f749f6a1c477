import { readFileSync } from 'node:fs';
import type { JobResponse, JobStatus, StreamedJobEvent } from '@controlplane/client';
import { JOB_STATUSES } from '@controlplane/contracts';
import { CliError, EXIT, type Command, type CommandContext } from '../command.js';
import { CLIENT_FLAGS, CLIENT_FLAGS_HELP, noPositionals, positional, withClient } from '../connection.js';
import { boolFlag, intFlag, stringFlag } from '../flags.js';
import { age, brief, fields, print, table, wantsJson } from '../output.js';

/** Exit status of a finished job: scripts can tell success from failure without parsing output. */
function exitForStatus(status: JobStatus): number {
  return status === 'completed' ? EXIT.OK : EXIT.FAILURE;
}

function describeJob(job: JobResponse): string {
  const attempts = job.result?.metadata.attempts;
  return fields([
    ['id', job.id],
    ['type', job.request.type],
    ['status', job.status],
    ['priority', job.request.priority],
    ['created', job.request.metadata.createdAt],
    ['updated', `${job.updatedAt} (${age(job.updatedAt)})`],
    ...(attempts !== undefined ? ([['attempts', attempts]] as const) : []),
    ...(job.result?.metadata.runnerId ? ([['runner', job.result.metadata.runnerId]] as const) : []),
    ...(job.result?.data !== undefined ? ([['result', JSON.stringify(job.result.data)]] as const) : []),
    ...(job.error ? ([['error', `${job.error.code}: ${job.error.message}`]] as const) : []),
  ]);
}

function describeEvent(e: StreamedJobEvent): string {
  const d = (e.data ?? {}) as Record<string, unknown>;
  let note = '';
  if (e.type === 'job.progress') note = `${d.pct ?? '?'}%${d.message ? ` ${String(d.message)}` : ''}`;
  else if (e.type === 'job.retrying')
    note = `attempt ${String(d.attempt)} failed (${String(d.code)}); next in ${Number(d.delayMs) / 1000} s`;
  else if (e.type === 'job.failed') note = `${String(d.code ?? '')} ${String(d.reason ?? '')}`.trim();
  else if (e.type === 'job.completed' || e.type === 'job.started') note = d.runnerId ? `runner ${String(d.runnerId)}` : '';
  return `${e.timestamp}  ${note ? `${e.type.padEnd(14)}  ${note}` : e.type}\n`;
}

function readData(ctx: CommandContext): Record<string, unknown> {
  const inline = stringFlag(ctx, 'data');
  const file = stringFlag(ctx, 'data-file');
  if (inline !== undefined && file !== undefined) throw new CliError('give --data or --data-file, not both', EXIT.USAGE);
  let text: string | undefined = inline;
  if (file !== undefined) {
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.USAGE);
    }
  }
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`the job data is not JSON: ${(err as Error).message}`, EXIT.USAGE);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new CliError('the job data must be a JSON object', EXIT.USAGE);
  return value as Record<string, unknown>;
}

const SUBMIT_USAGE = `usage: controlplane jobs submit <type> [--data <json> | --data-file <file>] [--id <uuid>] [--priority <0-100>]
                                [--max-retries <n>] [--backoff-ms <ms>] [--timeout-ms <ms>] [--wait] [--wait-timeout-ms <ms>]

Submits a job through the gateway (POST /jobs). The same --id again is idempotent.
  --data         the job input as a JSON object (default {})
  --data-file    read the input from a file ('-' for stdin)
  --wait         follow the job's events (on stderr) until it finishes, then print it; the exit
                 status is 0 when it completed and 1 when it failed or was cancelled
${CLIENT_FLAGS_HELP}`;

export const jobsSubmitCommand: Command = {
  path: ['jobs', 'submit'],
  usage: SUBMIT_USAGE,
  options: {
    ...CLIENT_FLAGS,
    data: { type: 'string' },
    'data-file': { type: 'string' },
    id: { type: 'string' },
    priority: { type: 'string' },
    'max-retries': { type: 'string' },
    'backoff-ms': { type: 'string' },
    'timeout-ms': { type: 'string' },
    wait: { type: 'boolean', default: false },
    'wait-timeout-ms': { type: 'string' },
  },
  async run(ctx) {
    const type = positional(ctx, 0, 'type', SUBMIT_USAGE);
    noPositionals(ctx, SUBMIT_USAGE, 1);
    const data = readData(ctx);
    const priority = intFlag(ctx, 'priority', 0, 100);
    const maxRetries = intFlag(ctx, 'max-retries', 0, 100);
    const backoffMs = intFlag(ctx, 'backoff-ms', 0, 86_400_000);
    const timeoutMs = intFlag(ctx, 'timeout-ms', 1, 86_400_000);
    const waitTimeoutMs = intFlag(ctx, 'wait-timeout-ms', 1);
    const id = stringFlag(ctx, 'id');
    return withClient(ctx, async (client) => {
      const submitted = await client.jobs.submit({
        type,
        data,
        ...(id ? { id } : {}),
        ...(priority !== undefined ? { priority } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(maxRetries !== undefined || backoffMs !== undefined
          ? {
              retryPolicy: {
                ...(maxRetries !== undefined ? { maxRetries } : {}),
                ...(backoffMs !== undefined ? { backoffMs, maxBackoffMs: Math.max(backoffMs, 60_000) } : {}),
              },
            }
          : {}),
      });
      if (!boolFlag(ctx, 'wait')) {
        print(ctx, submitted, () => `submitted job ${submitted.id} (${type}): ${submitted.status}\n`);
        return EXIT.OK;
      }
      ctx.stderr.write(`submitted job ${submitted.id} (${type}); waiting for it to finish\n`);
      const done = await client.jobs.wait(submitted.id, {
        ...(waitTimeoutMs !== undefined ? { timeoutMs: waitTimeoutMs } : {}),
        onEvent: (e) => ctx.stderr.write(`  ${describeEvent(e)}`),
      });
      print(ctx, done, () => describeJob(done));
      return exitForStatus(done.status);
    });
  },
};

const GET_USAGE = `usage: controlplane jobs get <id> [--json]

${CLIENT_FLAGS_HELP}`;

export const jobsGetCommand: Command = {
  path: ['jobs', 'get'],
  usage: GET_USAGE,
  options: { ...CLIENT_FLAGS },
  async run(ctx) {
    const id = positional(ctx, 0, 'id', GET_USAGE);
    noPositionals(ctx, GET_USAGE, 1);
    return withClient(ctx, async (client) => {
      const job = await client.jobs.get(id);
      print(ctx, job, () => describeJob(job));
      return EXIT.OK;
    });
  },
};

const LIST_USAGE = `usage: controlplane jobs list [--status <status>] [--type <type>] [--dead-lettered] [--limit <n>] [--cursor <cursor>] [--json]

Newest first, one page at a time; the next page's --cursor is printed at the end.
  --status   one of ${JOB_STATUSES.join(', ')}
${CLIENT_FLAGS_HELP}`;

export const jobsListCommand: Command = {
  path: ['jobs', 'list'],
  usage: LIST_USAGE,
  options: {
    ...CLIENT_FLAGS,
    status: { type: 'string' },
    type: { type: 'string' },
    'dead-lettered': { type: 'boolean' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  },
  async run(ctx) {
    noPositionals(ctx, LIST_USAGE);
    const status = stringFlag(ctx, 'status');
    if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status))
      throw new CliError(`--status must be one of ${JOB_STATUSES.join(', ')}`, EXIT.USAGE);
    const limit = intFlag(ctx, 'limit', 1, 500);
    const type = stringFlag(ctx, 'type');
    const cursor = stringFlag(ctx, 'cursor');
    return withClient(ctx, async (client) => {
      const page = await client.jobs.list({
        ...(status ? { status: status as JobStatus } : {}),
        ...(type ? { type } : {}),
        ...(ctx.values['dead-lettered'] === true ? { deadLettered: true } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(cursor ? { cursor } : {}),
      });
      print(ctx, page, () => {
        const rows = page.jobs.map((j) => [
          j.id,
          j.request.type,
          j.status,
          age(j.updatedAt),
          brief(j.result?.data ?? (j.error ? j.error.code : undefined), 40),
        ]);
        return table(['id', 'type', 'status', 'updated', 'result'], rows) + (page.nextCursor ? `more: --cursor ${page.nextCursor}\n` : '');
      });
      return EXIT.OK;
    });
  },
};

const CANCEL_USAGE = `usage: controlplane jobs cancel <id> [--json]

Cancels a job (a signed request). A queued job is cancelled at once; a running one when its runner
has stopped the handler.
${CLIENT_FLAGS_HELP}`;

export const jobsCancelCommand: Command = {
  path: ['jobs', 'cancel'],
  usage: CANCEL_USAGE,
  options: { ...CLIENT_FLAGS },
  async run(ctx) {
    const id = positional(ctx, 0, 'id', CANCEL_USAGE);
    noPositionals(ctx, CANCEL_USAGE, 1);
    return withClient(ctx, async (client) => {
      const job = await client.jobs.cancel(id);
      print(ctx, job, () =>
        job.status === 'cancelled'
          ? `job ${job.id} cancelled\n`
          : `cancellation of job ${job.id} requested (${job.status}); its runner stops it\n`,
      );
      return EXIT.OK;
    });
  },
};

const RETRY_USAGE = `usage: controlplane jobs retry <id> [--json]

Queues a failed or cancelled job again.
${CLIENT_FLAGS_HELP}`;

export const jobsRetryCommand: Command = {
  path: ['jobs', 'retry'],
  usage: RETRY_USAGE,
  options: { ...CLIENT_FLAGS },
  async run(ctx) {
    const id = positional(ctx, 0, 'id', RETRY_USAGE);
    noPositionals(ctx, RETRY_USAGE, 1);
    return withClient(ctx, async (client) => {
      const job = await client.jobs.retry(id);
      print(ctx, job, () => `job ${job.id} queued again (${job.status})\n`);
      return EXIT.OK;
    });
  },
};

const WATCH_USAGE = `usage: controlplane jobs watch <id> [--json]

Streams the job's events (Server-Sent Events) from the start until it finishes. With --json, one
JSON event per line. Exit status: 0 when the job completed, 1 when it failed or was cancelled.
${CLIENT_FLAGS_HELP}`;

export const jobsWatchCommand: Command = {
  path: ['jobs', 'watch'],
  usage: WATCH_USAGE,
  options: { ...CLIENT_FLAGS },
  async run(ctx) {
    const id = positional(ctx, 0, 'id', WATCH_USAGE);
    noPositionals(ctx, WATCH_USAGE, 1);
    return withClient(ctx, async (client) => {
      let last: StreamedJobEvent | undefined;
      for await (const event of client.jobs.events(id)) {
        last = event;
        ctx.stdout.write(wantsJson(ctx) ? JSON.stringify(event) + '\n' : describeEvent(event));
      }
      if (!last) return EXIT.FAILURE;
      return last.type === 'job.completed' ? EXIT.OK : EXIT.FAILURE;
    });
  },
};
