import { CliError, EXIT, type CommandContext } from './command.js';

export function stringFlag(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function requiredFlag(ctx: CommandContext, name: string): string {
  const v = stringFlag(ctx, name);
  if (v === undefined || v === '') throw new CliError(`--${name} is required`, EXIT.USAGE);
  return v;
}

export function boolFlag(ctx: CommandContext, name: string): boolean {
  return ctx.values[name] === true;
}

export function intFlag(ctx: CommandContext, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = stringFlag(ctx, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`--${name} must be an integer between ${min} and ${max}`, EXIT.USAGE);
  return n;
}

export function listFlag(ctx: CommandContext, name: string): string[] | undefined {
  const v = ctx.values[name];
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
  return items
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}
