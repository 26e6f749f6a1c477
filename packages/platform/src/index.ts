export * from './config/index.js';
export * from './logging/index.js';
export * from './pki/index.js';
export * from './tls/index.js';
export * from './crypto/index.js';
export * from './http-client/index.js';
export * from './metrics/index.js';
export * from './tracing/index.js';
