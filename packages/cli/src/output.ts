import type { CommandContext } from './command.js';
import { boolFlag } from './flags.js';

export type Cell = string | number | boolean | null | undefined;

/** A plain-text table: a header row, then one row per item, columns padded to their widest cell. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  const text = (c: Cell) => (c === null || c === undefined || c === '' ? '-' : String(c));
  const all = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map(text))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return (
    all
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** `key  value` lines for one object. */
export function fields(pairs: ReadonlyArray<readonly [string, Cell]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v === null || v === undefined || v === '' ? '-' : String(v)}`).join('\n') + '\n';
}

export function wantsJson(ctx: CommandContext): boolean {
  return boolFlag(ctx, 'json');
}

/** Writes `value` as JSON with --json, else the human form. */
export function print(ctx: CommandContext, value: unknown, human: () => string): void {
  ctx.stdout.write(wantsJson(ctx) ? JSON.stringify(value, null, 2) + '\n' : human());
}

/** A short, one-line JSON rendering of a value for tables. */
export function brief(value: unknown, max = 60): string {
  if (value === undefined) return '';
  const s = JSON.stringify(value) ?? '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (Number.isNaN(s)) return iso;
  if (s < 0) return `in ${duration(-s)}`;
  return `${duration(s)} ago`;
}

function duration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
