import type { Command } from '../command.js';
import { pkiInitCommand } from './pki.js';
import { runnerEnrollCommand, runnerInitCommand, runnerStartCommand } from './runner.js';

/** Every command the CLI knows. Add new commands here. */
export const COMMANDS: readonly Command[] = [
  pkiInitCommand,
  runnerEnrollCommand,
  runnerStartCommand,
  runnerInitCommand,
];
