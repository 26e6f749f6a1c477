// Writes packages/contracts/json-schema/<Contract>.json from the Zod sources.
// A test fails when the committed files drift from what this produces.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { allContractJsonSchemas } from '../json-schemas.js';

const dir = fileURLToPath(new URL('../../json-schema/', import.meta.url));
mkdirSync(dir, { recursive: true });
for (const [name, schema] of Object.entries(allContractJsonSchemas())) {
  writeFileSync(`${dir}${name}.json`, JSON.stringify(schema, null, 2) + '\n');
}
console.log(`wrote ${Object.keys(allContractJsonSchemas()).length} JSON Schemas to ${dir}`);
