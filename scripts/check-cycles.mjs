#!/usr/bin/env node
// Fails when any package has an import cycle. Uses madge over the TypeScript sources.
import madge from 'madge';

const res = await madge(
  [
    'packages/contracts/src',
    'packages/platform/src',
    'packages/server/src',
    'packages/runner/src',
    'packages/client/src',
    'packages/cli/src',
  ],
  {
    fileExtensions: ['ts'],
    tsConfig: 'tsconfig.json',
    detectiveOptions: { ts: { skipTypeImports: true }, es6: { skipTypeImports: true } },
  },
);
const cycles = res.circular();
if (cycles.length > 0) {
  console.error(`import cycles found (${cycles.length}):`);
  for (const c of cycles) console.error('  ' + c.join(' -> '));
  process.exit(1);
}
console.log(`no import cycles in ${Object.keys(res.obj()).length} modules`);
