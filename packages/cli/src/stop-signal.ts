/**
 * SIGINT/SIGTERM as an AbortSignal, listened to from construction on so that a signal during
 * start-up is not lost (nor kills the process half-started). A second signal calls `onForce`: the
 * user asked twice, so waiting for a drain is no longer wanted.
 */
// Ctrl-C under `npm start` arrives twice at once: from the terminal to the whole process group and
// again forwarded by npm. Only a signal this long after the first counts as asking twice.
const REPEAT_AFTER_MS = 1_500;

export class StopSignal {
  readonly #controller = new AbortController();
  readonly #handler: (sig: NodeJS.Signals) => void;
  #firstAt = 0;
  received: NodeJS.Signals | undefined;

  constructor(onForce: () => void) {
    this.#handler = (sig) => {
      if (this.#firstAt === 0) {
        this.#firstAt = Date.now();
        this.received = sig;
        this.#controller.abort(new Error(`stopped by ${sig}`));
      } else if (Date.now() - this.#firstAt >= REPEAT_AFTER_MS) {
        onForce();
      }
    };
    process.on('SIGINT', this.#handler);
    process.on('SIGTERM', this.#handler);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get stopped(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Resolves when a signal arrives. */
  wait(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.#controller.signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  dispose(): void {
    process.off('SIGINT', this.#handler);
    process.off('SIGTERM', this.#handler);
  }
}
