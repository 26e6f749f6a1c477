import {
  AppError,
  CoalescedSubmissionsResponse,
  MAX_COALESCED_ITEM_BYTES,
  MAX_COALESCED_SUBMISSIONS,
  type CoalescedAnswer,
  type CoalescedSubmission,
} from '@controlplane/contracts';
import { CORRELATION_HEADER, type Logger } from '@controlplane/platform';
import { GroupCommit } from '../storage/index.js';
import type { Upstream, UpstreamAnswer } from './upstream.js';

/** JobForge's route for coalesced submissions (contracts/service-protocol.ts). */
export const COALESCED_SUBMISSIONS_PATH = '/v1/jobs/submissions';

/**
 * Single submissions that reach this gateway together travel to JobForge as one message: while
 * a message is on its way, the submissions arriving meanwhile gather and leave together as the
 * next one (the group commit's rule: a submission at a quiet moment leaves at once, on its own,
 * and never waits for company). JobForge submits, answers and audits every item on its own, so
 * each caller still gets its own answer — and its own error envelope — exactly as if it had been
 * forwarded alone; the per-exchange costs (TLS records, HTTP parsing, routing, a socket) are paid
 * once per message instead of once per job.
 *
 * If the message itself fails (JobForge unreachable, the breaker open, a timeout), every caller
 * in it gets the same retryable error a lone call would have got; whether a job was written
 * before the failure is then unknown to the caller, as for a lone call, and resubmitting the same
 * job id is answered idempotently — no accepted job is lost or doubled.
 */
export class SubmissionCoalescer {
  readonly #group: GroupCommit<CoalescedSubmission, CoalescedAnswer>;
  #messages = 0;
  #submissions = 0;

  constructor(
    private readonly upstream: Upstream,
    logger: Logger,
    options: { maxInFlight?: number } = {},
  ) {
    this.#group = new GroupCommit({
      maxBatch: MAX_COALESCED_SUBMISSIONS,
      // Messages on their way at once: more keep the per-message wait short when JobForge is
      // slow to answer one; each holds one connection of the upstream's bulkhead.
      maxInFlight: options.maxInFlight ?? 4,
      commit: async (items) => {
        this.#messages += 1;
        this.#submissions += items.length;
        const res = await upstream.call({
          method: 'POST',
          path: COALESCED_SUBMISSIONS_PATH,
          body: { items },
          headers: { [CORRELATION_HEADER]: items[0]!.correlationId },
        });
        const parsed = CoalescedSubmissionsResponse.safeParse(res.body);
        if (!parsed.success || parsed.data.answers.length !== items.length) {
          logger.error({ upstream: upstream.name, items: items.length }, 'coalesced submissions answered out of contract');
          throw new AppError('INTERNAL');
        }
        return parsed.data.answers;
      },
    });
  }

  /** Messages sent and the submissions they carried (their ratio: how much coalescing saves). */
  get counts(): { messages: number; submissions: number } {
    return { messages: this.#messages, submissions: this.#submissions };
  }

  /** Whether a submission of this size (bytes of its body) may travel with others. */
  static fits(bodyBytes: number | undefined): boolean {
    return bodyBytes !== undefined && bodyBytes <= MAX_COALESCED_ITEM_BYTES;
  }

  /** Submits one job; answers as the single route would (a 2xx answer, or its error thrown). */
  async submit(item: CoalescedSubmission): Promise<UpstreamAnswer> {
    return this.upstream.settle(await this.#group.submit(item));
  }
}
