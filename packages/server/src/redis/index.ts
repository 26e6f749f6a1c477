export { createRedis, redisClientOptions, type RedisConnection, type RedisOptions, type RedisTlsOptions } from './client.js';
export { escapeKeyPart, RedisKeys, type KeyPart } from './keys.js';
export {
  DEFAULT_LUA_DIR,
  loadLuaScripts,
  LuaScript,
  packagedLuaScript,
  parseLuaHeader,
  type LuaScriptHeader,
  type ScriptArg,
} from './lua-scripts.js';
export { ScriptErrorCode } from './script-errors.js';
export { takeTokens, type TakeTokensOptions, type TakeTokensResult } from './token-bucket.js';
