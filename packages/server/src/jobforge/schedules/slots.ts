import { createHash } from 'node:crypto';
import { Cron } from 'croner';
import { ValidationError } from '@controlplane/contracts';

/** When a schedule fires: a cron expression in a time zone, or a fixed interval from an anchor. */
export interface ScheduleRule {
  cron: string | null;
  timezone: string;
  intervalMs: number | null;
  /** The first instant a slot may fall on (an interval counts from here). */
  anchor: Date;
  endAt: Date | null;
}

/**
 * Parses a cron rule (croner: 5 or 6 fields, the time zone by IANA name), refusing a bad
 * expression or zone with the field's path. Daylight-saving changes are croner's: a local time
 * that does not exist fires at the next one that does, and one that occurs twice fires once.
 */
export function parseCron(cron: string, timezone: string): Cron {
  try {
    return new Cron(cron, { timezone, paused: true });
  } catch (err) {
    const message = (err as Error).message.slice(0, 200);
    const path = [/time ?zone/i.test(message) ? 'timezone' : 'cron'];
    throw new ValidationError([{ path, message: `is not valid: ${message}` }]);
  }
}

export function checkTimezone(timezone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new ValidationError([{ path: ['timezone'], message: `is not a known time zone: ${timezone}` }]);
  }
}

/** The first slot strictly after `after`, or null when the rule has none left (past its end). */
export function nextSlot(rule: ScheduleRule, after: Date): Date | null {
  let next: Date | null;
  if (rule.intervalMs !== null) {
    const from = Math.max(after.getTime() + 1, rule.anchor.getTime());
    const k = Math.ceil((from - rule.anchor.getTime()) / rule.intervalMs);
    next = new Date(rule.anchor.getTime() + k * rule.intervalMs);
  } else {
    const start = after.getTime() < rule.anchor.getTime() ? new Date(rule.anchor.getTime() - 1) : after;
    next = parseCron(rule.cron!, rule.timezone).nextRun(start);
  }
  if (!next || (rule.endAt && next > rule.endAt)) return null;
  return next;
}

/**
 * The id of the job a slot fires: a UUID (version 8, from SHA-256) of the tenant, schedule and
 * slot time, so every replica that fires the slot submits the same job and the submission's
 * idempotency makes it one.
 */
export function slotJobId(tenantId: string, scheduleId: string, slot: Date): string {
  const h = createHash('sha256').update(`controlplane-schedule\u0000${tenantId}\u0000${scheduleId}\u0000${slot.toISOString()}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
