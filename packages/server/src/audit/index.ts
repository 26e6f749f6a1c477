export { type AuditEvent, type AuditSink } from './audit-event.js';
