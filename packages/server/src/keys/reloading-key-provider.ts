import { isInternalError } from '@controlplane/contracts';
import { type KeyProvider, type KeyWrapContext, type LocalFileKeyProvider, type WrappedKeyMaterial } from '@controlplane/platform';

export interface ReloadingKeyProviderOptions {
  /** Re-read the keyring file at most this often when meeting an unknown KEK. Default 1 s. */
  minReloadIntervalMs?: number;
  /** Re-read it at least this often before wrapping, so new data keys use a newly added KEK. Default 5 min. */
  refreshIntervalMs?: number;
  clock?: () => number;
}

/**
 * A keyring-file KEK provider for long-running services. `controlplane keys rotate --kek` adds a
 * KEK to the shared keyring file and re-wraps every data key under it while the services run; a
 * service that kept the file it loaded at start would fail to unwrap those records once its key
 * cache expires. This one re-reads the file when it meets a KEK id it does not know (at most once
 * per `minReloadIntervalMs`, so a record naming a truly missing KEK cannot make it re-read the
 * file on every request), and now and then before wrapping.
 */
export class ReloadingKeyProvider implements KeyProvider {
  readonly #inner: LocalFileKeyProvider;
  readonly #minIntervalMs: number;
  readonly #refreshMs: number;
  readonly #clock: () => number;
  #lastReload: number;
  /** When a miss last made it re-read the file; the throttle applies to these only. */
  #lastMissReload = -Infinity;
  #reloading: Promise<void> | undefined;

  constructor(inner: LocalFileKeyProvider, options: ReloadingKeyProviderOptions = {}) {
    this.#inner = inner;
    this.#minIntervalMs = options.minReloadIntervalMs ?? 1_000;
    this.#refreshMs = options.refreshIntervalMs ?? 5 * 60_000;
    this.#clock = options.clock ?? Date.now;
    this.#lastReload = this.#clock();
  }

  get path(): string {
    return this.#inner.path;
  }

  currentKekId(): string {
    return this.#inner.currentKekId();
  }

  async wrap(dataKey: Buffer, context: KeyWrapContext): Promise<WrappedKeyMaterial> {
    if (this.#clock() - this.#lastReload >= this.#refreshMs) await this.#reload().catch(() => undefined);
    return this.#inner.wrap(dataKey, context);
  }

  async unwrap(kekId: string, wrapped: Buffer, context: KeyWrapContext): Promise<Buffer> {
    try {
      return await this.#inner.unwrap(kekId, wrapped, context);
    } catch (err) {
      if (!isInternalError(err, 'CP_KEYRING_KEK_NOT_FOUND')) throw err;
      if (!this.#reloading && this.#clock() - this.#lastMissReload < this.#minIntervalMs) throw err;
      this.#lastMissReload = this.#clock();
      // A refused file (bad mode, bad JSON) keeps the old keyring; the original error says more.
      await this.#reload().catch(() => undefined);
      return this.#inner.unwrap(kekId, wrapped, context);
    }
  }

  #reload(): Promise<void> {
    // Concurrent misses share one read of the file.
    this.#reloading ??= this.#inner.reload().finally(() => {
      this.#lastReload = this.#clock();
      this.#reloading = undefined;
    });
    return this.#reloading;
  }
}
