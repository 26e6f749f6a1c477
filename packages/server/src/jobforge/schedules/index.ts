export { Scheduler, type SchedulerOptions } from './scheduler.js';
export { nextSlot, slotJobId, type ScheduleRule } from './slots.js';
