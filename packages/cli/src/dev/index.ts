export { describeOutcome, runDemoJobs } from './demo-jobs.js';
export { startRunnerProcess, type RunnerProcess } from './runner-process.js';
