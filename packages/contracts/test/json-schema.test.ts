import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONTRACT_SCHEMAS, allContractJsonSchemas } from '@controlplane/contracts';

const dir = fileURLToPath(new URL('../json-schema/', import.meta.url));

describe('committed JSON Schemas', () => {
  const generated = allContractJsonSchemas();

  it('exist for every contract and nothing else', () => {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace(/\.json$/, ''))
      .sort();
    expect(files).toEqual(Object.keys(CONTRACT_SCHEMAS).sort());
  });

  it.each(Object.keys(CONTRACT_SCHEMAS))('%s matches the Zod source (run `npm run schemas:export` after changing a contract)', (name) => {
    const committed = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as unknown;
    expect(committed).toEqual(generated[name as keyof typeof generated]);
  });

  it('marks fields with defaults as optional for clients', () => {
    const req = generated.JobRequest as { required: string[] };
    expect(req.required).toEqual(expect.arrayContaining(['id', 'type', 'payload', 'metadata']));
    expect(req.required).not.toContain('priority');
    expect(req.required).not.toContain('timeoutMs');
  });
});
