import { sqlFolder } from '../storage/index.js';
import { JOB_STATE_MACROS } from './job-states.js';

/** JobForge's statements (packages/server/sql/jobforge), with job statuses from the state table. */
export const jobforgeSql = sqlFolder('jobforge', JOB_STATE_MACROS);
