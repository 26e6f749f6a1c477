import type { Command } from '../command.js';

/** A command as `controlplane --help` lists it; its module is loaded only when it runs. */
export interface CommandEntry {
  readonly path: readonly string[];
  readonly summary: string;
  load(): Promise<Command>;
}

/**
 * Every command the CLI knows. Add new commands here. The modules are imported on demand, so that
 * `controlplane --help` — and any one command — loads only what it needs.
 */
export const COMMANDS: readonly CommandEntry[] = [
  {
    path: ['audit', 'verify'],
    summary: 'check the audit hash chain and name the first broken link',
    load: () => import('./audit.js').then((m) => m.auditVerifyCommand),
  },
  {
    path: ['audit', 'export'],
    summary: 'write audit events as JSON Lines',
    load: () => import('./audit.js').then((m) => m.auditExportCommand),
  },
  {
    path: ['bootstrap'],
    summary: 'create the first admin API key of a deployment (needs database access)',
    load: () => import('./bootstrap.js').then((m) => m.bootstrapCommand),
  },
  {
    path: ['dev'],
    summary: 'run everything in one process with the demo runner (first-run experience)',
    load: () => import('./dev.js').then((m) => m.devCommand),
  },
  {
    path: ['doctor'],
    summary: 'check configuration, certificates, PostgreSQL, Redis and the gateway; say what to fix',
    load: () => import('./doctor.js').then((m) => m.doctorCommand),
  },
  {
    path: ['keys', 'init'],
    summary: 'create the encryption keyring (a key-encryption key, mode 0600)',
    load: () => import('./encryption-keys.js').then((m) => m.keysInitCommand),
  },
  {
    path: ['keys', 'rotate'],
    summary: 'rotate the encryption keys (KEK and/or data keys) and re-encrypt stored values',
    load: () => import('./encryption-keys.js').then((m) => m.keysRotateCommand),
  },
  {
    path: ['keys', 'status'],
    summary: 'show the encryption keys and the last rotation (--verify reads every stored value)',
    load: () => import('./encryption-keys.js').then((m) => m.keysStatusCommand),
  },
  {
    path: ['job-types', 'put'],
    summary: 'set a job type contract: input/output JSON Schema, runner pool (signed)',
    load: () => import('./job-types.js').then((m) => m.jobTypesPutCommand),
  },
  {
    path: ['job-types', 'list'],
    summary: 'list job type contracts',
    load: () => import('./job-types.js').then((m) => m.jobTypesListCommand),
  },
  {
    path: ['schedules', 'create'],
    summary: 'create a schedule: cron with a time zone, or an interval (signed)',
    load: () => import('./schedules.js').then((m) => m.schedulesCreateCommand),
  },
  {
    path: ['schedules', 'list'],
    summary: 'list schedules',
    load: () => import('./schedules.js').then((m) => m.schedulesListCommand),
  },
  {
    path: ['schedules', 'get'],
    summary: 'show a schedule',
    load: () => import('./schedules.js').then((m) => m.schedulesGetCommand),
  },
  {
    path: ['schedules', 'pause'],
    summary: 'pause a schedule (signed)',
    load: () => import('./schedules.js').then((m) => m.schedulesPauseCommand),
  },
  {
    path: ['schedules', 'resume'],
    summary: 'resume a schedule (signed)',
    load: () => import('./schedules.js').then((m) => m.schedulesResumeCommand),
  },
  {
    path: ['schedules', 'delete'],
    summary: 'delete a schedule (signed)',
    load: () => import('./schedules.js').then((m) => m.schedulesDeleteCommand),
  },
  {
    path: ['schedules', 'trigger'],
    summary: "fire a schedule's job now (signed)",
    load: () => import('./schedules.js').then((m) => m.schedulesTriggerCommand),
  },
  { path: ['jobs', 'submit'], summary: 'submit a job', load: () => import('./jobs.js').then((m) => m.jobsSubmitCommand) },
  {
    path: ['jobs', 'get'],
    summary: 'show a job, its status and its result',
    load: () => import('./jobs.js').then((m) => m.jobsGetCommand),
  },
  { path: ['jobs', 'list'], summary: 'list jobs (newest first)', load: () => import('./jobs.js').then((m) => m.jobsListCommand) },
  { path: ['jobs', 'cancel'], summary: 'cancel a job (signed)', load: () => import('./jobs.js').then((m) => m.jobsCancelCommand) },
  {
    path: ['jobs', 'retry'],
    summary: 'run a failed or cancelled job again',
    load: () => import('./jobs.js').then((m) => m.jobsRetryCommand),
  },
  {
    path: ['jobs', 'watch'],
    summary: "stream a job's events until it finishes",
    load: () => import('./jobs.js').then((m) => m.jobsWatchCommand),
  },
  {
    path: ['keys', 'create'],
    summary: 'create an API key (signed; shown once)',
    load: () => import('./keys.js').then((m) => m.keysCreateCommand),
  },
  { path: ['keys', 'list'], summary: 'list API keys of the tenant', load: () => import('./keys.js').then((m) => m.keysListCommand) },
  { path: ['keys', 'revoke'], summary: 'revoke an API key (signed)', load: () => import('./keys.js').then((m) => m.keysRevokeCommand) },
  {
    path: ['pki', 'init'],
    summary: 'create the built-in CA and service certificates for mTLS',
    load: () => import('./pki.js').then((m) => m.pkiInitCommand),
  },
  {
    path: ['runner', 'enroll'],
    summary: 'enrol this machine as a runner with a join token',
    load: () => import('./runner.js').then((m) => m.runnerEnrollCommand),
  },
  {
    path: ['runner', 'start'],
    summary: 'run a runner until SIGTERM/SIGINT (then drain and exit 0)',
    load: () => import('./runner.js').then((m) => m.runnerStartCommand),
  },
  {
    path: ['runner', 'init'],
    summary: 'scaffold a new runner project with one example handler and a test',
    load: () => import('./runner.js').then((m) => m.runnerInitCommand),
  },
  {
    path: ['runner-tokens', 'create'],
    summary: 'create a single-use join token for a runner (signed)',
    load: () => import('./runners.js').then((m) => m.runnerTokensCreateCommand),
  },
  { path: ['runners', 'list'], summary: "list the tenant's runners", load: () => import('./runners.js').then((m) => m.runnersListCommand) },
  {
    path: ['runners', 'revoke'],
    summary: 'revoke a runner (signed)',
    load: () => import('./runners.js').then((m) => m.runnersRevokeCommand),
  },
  {
    path: ['gateway'],
    summary: 'run the gateway service from a config file (production)',
    load: () => import('./services.js').then((m) => m.gatewayCommand),
  },
  {
    path: ['jobforge'],
    summary: 'run the jobforge service from a config file (production)',
    load: () => import('./services.js').then((m) => m.jobforgeCommand),
  },
  {
    path: ['truthcore'],
    summary: 'run the truthcore service from a config file (production)',
    load: () => import('./services.js').then((m) => m.truthcoreCommand),
  },
];
