import type { QueueBackend } from '../queue/index.js';
import { JobFlows } from './flows.js';
import { JobQueries } from './job-queries.js';
import { JobMaintenance } from './maintenance.js';
import { OperatorActions } from './operator-actions.js';
import { RunnerProtocol } from './runner-protocol.js';
import { JobSubmission } from './submission.js';
import { JobTransitions, type JobLifecycleOptions } from './transitions.js';

/**
 * The job lifecycle, split by who acts: clients submit, anyone with access reads, operators cancel
 * and re-drive, runners claim and report, and JobForge itself reaps and expires. All of them move
 * jobs through the one state table (job-states.ts) with the shared transitions (transitions.ts).
 */
export class JobLifecycle {
  readonly submission: JobSubmission;
  readonly queries: JobQueries;
  readonly operator: OperatorActions;
  readonly runners: RunnerProtocol;
  readonly maintenance: JobMaintenance;
  readonly flows: JobFlows;

  constructor(options: JobLifecycleOptions) {
    const transitions = new JobTransitions(options);
    this.flows = new JobFlows(transitions);
    this.submission = new JobSubmission(transitions, this.flows);
    this.queries = new JobQueries(transitions, this.flows);
    this.operator = new OperatorActions(transitions, this.flows);
    this.runners = new RunnerProtocol(transitions, this.flows);
    this.maintenance = new JobMaintenance(transitions, this.flows);
  }

  get queue(): QueueBackend {
    return this.maintenance.queue;
  }
}

export { checkJobQuota, runningJobHeadroom, payloadBytesOf } from './quota-checks.js';
export type { ClaimOptions, CompletionItem, OutcomeAck, OutcomeResult, RunnerIdentity } from './runner-protocol.js';
export { SERVICE_NAME, type FailureInput, type JobEventListener, type JobLifecycleOptions, type ResultProof } from './transitions.js';
export type { JobSubmission, JobQueries, OperatorActions, RunnerProtocol, JobMaintenance, JobFlows };
