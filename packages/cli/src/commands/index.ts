import type { Command } from '../command.js';
import { auditExportCommand, auditVerifyCommand } from './audit.js';
import { pkiInitCommand } from './pki.js';
import { runnerEnrollCommand, runnerInitCommand, runnerStartCommand } from './runner.js';

/** Every command the CLI knows. Add new commands here. */
export const COMMANDS: readonly Command[] = [
  auditVerifyCommand, auditExportCommand,
  pkiInitCommand,
  runnerEnrollCommand,
  runnerStartCommand,
  runnerInitCommand,
];
