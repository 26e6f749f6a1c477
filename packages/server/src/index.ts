export * from './storage/index.js';
export * from './redis/index.js';
export * from './http/index.js';
export * from './jobforge/index.js';
export * from './audit/index.js';
export * from './truthcore/index.js';
export * from './gateway/index.js';
export * from './tenancy/index.js';
