import type { Command } from '../command.js';

/** Every command the CLI knows. Add new commands here. */
export const COMMANDS: readonly Command[] = [];
