import { AppError, type JobResponse } from '@controlplane/contracts';
import { withTenant } from '../../storage/index.js';
import { toJobResponse, type JobRow } from '../job-row.js';
import type { ListJobsFilter, StoredJobEvent } from '../store-records.js';
import type { JobFlows } from './flows.js';
import type { JobTransitions } from './transitions.js';

/** Reads of a tenant's jobs, their events and attempts, each in the tenant's data scope. */
export class JobQueries {
  constructor(
    private readonly t: JobTransitions,
    private readonly flows: JobFlows,
  ) {}

  /** The job, with its flow, parents and children when it is in a flow. */
  async get(tenantId: string, id: string): Promise<JobResponse> {
    const row = await this.getRow(tenantId, id);
    const res = toJobResponse(row);
    const { parents, children } = await withTenant(tenantId, () => this.flows.relatives(this.t.o.db, tenantId, id));
    if (parents.length > 0 || children.length > 0) {
      res.flowId = row.flow_id ?? row.id;
      if (parents.length > 0) res.parents = parents;
      if (children.length > 0) res.children = children;
    }
    return res;
  }

  async getRow(tenantId: string, id: string): Promise<JobRow> {
    return withTenant(tenantId, async () => {
      const row = await this.t.store.getJob(this.t.o.db, tenantId, id);
      if (!row) throw new AppError('JOB_NOT_FOUND', { params: { jobId: id } });
      return row;
    });
  }

  async list(tenantId: string, filter: ListJobsFilter): Promise<JobRow[]> {
    return withTenant(tenantId, () => this.t.store.listJobs(this.t.o.db, tenantId, filter));
  }

  async events(tenantId: string, jobId: string, afterSeq: string): Promise<StoredJobEvent[]> {
    return withTenant(tenantId, () => this.t.store.listEvents(this.t.o.db, tenantId, jobId, afterSeq));
  }

  async attempts(tenantId: string, jobId: string): Promise<Record<string, unknown>[]> {
    return withTenant(tenantId, () => this.t.store.listAttempts(this.t.o.db, tenantId, jobId));
  }
}
