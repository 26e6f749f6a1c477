import { AppError, type JobResponse } from '@controlplane/contracts';
import { withTenant } from '../../storage/index.js';
import { readyEntryOf, toJobResponse, type ReadyEntry } from '../job-row.js';
import { describeFromStates, transition } from '../job-states.js';
import type { JobFlows } from './flows.js';
import { jobEvent, type JobTransitions } from './transitions.js';

/** What an operator does to a job: cancel it, or re-drive a failed or cancelled one. */
export class OperatorActions {
  constructor(
    private readonly t: JobTransitions,
    private readonly flows: JobFlows,
  ) {}

  /**
   * Cancels a job: at once while it waits; a running job is marked, its runner learns of it on its
   * next heartbeat and stops the handler, and the job becomes `cancelled` when the runner reports
   * back or its lease runs out. Cancelling a cancelled job answers it as it is.
   */
  async cancel(tenantId: string, id: string): Promise<JobResponse> {
    return withTenant(tenantId, async () => {
      let removed: ReadyEntry | undefined;
      const row = await this.t.o.db.transaction(async (tx) => {
        const row = await this.t.store.getJob(tx, tenantId, id, true);
        if (!row) throw new AppError('JOB_NOT_FOUND', { params: { jobId: id } });
        if (row.status === 'cancelled') return row;
        if (!transition(row.status, 'cancel')) {
          throw new AppError('INVALID_STATE', { params: { resource: 'job', state: row.status, expected: describeFromStates('cancel') } });
        }
        if (row.status === 'running') {
          await this.t.store.requestCancel(tx, tenantId, id);
          return (await this.t.store.getJob(tx, tenantId, id))!;
        }
        removed = readyEntryOf(row);
        return this.t.cancel(tx, row, { by: 'operator' });
      });
      if (removed) {
        await this.t.dequeue([removed]);
        this.t.emit(row, 'job.cancelled');
        await this.flows.settleEnded(tenantId, [row.id]);
      }
      return toJobResponse(row);
    });
  }

  /** Re-drives a failed (dead-lettered) or cancelled job with a fresh retry budget. */
  async retry(tenantId: string, id: string): Promise<JobResponse> {
    return withTenant(tenantId, async () => {
      const row = await this.t.o.db.transaction(async (tx) => {
        const row = await this.t.store.getJob(tx, tenantId, id, true);
        if (!row) throw new AppError('JOB_NOT_FOUND', { params: { jobId: id } });
        if (!transition(row.status, 'redrive')) {
          throw new AppError('INVALID_STATE', { params: { resource: 'job', state: row.status, expected: describeFromStates('redrive') } });
        }
        const next = await this.t.store.moveToQueuedOnRedrive(tx, tenantId, id);
        await this.t.store.appendEvents(tx, [jobEvent(next, 'job.queued', { redrive: true })]);
        return next;
      });
      await this.t.enqueue([readyEntryOf(row)]);
      this.t.emit(row, 'job.queued');
      return toJobResponse(row);
    });
  }
}
