import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { AppError, type ErrorDetail, pointerToPath } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';
import { jobforgeSql as sql } from './sql.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

export interface JobTypeContract {
  tenantId: string;
  type: string;
  inputSchema: Record<string, unknown> | null;
  outputSchema: Record<string, unknown> | null;
  /** The runner pool that serves this type. */
  pool: string;
  /** How many jobs of one concurrency key may hold a lease at once (null: 1). */
  concurrencyLimit: number | null;
  version: number;
  updatedAt: Date;
}

interface Compiled {
  contract: JobTypeContract;
  input?: ValidateFunction | undefined;
  output?: ValidateFunction | undefined;
}

export const DEFAULT_POOL = 'default';
const CONTRACT_CACHE_MS = 2_000;

/**
 * Job-type contracts: JSON Schemas for a type's input and output and the pool that serves it.
 * Schemas are compiled once per version and cached; a changed contract (new version) recompiles.
 */
export class JobTypeRegistry {
  readonly #ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: true });
  readonly #cache = new Map<string, Compiled>();

  constructor() {
    addFormats(this.#ajv);
  }

  /** Throws VALIDATION_FAILED if a schema itself is not a valid JSON Schema. */
  checkSchema(schema: Record<string, unknown>, field: string): void {
    try {
      this.#ajv.compile(schema);
    } catch (err) {
      throw new AppError('VALIDATION_FAILED', {
        cause: err,
        details: [{ path: [field], message: `is not a valid JSON Schema: ${(err as Error).message.slice(0, 200)}` }],
      });
    }
  }

  async put(
    q: Sql,
    c: {
      tenantId: string;
      type: string;
      inputSchema: Record<string, unknown> | null;
      outputSchema: Record<string, unknown> | null;
      pool: string;
      concurrencyLimit?: number | null | undefined;
    },
  ): Promise<JobTypeContract> {
    if (c.inputSchema) this.checkSchema(c.inputSchema, 'inputSchema');
    if (c.outputSchema) this.checkSchema(c.outputSchema, 'outputSchema');
    const res = await sql('job_type_put').run<RawContract>(q, {
      tenant_id: c.tenantId,
      type: c.type,
      input_schema: c.inputSchema,
      output_schema: c.outputSchema,
      pool: c.pool,
      concurrency_limit: c.concurrencyLimit ?? null,
    });
    const contract = fromRaw(res.rows[0]!);
    this.#recent.delete(`${c.tenantId}\u0000${c.type}`);
    return contract;
  }

  async list(q: Sql, tenantId: string): Promise<JobTypeContract[]> {
    const res = await sql('job_type_list').run<RawContract>(q, { tenant_id: tenantId });
    return res.rows.map(fromRaw);
  }

  async get(q: Sql, tenantId: string, type: string): Promise<JobTypeContract | undefined> {
    const res = await sql('job_type_get').run<RawContract>(q, { tenant_id: tenantId, type });
    return res.rows[0] ? fromRaw(res.rows[0]) : undefined;
  }

  /** Contracts for several types at once (missing types have no contract: default pool, no schema). */
  async getMany(q: Sql, tenantId: string, types: readonly string[]): Promise<Map<string, JobTypeContract>> {
    const res = await sql('job_type_get_many').run<RawContract>(q, { tenant_id: tenantId, types: [...new Set(types)] });
    return new Map(res.rows.map((r) => [r.type, fromRaw(r)]));
  }

  readonly #recent = new Map<string, { at: number; contract: JobTypeContract | undefined }>();

  /**
   * getMany with a short-lived cache: contracts change rarely and are read on every submission
   * and completion. A change made through this registry is seen at once in this process, and
   * within CACHE_MS in other replicas.
   */
  async getManyCached(q: Sql, tenantId: string, types: readonly string[]): Promise<Map<string, JobTypeContract>> {
    const now = Date.now();
    const out = new Map<string, JobTypeContract>();
    const missing: string[] = [];
    for (const t of new Set(types)) {
      const hit = this.#recent.get(`${tenantId}\u0000${t}`);
      if (hit && now - hit.at < CONTRACT_CACHE_MS) {
        if (hit.contract) out.set(t, hit.contract);
      } else missing.push(t);
    }
    if (missing.length > 0) {
      const fetched = await this.getMany(q, tenantId, missing);
      if (this.#recent.size > 10_000) this.#recent.clear();
      for (const t of missing) {
        const c = fetched.get(t);
        this.#recent.set(`${tenantId}\u0000${t}`, { at: now, contract: c });
        if (c) out.set(t, c);
      }
    }
    return out;
  }

  validateInput(contract: JobTypeContract | undefined, data: unknown, pathPrefix: readonly string[]): void {
    const v = contract && this.#compiled(contract).input;
    if (v && !v(data)) throw schemaMismatch(contract.type, v, pathPrefix);
  }

  /** Returns the list of problems (empty when valid) so a completion can be turned into a failure. */
  outputProblems(contract: JobTypeContract | undefined, data: unknown): ErrorDetail[] {
    const v = contract && this.#compiled(contract).output;
    if (!v || v(data)) return [];
    return detailsOf(v, ['result', 'data']);
  }

  #compiled(contract: JobTypeContract): Compiled {
    const key = `${contract.tenantId}\u0000${contract.type}\u0000${contract.version}`;
    let c = this.#cache.get(key);
    if (!c) {
      c = {
        contract,
        input: contract.inputSchema ? this.#ajv.compile(contract.inputSchema) : undefined,
        output: contract.outputSchema ? this.#ajv.compile(contract.outputSchema) : undefined,
      };
      // Bounded: contracts change rarely, but a tenant must not grow this without limit.
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(key, c);
    }
    return c;
  }
}

interface RawContract {
  tenant_id: string;
  type: string;
  input_schema: Record<string, unknown> | null;
  output_schema: Record<string, unknown> | null;
  pool: string;
  concurrency_limit: number | null;
  version: number;
  updated_at: Date;
}

function fromRaw(r: RawContract): JobTypeContract {
  return {
    tenantId: r.tenant_id,
    type: r.type,
    inputSchema: r.input_schema,
    outputSchema: r.output_schema,
    pool: r.pool,
    concurrencyLimit: r.concurrency_limit,
    version: r.version,
    updatedAt: r.updated_at,
  };
}

function detailsOf(v: ValidateFunction, prefix: readonly string[]): ErrorDetail[] {
  return (v.errors ?? []).slice(0, 50).map((e) => ({
    path: [...prefix, ...pointerToPath(e.instancePath)],
    message: e.message ?? 'is not valid',
    code: e.keyword,
  }));
}

function schemaMismatch(type: string, v: ValidateFunction, prefix: readonly string[]): AppError {
  return new AppError('SCHEMA_MISMATCH', { params: { jobType: type }, details: detailsOf(v, prefix) });
}
