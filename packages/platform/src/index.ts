export * from './pki/index.js';
export * from './tls/index.js';
