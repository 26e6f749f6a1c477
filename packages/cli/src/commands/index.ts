import type { Command } from '../command.js';
import { auditExportCommand, auditVerifyCommand } from './audit.js';
import { keysInitCommand, keysRotateCommand, keysStatusCommand } from './encryption-keys.js';
import { bootstrapCommand } from './bootstrap.js';
import { devCommand } from './dev.js';
import { doctorCommand } from './doctor.js';
import { jobTypesListCommand, jobTypesPutCommand } from './job-types.js';
import { jobsCancelCommand, jobsGetCommand, jobsListCommand, jobsRetryCommand, jobsSubmitCommand, jobsWatchCommand } from './jobs.js';
import { keysCreateCommand, keysListCommand, keysRevokeCommand } from './keys.js';
import { pkiInitCommand } from './pki.js';
import { runnerEnrollCommand, runnerInitCommand, runnerStartCommand } from './runner.js';
import { runnersListCommand, runnersRevokeCommand, runnerTokensCreateCommand } from './runners.js';
import { gatewayCommand, jobforgeCommand, truthcoreCommand } from './services.js';

/** Every command the CLI knows. Add new commands here. */
export const COMMANDS: readonly Command[] = [
  auditVerifyCommand,
  auditExportCommand,
  keysInitCommand,
  keysRotateCommand,
  keysStatusCommand,
  pkiInitCommand,
  runnerEnrollCommand,
  runnerStartCommand,
  runnerInitCommand,
  devCommand,
  bootstrapCommand,
  doctorCommand,
  gatewayCommand,
  jobforgeCommand,
  truthcoreCommand,
  jobsSubmitCommand,
  jobsGetCommand,
  jobsListCommand,
  jobsCancelCommand,
  jobsRetryCommand,
  jobsWatchCommand,
  keysCreateCommand,
  keysListCommand,
  keysRevokeCommand,
  runnerTokensCreateCommand,
  runnersListCommand,
  runnersRevokeCommand,
  jobTypesPutCommand,
  jobTypesListCommand,
];
