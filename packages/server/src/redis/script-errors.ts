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

export class RedisScriptError extends Error {
  readonly code: ScriptErrorCode | number;
  constructor(
    readonly script: string,
    code: number,
  ) {
    const known = ScriptErrorCode[code] as string | undefined;
    super(`Redis script ${script} failed with ${known ?? 'unknown code'} (${code})`);
    this.name = 'RedisScriptError';
    this.code = code;
  }
}
