// For the other folders of the server package only (not exported from the package): the pieces of
// field encryption that the stores of jobs, results and assertions share.
export { assertOwnKeyPool } from './data-key-store.js';
export { ASSERTION_OBJECT_FIELD, FAILURE_REPORT_SLOTS, hasSealedSlot } from './encrypted-fields.js';
