import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { AppError, type ErrorDetail } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

export interface JobTypeContract {
  tenantId: string;
  type: string;
  inputSchema: Record<string, unknown> | null;
  outputSchema: Record<string, unknown> | null;
  /** The runner pool that serves this type. */
  pool: string;
  version: number;
  updatedAt: Date;
}

interface Compiled {
  contract: JobTypeContract;
  input?: ValidateFunction | undefined;
  output?: ValidateFunction | undefined;
}

export const DEFAULT_POOL = 'default';

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
      throw new AppError('VALIDATION_FAILED', { cause: err, details: [{ path: field, message: `is not a valid JSON Schema: ${(err as Error).message.slice(0, 200)}` }] });
    }
  }

  async put(q: Sql, c: { tenantId: string; type: string; inputSchema: Record<string, unknown> | null; outputSchema: Record<string, unknown> | null; pool: string }): Promise<JobTypeContract> {
    if (c.inputSchema) this.checkSchema(c.inputSchema, 'inputSchema');
    if (c.outputSchema) this.checkSchema(c.outputSchema, 'outputSchema');
    const res = await q.query<RawContract>(
      `insert into job_types (tenant_id, type, input_schema, output_schema, pool)
       values ($1, $2, $3, $4, $5)
       on conflict (tenant_id, type) do update set input_schema = excluded.input_schema, output_schema = excluded.output_schema,
              pool = excluded.pool, version = job_types.version + 1, updated_at = now()
       returning tenant_id, type, input_schema, output_schema, pool, version, updated_at`,
      [c.tenantId, c.type, c.inputSchema, c.outputSchema, c.pool],
    );
    return fromRaw(res.rows[0]!);
  }

  async list(q: Sql, tenantId: string): Promise<JobTypeContract[]> {
    const res = await q.query<RawContract>(
      `select tenant_id, type, input_schema, output_schema, pool, version, updated_at from job_types where tenant_id = $1 order by type`,
      [tenantId],
    );
    return res.rows.map(fromRaw);
  }

  async get(q: Sql, tenantId: string, type: string): Promise<JobTypeContract | undefined> {
    const res = await q.query<RawContract>(
      `select tenant_id, type, input_schema, output_schema, pool, version, updated_at from job_types where tenant_id = $1 and type = $2`,
      [tenantId, type],
    );
    return res.rows[0] ? fromRaw(res.rows[0]) : undefined;
  }

  /** Contracts for several types at once (missing types have no contract: default pool, no schema). */
  async getMany(q: Sql, tenantId: string, types: readonly string[]): Promise<Map<string, JobTypeContract>> {
    const res = await q.query<RawContract>(
      `select tenant_id, type, input_schema, output_schema, pool, version, updated_at from job_types where tenant_id = $1 and type = any($2::text[])`,
      [tenantId, [...new Set(types)]],
    );
    return new Map(res.rows.map((r) => [r.type, fromRaw(r)]));
  }

  validateInput(contract: JobTypeContract | undefined, data: unknown, pathPrefix: string): void {
    const v = contract && this.#compiled(contract).input;
    if (v && !v(data)) throw schemaMismatch(contract.type, v, pathPrefix);
  }

  /** Returns the list of problems (empty when valid) so a completion can be turned into a failure. */
  outputProblems(contract: JobTypeContract | undefined, data: unknown): ErrorDetail[] {
    const v = contract && this.#compiled(contract).output;
    if (!v || v(data)) return [];
    return detailsOf(v, 'result.data');
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
  version: number;
  updated_at: Date;
}

function fromRaw(r: RawContract): JobTypeContract {
  return { tenantId: r.tenant_id, type: r.type, inputSchema: r.input_schema, outputSchema: r.output_schema, pool: r.pool, version: r.version, updatedAt: r.updated_at };
}

function detailsOf(v: ValidateFunction, prefix: string): ErrorDetail[] {
  return (v.errors ?? []).slice(0, 50).map((e) => ({
    path: [prefix, ...e.instancePath.split('/').filter(Boolean)].join('.'),
    message: e.message ?? 'is not valid',
    code: e.keyword,
  }));
}

function schemaMismatch(type: string, v: ValidateFunction, prefix: string): AppError {
  return new AppError('SCHEMA_MISMATCH', { params: { jobType: type }, details: detailsOf(v, prefix) });
}
