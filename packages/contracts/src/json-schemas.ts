import { z } from 'zod';
import { ErrorBody, ErrorEnvelope } from './error-envelope.js';
import { EvidencePacket } from './evidence.js';
import { HealthCheck } from './health.js';
import { JobEvent, JobRequest, JobResponse, JobResult, JobStatus } from './job.js';
import { RunnerHeartbeat, RunnerRegistrationRequest } from './runner.js';
import { TruthAssertion, TruthQuery, TruthQueryResult } from './truth.js';

/** Every public contract, by the name its JSON Schema is published under. */
export const CONTRACT_SCHEMAS = {
  JobRequest,
  JobStatus,
  JobResult,
  JobResponse,
  JobEvent,
  ErrorEnvelope,
  ErrorBody,
  TruthAssertion,
  TruthQuery,
  TruthQueryResult,
  RunnerRegistrationRequest,
  RunnerHeartbeat,
  HealthCheck,
  EvidencePacket,
} as const;

export type ContractName = keyof typeof CONTRACT_SCHEMAS;

/**
 * JSON Schema (draft 2020-12) of one contract, describing what a client may send: fields with
 * defaults are optional.
 */
export function contractJsonSchema(name: ContractName): Record<string, unknown> {
  const schema = z.toJSONSchema(CONTRACT_SCHEMAS[name], { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
  return { ...schema, $id: `https://controlplane.dev/schemas/${name}.json`, title: name };
}

export function allContractJsonSchemas(): Record<ContractName, Record<string, unknown>> {
  const out = {} as Record<ContractName, Record<string, unknown>>;
  for (const name of Object.keys(CONTRACT_SCHEMAS) as ContractName[]) out[name] = contractJsonSchema(name);
  return out;
}
