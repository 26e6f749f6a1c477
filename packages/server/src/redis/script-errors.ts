import { InternalError } from '@controlplane/contracts';

/**
 * Error codes returned by the Lua scripts in packages/server/lua (BullMQ's convention): a script
 * that fails returns one small negative integer instead of its normal reply. The numbers are part
 * of the scripts' contract; add new codes at the end and never reuse one.
 */
export enum ScriptErrorCode {
  /** An ARGV value is missing, not a number, or out of range. */
  InvalidArgument = -1,
  /** token_bucket: the cost is larger than the bucket's capacity, so it could never be allowed. */
  CostExceedsCapacity = -2,
}

const INTERNAL_CODES = {
  [ScriptErrorCode.InvalidArgument]: 'CP_REDIS_SCRIPT_INVALID_ARGUMENT',
  [ScriptErrorCode.CostExceedsCapacity]: 'CP_REDIS_SCRIPT_COST_EXCEEDS_CAPACITY',
} as const;

/** The internal error for a script's negative reply; `params.reply` keeps the number. */
export function scriptError(script: string, reply: number): InternalError {
  const code = INTERNAL_CODES[reply as ScriptErrorCode] ?? 'CP_REDIS_SCRIPT_FAILED';
  return new InternalError(code, { params: { script, reply } });
}
