/* global module */
// BullMQ's sandboxed processor for `npm run bench:user`: the same echo as ControlPlane's demo
// handler, run by BullMQ in its pool of reused child processes.
module.exports = async (job) => job.data;
