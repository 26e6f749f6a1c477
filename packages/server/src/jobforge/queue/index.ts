export { type QueueBackend, type ClaimRequest } from './queue-backend.js';
export { PostgresQueue } from './postgres-queue.js';
export { RedisQueue, rankOf, type RedisQueueOptions } from './redis-queue.js';
