#!/usr/bin/env node
// After tsc: replace dist/util/zod.js, yaml.js and commander.js (re-exports of the names ferry uses from
// each package) each with one module holding what those names need (zod's tree-shaken). src/util/zod.ts,
// yaml.ts and commander.ts say why (start-up memory and time); the build is deterministic for a given zod,
// yaml, commander and rolldown, all pinned by the lock file.
import { rename } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

for (const name of ['zod', 'yaml', 'commander']) {
  const target = fileURLToPath(new URL(`../dist/util/${name}.js`, import.meta.url));
  const scratch = `${target}.bundling.js`;
  await build({
    input: target,
    platform: 'node',
    logLevel: 'warn',
    output: { file: scratch, format: 'esm', comments: false },
  });
  await rename(scratch, target);
}
