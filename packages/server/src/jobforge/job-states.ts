import { JOB_STATUSES, type JobStatus } from '@controlplane/contracts';

/**
 * The job state machine, in one table. Everything else that knows about statuses is derived from
 * it: the status lists and target statuses in JobForge's SQL (the `@from`/`@to`/`@statuses` macros
 * of sql/jobforge), the store's `moveTo…` methods (each guards its UPDATE with the event's `from`
 * states, so the database refuses a transition the table does not have), the queued-jobs quota's
 * waiting set, and the diagram in docs/jobforge.md (a test checks the table against that diagram
 * and against the database's CHECK constraint).
 *
 * `pending` is a job accepted but not yet claimable because it waits for something other than
 * time — its parents in a flow, or its schedule's slot (orchestration). `queued` and `retrying` jobs
 * wait only for `run_at` (a delay or a retry backoff) and a free runner.
 */
export const JOB_TRANSITIONS = [
  { from: null, event: 'submit', to: 'queued' },
  { from: null, event: 'defer', to: 'pending' },
  { from: 'pending', event: 'ready', to: 'queued' },
  { from: 'queued', event: 'lease', to: 'running' },
  { from: 'retrying', event: 'lease', to: 'running' },
  { from: 'running', event: 'complete', to: 'completed' },
  { from: 'running', event: 'retry', to: 'retrying' },
  { from: 'running', event: 'fail', to: 'failed' },
  { from: 'running', event: 'release', to: 'queued' },
  { from: 'pending', event: 'cancel', to: 'cancelled' },
  { from: 'queued', event: 'cancel', to: 'cancelled' },
  { from: 'retrying', event: 'cancel', to: 'cancelled' },
  { from: 'running', event: 'cancel', to: 'cancelled' },
  { from: 'pending', event: 'expire', to: 'failed' },
  { from: 'pending', event: 'orphan', to: 'failed' },
  { from: 'queued', event: 'expire', to: 'failed' },
  { from: 'retrying', event: 'expire', to: 'failed' },
  { from: 'failed', event: 'redrive', to: 'queued' },
  { from: 'cancelled', event: 'redrive', to: 'queued' },
] as const satisfies ReadonlyArray<{ from: JobStatus | null; event: string; to: JobStatus }>;

export type JobTransition = (typeof JOB_TRANSITIONS)[number];
export type JobTransitionEvent = JobTransition['event'];

/** What each event means, for the docs and for readers of the table. */
export const JOB_TRANSITION_EVENTS: Readonly<Record<JobTransitionEvent, string>> = {
  submit: 'a submission is accepted',
  defer: 'a submission is accepted that names parents not yet ended',
  ready: 'what a pending job waited for has happened',
  lease: 'a runner claims it (a lease and a fencing token)',
  complete: 'its runner reports success',
  retry: 'an attempt failed (or its lease expired) and the retry policy allows another',
  fail: 'an attempt failed (or its lease expired) and no retry is left: dead-lettered',
  release: 'a draining runner hands it back (no retry used)',
  cancel: 'an operator cancels it (a running job once its runner stops, or its lease runs out)',
  expire: 'its expiresAt passed before it started',
  orphan: 'a parent failed or was cancelled and its parent policy is fail',
  redrive: 'an operator re-drives it with a fresh retry budget',
};

/** The states an event may leave from. */
export function fromStates(event: JobTransitionEvent): JobStatus[] {
  return JOB_TRANSITIONS.filter((t) => t.event === event && t.from !== null).map((t) => t.from as JobStatus);
}

/** The one state an event leads to. */
export function targetState(event: JobTransitionEvent): JobStatus {
  const targets = new Set<JobStatus>(JOB_TRANSITIONS.filter((t) => t.event === event).map((t) => t.to));
  if (targets.size !== 1) throw new Error(`job event ${event} leads to ${targets.size} states`);
  return [...targets][0]!;
}

/** The state `event` leads to from `from`, or undefined when the table has no such transition. */
export function transition(from: JobStatus, event: JobTransitionEvent): JobStatus | undefined {
  return JOB_TRANSITIONS.find((t) => t.from === from && t.event === event)?.to;
}

/** The states an event may leave from, as words: `failed or cancelled`. */
export function describeFromStates(event: JobTransitionEvent): string {
  const states = fromStates(event);
  return states.length === 1 ? states[0]! : `${states.slice(0, -1).join(', ')} or ${states.at(-1)}`;
}

/** States a runner may be given a job in. */
export const CLAIMABLE_STATES: readonly JobStatus[] = fromStates('lease');
/** States a job holds a lease in: the states an outcome may be recorded from. */
export const LEASED_STATES: readonly JobStatus[] = fromStates('complete');
/** States from which the job never moves on by itself. */
export const TERMINAL_STATES: readonly JobStatus[] = JOB_STATUSES.filter(
  (s) => !JOB_TRANSITIONS.some((t) => t.from === s && t.event !== 'redrive'),
);
/** Accepted and not yet leased: waiting for time, a runner, or (pending) something else. What the queued-jobs quota counts. */
export const WAITING_STATES: readonly JobStatus[] = JOB_STATUSES.filter((s) =>
  JOB_TRANSITIONS.some((t) => t.from === s && (t.event === 'lease' || t.event === 'ready')),
);

/** Named sets of states, for the `@statuses(name)` macro. */
export const JOB_STATE_SETS: Readonly<Record<string, readonly JobStatus[]>> = {
  claimable: CLAIMABLE_STATES,
  leased: LEASED_STATES,
  waiting: WAITING_STATES,
  terminal: TERMINAL_STATES,
};

const quoted = (states: readonly string[]) => states.map((s) => `'${s}'`).join(', ');

function eventOf(name: string): JobTransitionEvent {
  if (!(name in JOB_TRANSITION_EVENTS)) throw new Error(`no job event ${name} in the state table`);
  return name as JobTransitionEvent;
}

/**
 * The macros of sql/jobforge: `@from(event, …)` the states those events leave from, `@to(event)`
 * the state it leads to, `@statuses(set)` a named set — each as a quoted SQL list.
 */
export const JOB_STATE_MACROS = {
  from: (...events: string[]) => quoted([...new Set(events.flatMap((e) => fromStates(eventOf(e))))]),
  to: (event: string) => quoted([targetState(eventOf(event))]),
  statuses: (set: string) => {
    const states = JOB_STATE_SETS[set];
    if (!states) throw new Error(`no job state set ${set}`);
    return quoted(states);
  },
};

/**
 * The state machine as docs/jobforge.md shows it: a Mermaid state diagram and a table of every
 * transition (a test keeps the docs equal to this).
 */
export function renderJobStateDiagram(): string {
  const arrows = JOB_TRANSITIONS.map((t) => `    ${t.from ?? '[*]'} --> ${t.to}: ${t.event}`);
  const terminal = TERMINAL_STATES.map((s) => `    ${s} --> [*]`);
  const rows = (Object.keys(JOB_TRANSITION_EVENTS) as JobTransitionEvent[]).map((event) => {
    const from = JOB_TRANSITIONS.filter((t) => t.event === event).map((t) => t.from ?? '(new)');
    return `| \`${event}\` | ${from.join(', ')} | ${targetState(event)} | ${JOB_TRANSITION_EVENTS[event]} |`;
  });
  return [
    '```mermaid',
    'stateDiagram-v2',
    ...arrows,
    ...terminal,
    '```',
    '',
    '| event | from | to | when |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}
